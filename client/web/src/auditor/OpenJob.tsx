import type { Hash } from "../../../../protocol/hash.js";
import ErrorNote from "./common/ErrorNote.js";
import HashText from "./common/HashText.js";
import JobDetail from "./JobDetail.js";
import { useJobHistories } from "./useJobHistories.js";

/** The job the auditor searched for or chose: its events only (filtered by its id), or a plain "no such job". */
export default function OpenJob(props: { jobId: Hash; names: ReadonlyMap<string, string> | undefined; onBack: () => void }) {
  const found = useJobHistories(props.jobId);
  const job = found.value?.jobs[0];
  return (
    <>
      <p className="av-scan-line" aria-live="polite" data-testid="audit-scan-range">
        <button type="button" className="pc-button pc-button-quiet" onClick={props.onBack} data-testid="audit-back">
          ← Recent jobs
        </button>{" "}
        {found.value ? `Events read from block ${found.value.fromBlock} to block ${found.value.toBlock}.` : "Reading the job's events…"}{" "}
        <button type="button" className="pc-button pc-button-quiet" onClick={found.reload} disabled={found.status === "loading"}>
          Refresh
        </button>
      </p>
      {found.status === "error" ? <ErrorNote error={found.error} testId="audit-error" /> : null}
      {found.value && !job ? (
        <p className="av-not-found pc-tone-warn" data-testid="audit-not-found" role="status">
          No job <HashText value={props.jobId} /> was requested on this contract between blocks {found.value.fromBlock} and {found.value.toBlock}.
        </p>
      ) : null}
      {job ? <JobDetail job={job} hospitalNames={props.names} /> : found.status === "loading" ? <div className="av-job-placeholder" aria-hidden="true" /> : null}
    </>
  );
}
