import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { processPrediction, type PredictionDeps, type PredictionJobData, type PredictionOutcome } from "../jobs/process-prediction.js";
import type { CoprocessorMetrics } from "../metrics.js";
import { retryDelayMs } from "./prediction-queue.js";

/**
 * How often a job may be found stalled (its worker died, or its lock lapsed) and put back in the queue before
 * BullMQ fails it instead. A job failed that way is never settled on-chain, and BullMQ's default of 1 loses a job
 * whose worker crashed and whose next run then lost its lock once. Running a stalled job again is safe: the chain
 * takes one vote per operator, the worker re-reads the job's status first, and a run still going in this process
 * is joined rather than repeated.
 */
export const MAX_STALLED_COUNT = 3;

/**
 * Runs prediction jobs. A job whose inputs are bad is settled on-chain as failed and completes normally, so the
 * worker moves on; only transient errors (chain or store unreachable) throw, and BullMQ retries them with backoff.
 */
export function startPredictionWorker(
  name: string,
  connection: ConnectionOptions,
  deps: PredictionDeps,
  options: {
    concurrency: number;
    logger: Logger;
    metrics?: CoprocessorMetrics;
    /** Attempts before a blob that is still missing is reported on-chain (PMHE_JOB_ATTEMPTS). */
    blobAttempts: number;
    /** Longest wait between attempts after transient failures. */
    maxRetryDelayMs: number;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
  },
): Worker<PredictionJobData, PredictionOutcome> {
  const { logger, metrics } = options;
  const run = async (job: Job<PredictionJobData>): Promise<PredictionOutcome> => {
    // A missing blob may still be uploaded (the upload racing the request); after `blobAttempts` it is reported.
    const finalAttempt = job.attemptsMade + 1 >= options.blobAttempts;
    const started = performance.now();
    const outcome = await processPrediction(deps, job.data, finalAttempt);
    if (metrics && outcome.outcome !== "skipped") {
      // job.timestamp is when the listener enqueued the job, moments after the request was mined.
      metrics.jobLatency.observe({ outcome: outcome.outcome }, Math.max(0, Date.now() - job.timestamp) / 1000);
      if (outcome.outcome === "failed") metrics.jobFailures.inc({ reason: outcome.reason });
      if (outcome.outcome === "committed") metrics.evaluationSeconds.observe(outcome.evaluationMs / 1000);
    }
    logger.info({ jobId: job.data.jobId, ...outcome, ms: Math.round(performance.now() - started) }, "prediction job settled");
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
      const { jobId } = job.data;
      const earlier = running.get(jobId);
      if (earlier) {
        logger.warn({ jobId }, "job handed out again while still running here (its lock lapsed); waiting for the running attempt");
        return earlier;
      }
      const current = run(job);
      running.set(jobId, current);
      try {
        return await current;
      } finally {
        if (running.get(jobId) === current) running.delete(jobId);
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
    logger.warn({ jobId: job?.data.jobId, attemptsMade: job?.attemptsMade, err: err.message }, "prediction job attempt failed");
  });
  worker.on("error", (err) => logger.error({ err: err.message }, "worker error"));
  return worker;
}
