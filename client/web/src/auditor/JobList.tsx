import type { Hash } from "../../../../protocol/hash.js";
import ErrorNote from "./common/ErrorNote.js";
import RecentJobs from "./RecentJobs.js";
import { useJobHistories } from "./useJobHistories.js";

/** Every job of the deployment, rebuilt from events, with the block range read and a refresh. */
export default function JobList(props: { onOpen: (jobId: Hash) => void }) {
  const list = useJobHistories(undefined);
  return (
    <>
      <p className="av-scan-line" aria-live="polite" data-testid="audit-scan-range">
        {list.value ? `Events read from block ${list.value.fromBlock} to block ${list.value.toBlock}.` : "Reading the contract's events…"}{" "}
        <button type="button" className="pc-button pc-button-quiet" onClick={list.reload} disabled={list.status === "loading"}>
          Refresh
        </button>
      </p>
      {list.status === "error" ? <ErrorNote error={list.error} testId="audit-error" /> : null}
      <RecentJobs jobs={list.value?.jobs} loading={list.status === "loading"} onOpen={props.onOpen} />
    </>
  );
}
