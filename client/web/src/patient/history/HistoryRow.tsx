import { useState } from "react";
import type { PastJob } from "../../../../history.js";
import { dateTime, percent, shortHash } from "../../app/format.js";
import { InlineError } from "../common/InlineError.js";
import { EraseRecord } from "../share/EraseRecord.js";
import { ShareResult } from "../share/ShareResult.js";
import type { HistoryEntry } from "./history-cache.js";

export interface HistoryRowProps {
  job: PastJob;
  time: number;
  modelName: string;
  entries: HistoryEntry[];
  erased: boolean;
  /** An intermediate round of a multi-round prediction: its values are not a result. */
  intermediate: boolean;
  onDecrypt(): Promise<void>;
  onErased(): void;
}

function statusText(job: PastJob): string {
  switch (job.status) {
    case "Failed":
      return `Failed: ${job.reasonName ?? job.failureReason}`;
    case "Requested":
      return "Waiting for the coprocessors";
    default:
      return job.status;
  }
}

/** One past job: when, which model, how it ended, its result if decrypted here; decrypt, share, erase. */
export function HistoryRow({ job, time, modelName, entries, erased, intermediate, onDecrypt, onErased }: HistoryRowProps) {
  const [error, setError] = useState<unknown>(undefined);
  const [working, setWorking] = useState(false);
  const single = entries.length === 1 ? entries[0] : undefined;
  return (
    <li className={`history-row${intermediate ? " history-intermediate" : ""}`} data-testid="history-row" data-job-id={job.jobId} data-status={job.status}>
      <div className="history-main">
        <span className="history-date">{time ? dateTime(time) : `block ${job.blockNumber}`}</span>
        <span className="history-model">{modelName}</span>
        <span className={`badge badge-${job.status.toLowerCase()}`}>{statusText(job)}</span>
        {!job.requestedByPatient && <span className="badge">requested by a hospital</span>}
        {erased && <span className="badge">record erased</span>}
      </div>
      <div className="history-result">
        {entries.length > 0 ? (
          <>
            <strong data-testid="history-risk">{single ? percent(single.probability) : `${entries.length} readings: ${entries.map((e) => percent(e.probability)).join(", ")}`}</strong>
            <span className="muted" data-testid="history-votes">
              {job.votes} of {job.quorum} votes{entries.some((e) => e.disputed) ? " · DISPUTED" : ""}
            </span>
          </>
        ) : job.status === "Finalized" && job.decryptable && !intermediate ? (
          <button
            type="button"
            className="small"
            data-testid="history-decrypt"
            disabled={working}
            onClick={() => {
              setWorking(true);
              setError(undefined);
              onDecrypt().catch(setError).finally(() => setWorking(false));
            }}
          >
            {working ? "Decrypting…" : "Decrypt on this device"}
          </button>
        ) : job.status === "Finalized" && !job.decryptable ? (
          <span className="muted">encrypted under other keys ({shortHash(job.keyBundleHash)})</span>
        ) : intermediate ? (
          <span className="muted">an intermediate round of a multi-round prediction: the last round's job holds the result</span>
        ) : null}
      </div>
      {error !== undefined && <InlineError error={error} onDismiss={() => setError(undefined)} />}
      {(single || !erased) && (
        <details className="history-actions">
          <summary>More</summary>
          <p className="muted">
            Job <code title={job.jobId}>{shortHash(job.jobId)}</code> · record <code title={job.recordHash}>{shortHash(job.recordHash)}</code>
          </p>
          {single && job.status === "Finalized" && !single.disputed && <ShareResult jobId={job.jobId} prediction={single} />}
          {!erased && <EraseRecord recordHash={job.recordHash} onErased={onErased} />}
        </details>
      )}
    </li>
  );
}
