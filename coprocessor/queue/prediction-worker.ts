import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import { processPrediction, type PredictionDeps, type PredictionJobData, type PredictionOutcome } from "../jobs/process-prediction.js";
import type { CoprocessorMetrics } from "../metrics.js";

/** The engine, with the time of each homomorphic evaluation observed. Everything else passes through untouched. */
function timedEngine(engine: PredictionDeps["engine"], metrics: CoprocessorMetrics): PredictionDeps["engine"] {
  return new Proxy(engine, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (typeof property !== "string" || !property.startsWith("evaluate")) return value.bind(target);
      return (...args: unknown[]) => {
        const end = metrics.evaluationSeconds.startTimer();
        try {
          return value.apply(target, args);
        } finally {
          end();
        }
      };
    },
  });
}

/**
 * Runs prediction jobs. A job whose inputs are bad is settled on-chain as failed and completes normally, so the
 * worker moves on; only transient errors (chain or store unreachable) throw, and BullMQ retries them with backoff.
 */
export function startPredictionWorker(
  name: string,
  connection: ConnectionOptions,
  deps: PredictionDeps,
  options: { concurrency: number; logger: Logger; metrics?: CoprocessorMetrics },
): Worker<PredictionJobData, PredictionOutcome> {
  const { logger, metrics } = options;
  const jobDeps = metrics ? { ...deps, engine: timedEngine(deps.engine, metrics) } : deps;
  const worker = new Worker<PredictionJobData, PredictionOutcome>(
    name,
    async (job: Job<PredictionJobData>) => {
      const attempts = job.opts.attempts ?? 1;
      const finalAttempt = job.attemptsMade + 1 >= attempts;
      const started = performance.now();
      const outcome = await processPrediction(jobDeps, job.data, finalAttempt);
      if (metrics && outcome.outcome !== "skipped") {
        // job.timestamp is when the listener enqueued the job, moments after the request was mined.
        metrics.jobLatency.observe({ outcome: outcome.outcome }, Math.max(0, Date.now() - job.timestamp) / 1000);
        if (outcome.outcome === "failed") metrics.jobFailures.inc({ reason: outcome.reason });
      }
      logger.info({ jobId: job.data.jobId, ...outcome, ms: Math.round(performance.now() - started) }, "prediction job settled");
      return outcome;
    },
    { connection, concurrency: options.concurrency },
  );
  worker.on("failed", (job, err) => {
    logger.warn({ jobId: job?.data.jobId, attemptsMade: job?.attemptsMade, err: err.message }, "prediction job attempt failed");
  });
  worker.on("error", (err) => logger.error({ err: err.message }, "worker error"));
  return worker;
}
