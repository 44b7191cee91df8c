import { abortableSleep } from "../protocol/abortable-sleep.js";
import { BlobStoreError, type BlobClient } from "../protocol/blob-client.js";
import { JobStatus, type PmheContract } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";
import { PredictionExpiredError, PredictionTimeoutError } from "./errors.js";

/** Where a state was read: the coprocessor's `GET /jobs/:jobId`, or the contract itself when that did not answer. */
export type StateSource = "api" | "chain";

/** A job's state, for a person watching it. */
export type JobState =
  | { status: "Requested"; deadline: number; /** Wait before asking again, ms. */ retryAfterMs: number; source: StateSource }
  | { status: "Finalized"; resultHash: Hash; source: StateSource }
  | { status: "Failed"; reason: number; reasonName: string; source: StateSource }
  | { status: "Expired"; source: StateSource };

export interface JobStatusSources {
  /** The coprocessor's API (the blob store's base URL serves `/jobs/:jobId`). */
  blobs: BlobClient;
  /** The chain, asked when the API does not answer: it is the authority the API itself reads. */
  contract: PmheContract;
  /** Wait between questions when the answer came from the chain (it sends no Retry-After), ms. */
  pollIntervalMs: number;
}

/**
 * A job's state through the coprocessor's API, which reads the chain and says (Retry-After) when to ask again. If the
 * API cannot answer (down, busy, rate-limited, another deployment's), the chain is asked directly: a patient can
 * follow their job with no coprocessor at all. A malformed job id is not retried elsewhere.
 */
export async function jobState(jobId: Hash, sources: JobStatusSources): Promise<JobState> {
  try {
    const answer = await sources.blobs.jobStatus(jobId);
    switch (answer.status) {
      case "Requested":
        return { status: "Requested", deadline: answer.deadline, retryAfterMs: answer.retryAfterMs ?? sources.pollIntervalMs, source: "api" };
      case "Finalized":
        return { status: "Finalized", resultHash: answer.resultHash, source: "api" };
      case "Failed":
        return { status: "Failed", reason: answer.reason, reasonName: answer.reasonName, source: "api" };
      case "Expired":
        return { status: "Expired", source: "api" };
    }
  } catch (err) {
    if (err instanceof BlobStoreError && err.status === 400) throw err;
  }
  const job = await namedContractCall("jobOf", () => sources.contract.jobOf(jobId));
  switch (Number(job.status)) {
    case JobStatus.Finalized:
      return { status: "Finalized", resultHash: job.resultHash.toLowerCase() as Hash, source: "chain" };
    case JobStatus.Failed:
      return { status: "Failed", reason: Number(job.failureReason), reasonName: failureReasonName(Number(job.failureReason)), source: "chain" };
    case JobStatus.Expired:
      return { status: "Expired", source: "chain" };
    default:
      return { status: "Requested", deadline: Number(job.deadline), retryAfterMs: sources.pollIntervalMs, source: "chain" };
  }
}

export interface WatchOptions {
  /** Give up after this long (PredictionTimeoutError; the job stays on-chain). Default 120 s. */
  timeoutMs?: number;
  /** Stops watching (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Told every state read, pending ones included: what a progress view shows. */
  onState?: (state: JobState) => void;
  /** How to wait between questions (tests count the waits instead of spending them). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}


/**
 * Follows a job until it is settled, waiting between questions as long as the API's Retry-After asks; returns the
 * settled state (Finalized, Failed or Expired: the caller decides what a failure means to it). A job still Requested
 * after its deadline by the chain's clock can no longer be settled by any vote: PredictionExpiredError.
 */
export async function watchJob(jobId: Hash, sources: JobStatusSources, options: WatchOptions = {}): Promise<Exclude<JobState, { status: "Requested" }>> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const giveUpAt = Date.now() + timeoutMs;
  const sleep = options.sleep ?? abortableSleep;
  for (;;) {
    options.signal?.throwIfAborted();
    const state = await jobState(jobId, sources);
    options.onState?.(state);
    if (state.status !== "Requested") return state;
    const head = await sources.contract.runner?.provider?.getBlock("latest").catch(() => null);
    if (head && head.timestamp > state.deadline) throw new PredictionExpiredError(jobId, { onChain: false, deadline: state.deadline });
    if (Date.now() >= giveUpAt) throw new PredictionTimeoutError(jobId, timeoutMs);
    await sleep(state.retryAfterMs, options.signal);
  }
}
