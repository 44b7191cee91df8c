import type { JobHistory } from "../../../../protocol/job-history.js";
import AddressText from "./common/AddressText.js";
import ChainPointText from "./common/ChainPointText.js";
import HashText from "./common/HashText.js";

/** The patient's shares of the result (ResultShared): with whom, the hash of the sealed copy, when. Never the value. */
export default function ShareList(props: { job: JobHistory; hospitalName: (address: string) => string | undefined }) {
  const { job, hospitalName } = props;
  return (
    <section className="av-section" aria-labelledby="audit-shares-heading" data-testid="audit-shares">
      <h3 id="audit-shares-heading">Shares</h3>
      {job.shares.length === 0 ? (
        <p className="av-summary-line">The patient has not shared this result with any hospital.</p>
      ) : (
        <ul className="av-vote-list">
          {job.shares.map((s) => (
            <li key={`${s.tx}:${s.logIndex}`} className="av-vote" data-testid="audit-share">
              <span className="av-vote-who">
                shared with <AddressText address={s.hospital} short label={hospitalName(s.hospital) ?? "not a registered hospital"} />
              </span>
              <span className="av-vote-what">
                sealed copy <HashText value={s.sharedHash} short />
              </span>
              <ChainPointText block={s.block} tx={s.tx} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
