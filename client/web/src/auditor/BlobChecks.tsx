import { errorView } from "../../../error-view.js";
import { formatBytes } from "./common/format.js";
import HashText from "./common/HashText.js";
import type { BlobCheck } from "./useBlobChecks.js";

const VERDICT_WORDS: Record<BlobCheck["verdict"], string> = {
  checking: "Checking…",
  match: "✓ Matches the chain",
  mismatch: "✗ Tampered: hash differs",
  missing: "✗ Missing from the blob store",
  erased: "Erased by the patient",
  unknown: "No hash on-chain to check",
  error: "Could not check",
};

const TONE: Record<BlobCheck["verdict"], string> = {
  checking: "pending",
  match: "ok",
  mismatch: "bad",
  missing: "bad",
  erased: "neutral",
  unknown: "warn",
  error: "warn",
};

/** Each blob the job names, fetched from the blob store and hashed: what the chain expects, what was found. */
export default function BlobChecks(props: { checks: BlobCheck[]; onRecheck: () => void; hospitalName: (address: string) => string | undefined }) {
  const { checks } = props;
  const bad = checks.filter((c) => c.verdict === "mismatch" || c.verdict === "missing").length;
  const pending = checks.some((c) => c.verdict === "checking");
  return (
    <section className="av-section" aria-labelledby="audit-blobs-heading" data-testid="audit-blob-checks">
      <div className="av-section-head">
        <h3 id="audit-blobs-heading">Blobs against their on-chain hashes</h3>
        <button type="button" className="pc-button pc-button-quiet" onClick={props.onRecheck} disabled={pending}>
          Check again
        </button>
      </div>
      <p className="av-summary-line" data-testid="audit-blob-summary" aria-live="polite">
        {pending
          ? "Fetching and hashing each blob…"
          : bad === 0
          ? `All ${checks.length} blobs checked: none tampered or missing.`
          : `${bad} of ${checks.length} blobs tampered or missing.`}
      </p>
      <ul className="av-blob-list">
        {checks.map((check) => (
          <li key={check.key} className={`av-blob av-blob-${TONE[check.verdict]}`} data-testid="audit-blob-row" data-kind={check.kind} data-verdict={check.verdict}>
            <div className="av-blob-what">
              <span className="av-blob-label">{check.hospital ? `${check.label} for ${props.hospitalName(check.hospital) ?? check.hospital}` : check.label}</span>
              {check.note ? <span className="av-blob-note"> · {check.note}</span> : null}
            </div>
            <dl className="av-blob-facts">
              <dt>On-chain hash</dt>
              <dd>{check.expected ? <HashText value={check.expected} testId="audit-blob-expected" /> : "none"}</dd>
              {check.found && check.verdict === "mismatch" ? (
                <>
                  <dt>Found in the store</dt>
                  <dd>
                    <HashText value={check.found} testId="audit-blob-found" />
                  </dd>
                </>
              ) : null}
              <dt>Size</dt>
              <dd className="pc-number">{check.bytes !== undefined ? formatBytes(check.bytes) : "—"}</dd>
            </dl>
            <p className={`av-blob-verdict pc-tone-${TONE[check.verdict]}`} data-testid="audit-blob-verdict">
              {VERDICT_WORDS[check.verdict]}
              {check.verdict === "error" && check.error !== undefined ? `: ${errorView(check.error).sentence}` : ""}
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
