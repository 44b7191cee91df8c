import { useState } from "react";
import type { HospitalKeyPair } from "../../../../protocol/result-share.js";
import { useApp } from "../app/context.js";
import AddressText from "../auditor/common/AddressText.js";
import ChainPointText from "../auditor/common/ChainPointText.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import { formatPercent } from "../auditor/common/format.js";
import HashText from "../auditor/common/HashText.js";
import KeyFileImport from "./KeyFileImport.js";
import type { PublishedModelInfo } from "./usePublishedModels.js";
import { useSharedResults } from "./useSharedResults.js";

/**
 * Results patients shared with this hospital: each share fetched, its hash checked against `sharedResultOf`,
 * opened with the hospital's key, and shown as the patient shared it: a probability rounded to two decimals and a
 * class, never a raw decryption.
 */
export default function SharedResults(props: { address: string; registeredKey: string | undefined; models: PublishedModelInfo[] | undefined }) {
  const { config } = useApp();
  const [pair, setPair] = useState<HospitalKeyPair | undefined>(undefined);
  const shared = useSharedResults(props.address, pair?.secretKey);
  const modelName = (modelId: string) => {
    const m = props.models?.find((x) => x.modelId === modelId.toLowerCase());
    return m ? `${m.name} v${m.version}` : undefined;
  };
  const positiveMeans = (modelId: string) => config.models.find((m) => m.id === modelId.toLowerCase())?.positiveMeans;
  const rows = shared.rows;
  return (
    <section className="pc-card" aria-labelledby="hv-shared-heading" data-testid="hospital-shared" aria-busy={shared.status === "loading"}>
      <div className="hv-section-head">
        <h2 id="hv-shared-heading">Results shared with you</h2>
        <button type="button" className="pc-button pc-button-quiet" onClick={shared.reload} disabled={shared.status === "loading"}>
          Refresh
        </button>
      </div>
      <KeyFileImport pair={pair} registeredKey={props.registeredKey} onPair={setPair} />
      <p className="hv-summary" aria-live="polite" data-testid="hospital-shared-summary">
        {rows === undefined
          ? "Reading shares…"
          : rows.length === 0
          ? "No patient has shared a result with you yet."
          : `${rows.length} ${rows.length === 1 ? "job" : "jobs"} shared with you${pair ? "" : ": import your key file to open them"}.`}
      </p>
      {shared.status === "error" ? <ErrorNote error={shared.error} testId="hospital-shared-error" /> : null}
      <ul className="hv-shared-list">
        {rows?.map((row) => {
          const p = row.opened;
          const means = p ? positiveMeans(p.modelId) : undefined;
          return (
            <li
              key={row.jobId}
              className="hv-shared"
              data-testid="hospital-shared-row"
              data-job-id={row.jobId}
              data-state={p ? "opened" : row.error !== undefined ? "error" : row.opening ? "opening" : "sealed"}
            >
              <div className="hv-shared-value">
                {p ? (
                  <>
                    <span className="hv-probability pc-number" data-testid="hospital-shared-probability" data-probability={p.probability}>
                      {formatPercent(p.probability)}
                    </span>
                    <span className="hv-probability-raw pc-number">p = {p.probability.toFixed(2)}</span>
                    <span data-testid="hospital-shared-class" data-class={p.predictedClass}>
                      class {p.predictedClass}
                      {means ? ` (${p.predictedClass === 1 ? means : `not ${means}`})` : ""}
                    </span>
                  </>
                ) : (
                  <span className="hv-sealed">{row.opening ? "Opening…" : row.error !== undefined ? "Not readable" : "Sealed"}</span>
                )}
              </div>
              <dl className="hv-facts hv-shared-facts">
                <dt>Patient</dt>
                <dd data-testid="hospital-shared-patient">
                  <AddressText address={row.patient} short />
                </dd>
                <dt>Model</dt>
                <dd data-testid="hospital-shared-model">{p ? modelName(p.modelId) ?? <HashText value={p.modelId} short /> : "—"}</dd>
                <dt>Job</dt>
                <dd>
                  <a href={`#/auditor?job=${row.jobId}`} aria-label={`Audit job ${row.jobId}`}>
                    <HashText value={row.jobId} short />
                  </a>
                </dd>
                <dt>Shared</dt>
                <dd>
                  <ChainPointText block={row.block} tx={row.tx} />
                </dd>
              </dl>
              {row.error !== undefined ? <ErrorNote error={row.error} testId="hospital-shared-row-error" /> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
