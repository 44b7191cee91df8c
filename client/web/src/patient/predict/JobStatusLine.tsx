import type { JobState } from "../../../../job-status.js";
import { dateTime, seconds } from "../../app/format.js";

/** A job's state as last read: from the coprocessor's API (with its Retry-After) or the chain. */
export function JobStatusLine({ state }: { state: JobState | undefined }) {
  if (!state) return <span data-testid="job-status" data-status="unknown">Asking for the job's status…</span>;
  const from = state.source === "api" ? "coprocessor API" : "the chain (the API did not answer)";
  let text: string;
  switch (state.status) {
    case "Requested":
      text = `Waiting for the coprocessors; next check in ${seconds(state.retryAfterMs)} (deadline ${dateTime(state.deadline)}; from ${from})`;
      break;
    case "Finalized":
      text = `Finalized: the operators agreed on a result (from ${from})`;
      break;
    case "Failed":
      text = `Failed on-chain: ${state.reasonName} (from ${from})`;
      break;
    case "Expired":
      text = `Expired before the operators agreed (from ${from})`;
      break;
  }
  return (
    <span data-testid="job-status" data-status={state.status}>
      {text}
    </span>
  );
}
