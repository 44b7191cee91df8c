import AddressText from "../auditor/common/AddressText.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import { formatRelative, formatTime } from "../auditor/common/format.js";
import StatusBadge from "../auditor/common/StatusBadge.js";
import type { ConsentingPatient } from "./useConsentingPatients.js";

const STATUS_WORDS = { active: "Active", expired: "Expired", revoked: "Revoked" } as const;

/** The patients who consent (or did), with their expiry and whether they may share results with this hospital. */
export default function ConsentList(props: { consents: ConsentingPatient[] | undefined; loading: boolean; error: unknown; onReload: () => void }) {
  const { consents } = props;
  const now = Date.now() / 1000;
  const active = consents?.filter((c) => c.active).length;
  return (
    <section className="pc-card" aria-labelledby="hv-consents-heading" data-testid="hospital-consents" aria-busy={props.loading}>
      <div className="hv-section-head">
        <h2 id="hv-consents-heading">Patients who consent</h2>
        <button type="button" className="pc-button pc-button-quiet" onClick={props.onReload} disabled={props.loading}>
          Refresh
        </button>
      </div>
      <p className="hv-summary" aria-live="polite">
        {consents === undefined
          ? "Reading consents…"
          : consents.length === 0
          ? "No patient has given you a consent yet."
          : `${active} of ${consents.length} consents active now (by the contract's consentOf).`}
      </p>
      {props.error !== undefined ? <ErrorNote error={props.error} testId="hospital-consents-error" /> : null}
      <table className="pc-table">
        <thead>
          <tr>
            <th scope="col">Patient</th>
            <th scope="col">Consent</th>
            <th scope="col">Expires</th>
            <th scope="col">Results may be shared</th>
          </tr>
        </thead>
        <tbody>
          {consents === undefined ? (
            <tr className="pc-placeholder-row" aria-hidden="true">
              <td colSpan={4}>&nbsp;</td>
            </tr>
          ) : (
            consents.map((c) => (
              <tr key={c.patient} data-testid="hospital-consent-row" data-patient={c.patient} data-active={String(c.active)} data-status={c.status}>
                <td data-label="Patient">
                  <span className="pc-cell">
                    <AddressText address={c.patient} short />
                  </span>
                </td>
                <td data-label="Consent">
                  <span className="pc-cell">
                    <StatusBadge status={STATUS_WORDS[c.status]} tone={c.active ? "ok" : "neutral"} testId="hospital-consent-status" />
                  </span>
                </td>
                <td data-label="Expires" className="pc-number" data-testid="hospital-consent-expiry" data-expires-at={c.expiresAt}>
                  <span className="pc-cell">{c.expiresAt === 0 ? "—" : `${formatTime(c.expiresAt)} (${formatRelative(c.expiresAt, now)})`}</span>
                </td>
                <td data-label="Results may be shared" data-testid="hospital-consent-results">
                  <span className="pc-cell">{c.mayReceiveResults ? "Yes" : "No"}</span>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </section>
  );
}
