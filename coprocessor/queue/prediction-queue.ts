import { Queue, type ConnectionOptions, type DefaultJobOptions } from "bullmq";
import type { Hash } from "../../protocol/hash.js";
import type { PredictionJobData } from "../jobs/process-prediction.js";

export const PREDICT_JOB = "predict";

export function predictionJobOptions(attempts: number): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: "exponential", delay: 1_000 },
    // Finished jobs are settled on-chain; Redis keeps only a bounded tail for inspection.
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 5_000 },
  };
}

/** The queue between the chain listener and the workers. Jobs carry the on-chain job id and nothing else. */
export class PredictionQueue {
  readonly queue: Queue<PredictionJobData>;

  constructor(name: string, connection: ConnectionOptions, attempts: number) {
    this.queue = new Queue<PredictionJobData>(name, { connection, defaultJobOptions: predictionJobOptions(attempts) });
  }

  /** Idempotent: the BullMQ job id is the on-chain job id, so seeing an event twice enqueues it once. */
  async enqueue(jobId: Hash): Promise<void> {
    await this.queue.add(PREDICT_JOB, { jobId }, { jobId });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
