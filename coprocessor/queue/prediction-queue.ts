import { Queue, type ConnectionOptions, type DefaultJobOptions } from "bullmq";
import type { Hash } from "../../protocol/hash.js";
import type { PredictionJobData } from "../jobs/process-prediction.js";

export const PREDICT_JOB = "predict";

/** The backoff strategy of prediction jobs, registered by the worker (`retryDelayMs`). */
export const RETRY_BACKOFF = "capped-exponential";

/**
 * Attempts of a job whose failures are transient (the chain, Redis or the store unreachable). Effectively
 * unbounded: giving up would leave the job unsettled on-chain with nobody to retry it, while retrying ends by
 * itself once the job is settled by other operators or expires on-chain (the worker then skips it). A blob still
 * missing has its own, small budget (PMHE_JOB_ATTEMPTS) before it is reported on-chain as missing.
 */
export const TRANSIENT_ATTEMPTS = 100_000;

/** 1 s, 2 s, 4 s, ... between attempts, never more than `maxMs`. */
export function retryDelayMs(attemptsMade: number, maxMs: number): number {
  return Math.min(maxMs, 1_000 * 2 ** Math.min(30, Math.max(0, attemptsMade - 1)));
}

export function predictionJobOptions(): DefaultJobOptions {
  return {
    attempts: TRANSIENT_ATTEMPTS,
    backoff: { type: RETRY_BACKOFF },
    // Finished jobs are settled on-chain; Redis keeps only a bounded tail for inspection.
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 5_000 },
  };
}

/** The queue between the chain listener and the workers. Jobs carry the on-chain job id and nothing else. */
export class PredictionQueue {
  readonly queue: Queue<PredictionJobData>;

  constructor(name: string, connection: ConnectionOptions) {
    this.queue = new Queue<PredictionJobData>(name, { connection, defaultJobOptions: predictionJobOptions() });
  }

  /** Idempotent: the BullMQ job id is the on-chain job id, so seeing an event twice enqueues it once. */
  async enqueue(jobId: Hash): Promise<void> {
    await this.queue.add(PREDICT_JOB, { jobId }, { jobId });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
