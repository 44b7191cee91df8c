import { useId, useState } from "react";
import type { Hash } from "../../../../../protocol/hash.js";
import type { Prediction } from "../../../../../protocol/model.js";
import { roundProbability } from "../../../../../protocol/result-share.js";
import { percent, shortHash } from "../../app/format.js";
import { useConsents } from "../consents/useConsents.js";
import { InlineError } from "../common/InlineError.js";
import { useAction } from "../common/useAction.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { usePatient } from "../session/PatientSessionContext.js";

/**
 * Shares one finalized prediction with a hospital the patient consented to (with results): the probability rounded
 * to two decimals and the class, sealed to the hospital's registered key. Never the raw decryption.
 */
export function ShareResult({ jobId, prediction }: { jobId: Hash; prediction: Pick<Prediction, "probability" | "predictedClass"> }) {
  const session = usePatient();
  const { consents, refresh } = useConsents(session.address);
  const eligible = consents.state === "known" ? consents.value.filter((c) => c.active && c.mayReceiveResults) : [];
  const [hospital, setHospital] = useState("");
  const chosen = hospital || eligible[0]?.hospital || "";
  const id = useId();
  const share = useAction(async () => {
    if (!session.client) throw new Error("unlock your keys first");
    const done = await session.client.shareResult(jobId, chosen, prediction);
    refresh();
    return done;
  });
  const rounded = roundProbability(prediction.probability);
  return (
    <details className="share" data-testid="share">
      <summary>Share this result with a hospital</summary>
      <p className="hint">
        The hospital receives {percent(rounded)} ({rounded.toFixed(2)}) and the class, sealed to its registered key: never the raw decrypted values,
        which could reveal your secret key.
      </p>
      {consents.state === "known" && eligible.length === 0 && (
        <p>
          No hospital may receive results from you yet. Grant one a consent that covers results on <a href="#/patient/consents">Consents</a>.
        </p>
      )}
      {eligible.length > 0 && (
        <div className="inline-form">
          <div className="field">
            <label htmlFor={id}>Hospital</label>
            <select id={id} data-testid="share-hospital" value={chosen} onChange={(e) => setHospital(e.currentTarget.value)}>
              {eligible.map((c) => (
                <option key={c.hospital} value={c.hospital}>
                  {c.hospitalName ?? c.hospital}
                </option>
              ))}
            </select>
          </div>
          <button type="button" className="primary" data-testid="share-submit" disabled={share.running || !chosen} onClick={() => void share.run()}>
            Share {rounded.toFixed(2)}
          </button>
        </div>
      )}
      {share.running && <WalletPromptLine prompt={session.prompt} busy="Sealing and sharing…" />}
      {share.result && (
        <p className="ok-text" data-testid="share-done">
          Shared, sealed to the hospital's key: <code>{shortHash(share.result.sharedHash)}</code>.
        </p>
      )}
      <InlineError error={share.error} onDismiss={share.clear} testId="share-error" />
    </details>
  );
}
