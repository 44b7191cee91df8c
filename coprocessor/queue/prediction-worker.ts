import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { processPrediction, type PredictionDeps, type PredictionJobData, type PredictionOutcome } from "../jobs/process-prediction.js";
import type { CoprocessorMetrics } from "../metrics.js";

/**
 * Runs prediction jobs. A job whose inputs are bad is settled on-chain as failed and completes normally, so the
 * worker moves on; only transient errors (chain or store unreachable) throw, and BullMQ retries them with backoff.
 */
export function startPredictionWorker(
  name: string,
  connection: ConnectionOptions,
  deps: PredictionDeps,
  options: { concurrency: number; logger: Logger; metrics?: CoprocessorMetrics; lockDurationMs?: number; stalledIntervalMs?: number },
): Worker<PredictionJobData, PredictionOutcome> {
  const { logger, metrics } = options;
  const worker = new Worker<PredictionJobData, PredictionOutcome>(
    name,
    async (job: Job<PredictionJobData>) => {
      const attempts = job.opts.attempts ?? 1;
      const finalAttempt = job.attemptsMade + 1 >= attempts;
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
    },
    {
      connection,
      concurrency: options.concurrency,
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
