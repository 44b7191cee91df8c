import express, { type Express } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import type { CoprocessorMetrics } from "../metrics.js";
import { mountQueueDashboard, type AdminOptions } from "./admin.js";
import { logServerErrors } from "./app.js";
import { HttpError, jsonErrorHandler } from "./errors.js";
import { livenessRoutes, readinessProbe, readinessRoutes, type ReadinessOptions } from "./health-routes.js";

/** Readiness results are reused this long by default (PMHE_READY_CACHE_MS). */
export const DEFAULT_READY_CACHE_MS = 1_000;

export interface OperatorOptions {
  /** Dependencies /readyz checks; none means ready whenever the process is up. */
  readiness?: ReadinessOptions;
  /** How long one round of readiness checks answers every probe. Default 1 s. */
  readyCacheMs?: number;
  /** Clock of the readiness cache in ms (tests move it). */
  now?: () => number;
  /** Prometheus metrics at /metrics; without them the route is absent. */
  metrics?: CoprocessorMetrics;
  /** The BullMQ dashboard at /admin/queues; without it nothing is mounted there. */
  admin?: AdminOptions;
  logger?: Logger;
}

/**
 * The operator's HTTP face, on its own listener (loopback by default, PMHE_OPERATOR_HOST/PORT): readiness, metrics
 * and the queue dashboard. Kept off the public API because they are for the operator's eyes and because /readyz
 * costs a Redis round trip and an RPC call (cached here, so probes cannot multiply them).
 */
export function createOperatorApp(options: OperatorOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(helmet());
  app.use(livenessRoutes());
  app.use(
    readinessRoutes(
      readinessProbe({
        checks: options.readiness?.checks ?? {},
        timeoutMs: options.readiness?.timeoutMs ?? 2_000,
        cacheMs: options.readyCacheMs ?? DEFAULT_READY_CACHE_MS,
        now: options.now,
      }),
    ),
  );
  const { metrics } = options;
  if (metrics) {
    app.get("/metrics", async (_req, res) => {
      const { contentType, body } = await metrics.scrape();
      res.setHeader("Content-Type", contentType);
      res.setHeader("Cache-Control", "no-store");
      res.end(body);
    });
  }
  if (options.admin) mountQueueDashboard(app, options.admin);
  app.use((req, _res, next) => next(new HttpError(404, "not_found", `no route ${req.method} ${req.path}`)));
  app.use(logServerErrors(options.logger), jsonErrorHandler);
  return app;
}
