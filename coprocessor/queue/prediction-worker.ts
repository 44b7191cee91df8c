import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import {
  processCrashed,
  processExpiry,
  processPrediction,
  type PredictionDeps,
  type PredictionJobData,
  type PredictionOutcome,
} from "../jobs/process-prediction.js";
import type { CoprocessorMetrics } from "../metrics.js";
import type { ConnectionErrorLog } from "./connection-errors.js";
import { EXPIRE_JOB, PREDICT_JOB, retryDelayMs, SETTLE_CRASHED_JOB, type PredictionQueue } from "./prediction-queue.js";

/**
 * How often a job may be found stalled (its worker died, or its lock lapsed) and put back in the queue before
 * BullMQ fails it instead. Running a stalled job again is safe: the chain takes one vote per operator, the worker
 * re-reads the job's status first, and a run still going in this process is joined rather than repeated. A job
 * that goes past it (it keeps taking its worker down) is not left unsettled: it is failed on-chain with
 * EvaluationCrashed by a follow-up queue job.
 */
export const MAX_STALLED_COUNT = 3;

/** BullMQ's reason for a job found stalled more than MAX_STALLED_COUNT times. */
const STALLED_TOO_OFTEN = "job stalled more than allowable limit";

/**
 * Runs the queue's jobs: predictions, scheduled expiries and settlements of crashing jobs. A job whose inputs are
 * bad is settled on-chain as failed and completes normally, so the worker moves on; only transient errors (chain
 * or store unreachable, a thread that died once) throw, and BullMQ retries them with backoff.
 */
export function startPredictionWorker(
  name: string,
  connection: ConnectionOptions,
  deps: PredictionDeps,
  options: {
    concurrency: number;
    logger: Logger;
    /** Where expiries and crash settlements are scheduled, and where a finished job stops counting for its patient. */
    queue: Pick<PredictionQueue, "scheduleExpiry" | "settleCrashed" | "release">;
    metrics?: CoprocessorMetrics;
    /** Attempts before a blob that is still missing is reported on-chain (PMHE_JOB_ATTEMPTS). */
    blobAttempts: number;
    /** Longest wait between attempts after transient failures. */
    maxRetryDelayMs: number;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    /** Logs connection errors once per outage; without it each is logged. */
    connectionErrors?: ConnectionErrorLog;
  },
): Worker<PredictionJobData, PredictionOutcome> {
  const { logger, metrics, queue } = options;

  /** A job's last word: its crash count and its weight on the patient's priority are dropped. */
  const done = async (job: Job<PredictionJobData>, queueId: string): Promise<void> => {
    await Promise.all([deps.crashes?.clear(queueId), queue.release(job.data.patient, queueId)]);
  };

  const predict = async (job: Job<PredictionJobData>): Promise<PredictionOutcome> => {
    const queueId = job.id!;
    // A missing blob may still be uploaded (the upload racing the request); after `blobAttempts` it is reported.
    const finalAttempt = job.attemptsMade + 1 >= options.blobAttempts;
    const jobDeps: PredictionDeps = {
      ...deps,
      scheduleExpiry: (jobId, delayMs) => queue.scheduleExpiry(jobId, queueId, delayMs),
    };
    const outcome = await processPrediction(jobDeps, job.data, { finalAttempt, key: queueId });
    await done(job, queueId);
    return outcome;
  };

  const run = async (job: Job<PredictionJobData>): Promise<PredictionOutcome> => {
    const started = performance.now();
    let outcome: PredictionOutcome;
    switch (job.name) {
      case EXPIRE_JOB:
        outcome = await processExpiry(deps, job.data.jobId);
        break;
      case SETTLE_CRASHED_JOB:
        outcome = await processCrashed(deps, job.data.jobId, `job ${job.data.jobId} took its worker down more than ${MAX_STALLED_COUNT} times`);
        if (job.data.origin) await done(job, job.data.origin);
        break;
      default:
        outcome = await predict(job);
    }
    if (metrics && outcome.outcome !== "skipped") {
      // job.timestamp is when the listener enqueued the job, moments after the request was mined.
      metrics.jobLatency.observe({ outcome: outcome.outcome }, Math.max(0, Date.now() - job.timestamp) / 1000);
      if (outcome.outcome === "failed") metrics.jobFailures.inc({ reason: outcome.reason });
      if (outcome.outcome === "committed") metrics.evaluationSeconds.observe(outcome.evaluationMs / 1000);
    }
    logger.info({ jobId: job.data.jobId, kind: job.name, ...outcome, ms: Math.round(performance.now() - started) }, "prediction job settled");
    return outcome;
  };
  // A job whose lock lapsed while it was still running here (the process frozen or its event loop held up for
  // longer than the lock, Redis away for a moment) is put back in the queue by the stalled-job check and can be
  // handed to this same worker again while the first run is still going. Two runs would both vote: the later vote
  // is a second transaction that reverts with AlreadyVoted (mined, or refused at gas estimation, which costs the
  // nonce manager a nonce it never sends, so every later vote of this process fails). And BullMQ renews locks per
  // job id, so when the first run ends it stops renewing the second run's lock: the job stalls a second time and
  // is failed. So a second run of a job already running in this process waits for the first and returns its
  // outcome, completing the job under the lock it holds.
  const running = new Map<string, Promise<PredictionOutcome>>();
  const worker = new Worker<PredictionJobData, PredictionOutcome>(
    name,
    async (job: Job<PredictionJobData>) => {
      const key = job.id!;
      const earlier = running.get(key);
      if (earlier) {
        logger.warn({ jobId: job.data.jobId }, "job handed out again while still running here (its lock lapsed); waiting for the running attempt");
        return earlier;
      }
      const current = run(job);
      running.set(key, current);
      try {
        return await current;
      } finally {
        if (running.get(key) === current) running.delete(key);
      }
    },
    {
      connection,
      concurrency: options.concurrency,
      maxStalledCount: MAX_STALLED_COUNT,
      settings: {
        // BullMQ calls this for backoff types it does not know itself: ours (RETRY_BACKOFF) is the only one.
        backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade, options.maxRetryDelayMs),
      },
      ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
    },
  );
  worker.on("failed", (job, err) => {
    if (!job) return;
    if (err.message === STALLED_TOO_OFTEN && job.name === PREDICT_JOB) {
      logger.error({ jobId: job.data.jobId, stalled: job.stalledCounter }, "job kept taking its worker down; failing it on-chain with EvaluationCrashed");
      queue.settleCrashed(job.data, job.id!).catch((e: unknown) =>
        logger.error({ jobId: job.data.jobId, err: (e as Error).message }, "could not schedule the settlement of a crashing job"),
      );
      return;
    }
    logger.warn({ jobId: job.data.jobId, kind: job.name, attemptsMade: job.attemptsMade, err: err.message }, "prediction job attempt failed");
  });
  worker.on("error", (err) => (options.connectionErrors ? options.connectionErrors.error(err, "worker") : logger.error({ err: err.message }, "worker error")));
  return worker;
}
