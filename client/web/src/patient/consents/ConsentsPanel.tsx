import { InlineError } from "../common/InlineError.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { ConsentForm } from "./ConsentForm.js";
import { ConsentRow } from "./ConsentRow.js";
import { useConsents } from "./useConsents.js";
import { useHospitals } from "./useHospitals.js";

/** The hospitals the patient lets request predictions (and receive shared results), with expiry and revocation. */
export function ConsentsPanel() {
  const session = usePatient();
  const { consents, refresh } = useConsents(session.address);
  const hospitals = useHospitals();
  return (
    <div className="consents">
      <h1>Consents</h1>
      <p className="lead">
        A consent lets one hospital request predictions on your encrypted records (it never sees them or the results) until its expiry. Results reach a
        hospital only when you share one, and only if its consent allows it.
      </p>
      <div className="consents-grid">
        <section className="card" aria-labelledby="consents-current">
          <h2 id="consents-current">Your consents</h2>
          {consents.state === "checking" && <p className="status-line">Reading your consents from the chain…</p>}
          {consents.state === "failed" && <InlineError error={consents.error} />}
          {consents.state === "known" &&
            (consents.value.length === 0 ? (
              <p data-testid="consents-empty">You have not given any hospital consent.</p>
            ) : (
              <ul className="consent-list" data-testid="consent-list">
                {consents.value.map((c) => (
                  <ConsentRow key={c.hospital} consent={c} onChanged={refresh} />
                ))}
              </ul>
            ))}
        </section>
        <ConsentForm hospitals={hospitals} onGranted={refresh} />
      </div>
    </div>
  );
}
