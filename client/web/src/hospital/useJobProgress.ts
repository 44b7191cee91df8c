import { useEffect, useState } from "react";
import { JOB_STATUS_NAMES } from "../../../../protocol/contract-errors.js";
import { failureReasonName } from "../../../../protocol/failure-reasons.js";
import type { Hash } from "../../../../protocol/hash.js";
import { useApp } from "../app/context.js";

export interface JobProgress {
  status: (typeof JOB_STATUS_NAMES)[number];
  quorum: number;
  /** Votes the outcome has from operators in office (settled jobs). */
  votes: number;
  reasonName?: string;
}

/** A job the hospital requested, read with `jobOf` every 2 s until it settles (the result itself is the patient's). */
export function useJobProgress(jobId: Hash | undefined): JobProgress | undefined {
  const { contract } = useApp();
  const [progress, setProgress] = useState<JobProgress | undefined>(undefined);
  useEffect(() => {
    setProgress(undefined);
    if (!jobId) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const job = await contract.jobOf(jobId);
        if (stopped) return;
        const status = JOB_STATUS_NAMES[Number(job.status)] ?? "None";
        setProgress({
          status,
          quorum: Number(job.quorum),
          votes: Number(job.votes),
          ...(status === "Failed" ? { reasonName: failureReasonName(Number(job.failureReason)) } : {}),
        });
        if (status !== "Requested" && status !== "None") return;
      } catch {
        // The chain did not answer this time: ask again.
      }
      if (!stopped) timer = setTimeout(() => void poll(), 2_000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [contract, jobId]);
  return progress;
}
