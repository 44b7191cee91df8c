import { useState } from "react";
import type { Hash } from "../../../../protocol/hash.js";
import type { JobHistory } from "../../../../protocol/job-history.js";
import HashText from "./common/HashText.js";
import StatusBadge from "./common/StatusBadge.js";

const PAGE = 20;

/** The deployment's jobs, newest first, each with its status, model and votes; choosing one opens it. */
export default function RecentJobs(props: { jobs: JobHistory[] | undefined; loading: boolean; onOpen: (jobId: Hash) => void }) {
  const [shown, setShown] = useState(PAGE);
  const jobs = props.jobs ? [...props.jobs].reverse() : undefined;
  return (
    <section className="av-section" aria-labelledby="audit-recent-heading" data-testid="audit-recent-jobs" aria-busy={props.loading}>
      <h2 id="audit-recent-heading">Recent jobs</h2>
      {jobs && jobs.length === 0 ? <p className="av-summary-line">No job has been requested on this deployment yet.</p> : null}
      <table className="pc-table av-jobs-table">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Model</th>
            <th scope="col">Votes</th>
            <th scope="col">Requested</th>
          </tr>
        </thead>
        <tbody>
          {jobs === undefined
            ? Array.from({ length: 3 }, (_, i) => (
                <tr key={i} className="pc-placeholder-row" aria-hidden="true">
                  <td colSpan={5}>&nbsp;</td>
                </tr>
              ))
            : jobs.slice(0, shown).map((job) => (
                <tr key={job.jobId} data-testid="audit-recent-job" data-job-id={job.jobId} data-status={job.status}>
                  <td data-label="Job">
                    <span className="pc-cell">
                      <button type="button" className="pc-link-button" onClick={() => props.onOpen(job.jobId)} aria-label={`Open job ${job.jobId}`}>
                        <HashText value={job.jobId} short />
                      </button>
                    </span>
                  </td>
                  <td data-label="Status">
                    <span className="pc-cell">
                      <StatusBadge status={job.status} />
                      {(job.support?.dissenters.length ?? 0) > 0 || job.conflicts.length > 0 ? <StatusBadge status="Disputed" tone="bad" /> : null}
                    </span>
                  </td>
                  <td data-label="Model">
                    <span className="pc-cell">{job.model.name ? `${job.model.name} v${job.model.version}` : "unknown"}</span>
                  </td>
                  <td data-label="Votes" className="pc-number">
                    <span className="pc-cell">
                      {job.votes.length} of quorum {job.quorum}
                    </span>
                  </td>
                  <td data-label="Requested" className="pc-number">
                    <span className="pc-cell">block {job.requested.block}</span>
                  </td>
                </tr>
              ))}
        </tbody>
      </table>
      {jobs && jobs.length > shown ? (
        <button type="button" className="pc-button pc-button-quiet" onClick={() => setShown((n) => n + PAGE)}>
          Show {Math.min(PAGE, jobs.length - shown)} more of {jobs.length} jobs
        </button>
      ) : null}
    </section>
  );
}
