import type { Hash } from "../../../../protocol/hash.js";
import StatusBadge from "../auditor/common/StatusBadge.js";
import { useJobProgress } from "./useJobProgress.js";

/** Where a requested job stands, as the contract reports it (`jobOf`), until it settles. */
export default function JobProgressNote(props: { jobId: Hash }) {
  const progress = useJobProgress(props.jobId);
  if (!progress) return <p className="hv-progress">Reading the job…</p>;
  return (
    <p className="hv-progress" data-testid="hospital-request-status" data-status={progress.status}>
      <StatusBadge status={progress.status} />{" "}
      {progress.status === "Requested"
        ? `waiting for ${progress.quorum} operator ${progress.quorum === 1 ? "vote" : "votes"}…`
        : progress.status === "Finalized"
        ? `${progress.votes} of ${progress.quorum} votes from operators in office${progress.quorum === 1 ? " (quorum 1: one operator decides)" : ""}`
        : progress.status === "Failed"
        ? `${progress.reasonName}`
        : ""}
    </p>
  );
}
