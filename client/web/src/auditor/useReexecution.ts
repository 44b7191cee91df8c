import { useCallback, useEffect, useRef, useState } from "react";
import type { Hash } from "../../../../protocol/hash.js";
import type { JobHistory } from "../../../../protocol/job-history.js";
import type { ReexecutionAnswer } from "../worker/audit-api.js";
import { useAuditWorker } from "./useAuditWorker.js";

export type ReexecutionState =
  | { status: "idle" }
  | { status: "running"; startedAt: number }
  | { status: "done"; answer: ReexecutionAnswer; wallMs: number }
  | { status: "error"; error: unknown };

/**
 * Re-runs a job's evaluation in the audit worker on its verified inputs (`inputs` gives the bytes the blob checks
 * hashed against the chain) and keeps the answer; a new job starts afresh.
 */
export function useReexecution(job: JobHistory, inputs: (hash: Hash | null | undefined) => Uint8Array | undefined) {
  const reexecute = useAuditWorker();
  const [state, setState] = useState<ReexecutionState>({ status: "idle" });
  const current = useRef(job.jobId);
  useEffect(() => {
    current.current = job.jobId;
    setState({ status: "idle" });
  }, [job.jobId]);

  const run = useCallback(async () => {
    const record = inputs(job.recordHash);
    const keyBundle = inputs(job.keyBundleHash);
    const model = inputs(job.model.hash);
    if (!record || !keyBundle || !model || !job.model.hash) return;
    const jobId = job.jobId;
    const startedAt = performance.now();
    setState({ status: "running", startedAt });
    try {
      const answer = await reexecute({
        jobId,
        patient: job.patient,
        recordHash: job.recordHash,
        keyBundleHash: job.keyBundleHash,
        modelHash: job.model.hash,
        record,
        keyBundle,
        model,
      });
      if (current.current === jobId) setState({ status: "done", answer, wallMs: performance.now() - startedAt });
    } catch (error) {
      if (current.current === jobId) setState({ status: "error", error });
    }
  }, [job, inputs, reexecute]);

  return { state, run };
}
