import { Queue, type ConnectionOptions, type DefaultJobOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Hash } from "../../protocol/hash.js";
import type { JobRequest } from "../chain/request-listener.js";
import type { PredictionJobData } from "../jobs/process-prediction.js";

/** Queue job names: a requested prediction, a scheduled expiry, a job given up as crashing to be failed on-chain. */
export const PREDICT_JOB = "predict";
export const EXPIRE_JOB = "expire";
export const SETTLE_CRASHED_JOB = "settle-crashed";

/** The backoff strategy of prediction jobs, registered by the worker (`retryDelayMs`). */
export const RETRY_BACKOFF = "capped-exponential";

/**
 * Attempts of a job whose failures are transient (the chain, Redis or the store unreachable). Effectively
 * unbounded: giving up would leave the job unsettled on-chain with nobody to retry it, while retrying ends by
 * itself once the job is settled by other operators or expires on-chain (the worker then skips it). A blob still
 * missing has its own, small budget (PMHE_JOB_ATTEMPTS) before it is reported on-chain as missing.
 */
export const TRANSIENT_ATTEMPTS = 100_000;

/** BullMQ's largest priority number (the lowest priority); 1 is the highest. */
export const MAX_PRIORITY = 2_097_152;

/** How long a patient's set of pending jobs outlives its last addition: bounds what a lost removal can skew. */
const PENDING_TTL_SECONDS = 7 * 24 * 3600;

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

/**
 * The queue job id of a request: the on-chain job id and the hash of the block it was requested in. On-chain job
 * ids repeat on a chain that was reset (same deployment address, same patient nonces); with the block hash, a
 * request of the new chain is a new queue job instead of one Redis already holds as completed. BullMQ refuses ":".
 */
export function queueJobId(request: Pick<JobRequest, "jobId" | "blockHash">): string {
  return `${request.jobId}-${request.blockHash}`;
}

/**
 * The priority of a patient's next job: one more than the jobs of that patient already pending (waiting, delayed
 * or active). BullMQ serves lower numbers first, so every patient's first pending job comes before any patient's
 * second: a flood from one patient (hundreds of failing or slow jobs) goes behind another patient's single job
 * instead of in front of it, and the flood's own jobs keep their order.
 */
export function fairPriority(pendingOfPatient: number): number {
  return Math.min(MAX_PRIORITY, pendingOfPatient + 1);
}

/**
 * The queue between the chain listener and the workers. Jobs carry the on-chain job id and the patient, nothing
 * else. Beside BullMQ's keys it keeps, per patient, the set of that patient's pending queue jobs, which is what
 * the priorities are computed from.
 */
export class PredictionQueue {
  readonly queue: Queue<PredictionJobData>;

  constructor(readonly name: string, connection: ConnectionOptions) {
    this.queue = new Queue<PredictionJobData>(name, { connection, defaultJobOptions: predictionJobOptions() });
  }

  /** The queue's own ioredis connection (BullMQ types it narrowly; it is an ioredis client). */
  private async redis(): Promise<Redis> {
    return (await this.queue.client) as unknown as Redis;
  }

  private pendingKey(patient: string): string {
    return `pmhe:${this.name}:pending:${patient.toLowerCase()}`;
  }

  /**
   * Enqueues requests (one listener range, in chain order) with fair priorities. Idempotent: a request already in
   * the queue (the range read twice) is neither added nor counted again. Returns how many were new.
   */
  async enqueue(requests: readonly JobRequest[]): Promise<number> {
    if (requests.length === 0) return 0;
    const client = await this.redis();
    const unique = [...new Map(requests.map((r) => [queueJobId(r), r])).values()];
    const existing = await client.pipeline(unique.map((r) => ["exists", this.queue.toKey(queueJobId(r))])).exec();
    const fresh = unique.filter((_, i) => Number(existing?.[i]?.[1] ?? 0) === 0);
    if (fresh.length === 0) return 0;

    const patients = [...new Set(fresh.map((r) => r.patient.toLowerCase()))];
    const counts = await client.pipeline(patients.map((p) => ["scard", this.pendingKey(p)])).exec();
    const pending = new Map(patients.map((p, i) => [p, Number(counts?.[i]?.[1] ?? 0)]));
    const jobs = fresh.map((request) => {
      const patient = request.patient.toLowerCase();
      const count = pending.get(patient)!;
      pending.set(patient, count + 1);
      const data: PredictionJobData = { jobId: request.jobId, patient };
      return { name: PREDICT_JOB, data, opts: { jobId: queueJobId(request), priority: fairPriority(count) } };
    });
    // Counted before they are added: a crash in between leaves a count for a job the re-read range then adds.
    const counting = client.pipeline();
    for (const job of jobs) counting.sadd(this.pendingKey(job.data.patient!), job.opts.jobId).expire(this.pendingKey(job.data.patient!), PENDING_TTL_SECONDS);
    await counting.exec();
    await this.queue.addBulk(jobs);
    return jobs.length;
  }

  /** A patient's queue job is done (settled, skipped or given up): it no longer weighs on their priority. */
  async release(patient: string | undefined, queueId: string): Promise<void> {
    if (!patient) return;
    const client = await this.redis();
    await client.srem(this.pendingKey(patient), queueId);
  }

  /** Pending queue jobs of a patient (for tests and diagnosis). */
  async pendingOf(patient: string): Promise<number> {
    return (await this.redis()).scard(this.pendingKey(patient));
  }

  /** An expiry of `jobId` in `delayMs`, at the highest priority so a flood cannot hold it back. Idempotent per request. */
  async scheduleExpiry(jobId: Hash, queueId: string, delayMs: number): Promise<void> {
    await this.queue.add(EXPIRE_JOB, { jobId }, { jobId: `expire-${queueId}`, delay: Math.max(0, Math.round(delayMs)), priority: 1 });
  }

  /** A job the queue gave up on (stalled too often) still has to be settled on-chain: a job that does that. */
  async settleCrashed(data: PredictionJobData, queueId: string): Promise<void> {
    await this.queue.add(SETTLE_CRASHED_JOB, { ...data, origin: queueId }, { jobId: `crashed-${queueId}`, priority: 1 });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
