import type { PatientConsent } from "../../../../consents.js";
import { connectPmhe } from "../../../../../protocol/chain.js";
import { useApp } from "../../app/context.js";
import { date, shortAddress } from "../../app/format.js";
import { InlineError } from "../common/InlineError.js";
import { useAction } from "../common/useAction.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { revokeConsent } from "./consent-calls.js";

/** One consent as it stands: hospital, status, until when, whether it covers results; revoke. */
export function ConsentRow({ consent, onChanged }: { consent: PatientConsent; onChanged(): void }) {
  const { config } = useApp();
  const session = usePatient();
  const revoke = useAction(async () => {
    await revokeConsent(connectPmhe(config.contractAddress, session.signer), consent.hospital);
    onChanged();
  });
  return (
    <li className="consent-row" data-testid="consent-row" data-hospital={consent.hospital} data-status={consent.status}>
      <div>
        <strong>{consent.hospitalName ?? "Unnamed hospital"}</strong> <code title={consent.hospital}>{shortAddress(consent.hospital)}</code>
        <p className="muted">
          <span className={`badge badge-${consent.status}`} data-testid="consent-status">
            {consent.status}
          </span>{" "}
          {consent.status === "active" && `until ${date(consent.expiresAt)}`}
          {consent.status === "expired" && `since ${date(consent.expiresAt)}`}
          {consent.status !== "revoked" && (consent.mayReceiveResults ? " · may receive shared results" : " · may not receive results")}
        </p>
      </div>
      {consent.active && (
        <button type="button" className="danger small" data-testid="consent-revoke" disabled={revoke.running} onClick={() => void revoke.run()}>
          {revoke.running ? "Revoking…" : "Revoke"}
        </button>
      )}
      <InlineError error={revoke.error} onDismiss={revoke.clear} testId="consent-error" />
    </li>
  );
}
