import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import { isUploadPurpose, UPLOAD_HEADERS } from "../../protocol/upload-auth.js";
import type { FileBlobStore } from "../blobstore/file-blob-store.js";
import type { CoprocessorMetrics } from "../metrics.js";
import { mountQueueDashboard, type AdminOptions } from "./admin.js";
import { blobRoutes } from "./blob-routes.js";
import { HttpError, jsonErrorHandler } from "./errors.js";
import { healthRoutes, type ReadinessOptions } from "./health-routes.js";
import { jobRoutes, type JobReader } from "./job-routes.js";
import type { UploadPolicyOptions } from "./upload-policy.js";

export interface RateLimitOptions {
  windowMs: number;
  /** Requests per client address per window. */
  limit: number;
}

/** Generous: a patient's whole prediction is a handful of requests. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { windowMs: 60_000, limit: 1_000 };

export interface ApiOptions {
  store: FileBlobStore;
  maxBlobBytes: number;
  /** Who may upload what: every PUT must be signed (EIP-712) for this domain. */
  uploads: UploadPolicyOptions;
  /** GET /jobs/:jobId reads jobs through this; without it the route is absent. */
  jobs?: JobReader;
  /** Retry-After of a pending job, seconds. Default 2. */
  jobRetryAfterSeconds?: number;
  /** Base URL clients reach this API at, for the result URLs it hands out; by default the request's own. */
  publicUrl?: string;
  /** Dependencies /readyz checks; none means ready whenever the process is up. */
  readiness?: ReadinessOptions;
  /** Prometheus metrics, served at /metrics; without them the route is absent. */
  metrics?: CoprocessorMetrics;
  /** Per-address rate limit of everything but the probes and /metrics; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Express "trust proxy": the number of reverse proxies in front, whose X-Forwarded-For is believed. Default 0. */
  trustProxy?: number;
  /** The BullMQ dashboard at /admin/queues; without it nothing is mounted there. */
  admin?: AdminOptions;
  logger?: Logger;
}

/** Counts every blob upload request by purpose and final status (rate-limited and refused ones included). */
function countUploads(metrics: CoprocessorMetrics): RequestHandler {
  return (req, res, next) => {
    if (req.method === "PUT" && req.path.startsWith("/blobs/")) {
      const header = req.get(UPLOAD_HEADERS.purpose);
      const purpose = isUploadPurpose(header) ? header : header ? "invalid" : "none";
      res.once("finish", () => metrics.blobUploads.inc({ purpose, status: String(res.statusCode) }));
    }
    next();
  };
}

/**
 * The coprocessor's HTTP face: the content-addressed blob store that clients upload to and read results from, job
 * status, probes, metrics and (with an admin token) the queue dashboard. Every error is `{ error, message }` JSON.
 */
export function createApiApp(options: ApiOptions): Express {
  const { store, maxBlobBytes, uploads, metrics, logger } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", options.trustProxy ?? 0);
  app.use(helmet());

  // Probes and metrics come before the rate limit: orchestrators and scrapers poll them.
  app.use(healthRoutes(options.readiness));
  if (metrics) {
    app.get("/metrics", async (_req, res) => {
      const { contentType, body } = await metrics.scrape();
      res.setHeader("Content-Type", contentType);
      res.setHeader("Cache-Control", "no-store");
      res.end(body);
    });
    app.use(countUploads(metrics));
  }

  const limits = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  if (limits) {
    app.use(
      rateLimit({
        windowMs: limits.windowMs,
        limit: limits.limit,
        standardHeaders: "draft-7",
        legacyHeaders: false,
        handler: (_req, res, _next, { statusCode }) => {
          res.status(statusCode).json({
            error: "rate_limited",
            message: `more than ${limits.limit} requests in ${limits.windowMs / 1000} s from this address; retry later`,
          });
        },
      }),
    );
  }

  if (options.admin) mountQueueDashboard(app, options.admin);
  app.use(blobRoutes({ store, maxBlobBytes, uploads, logger }));
  if (options.jobs) {
    app.use(jobRoutes({ jobs: options.jobs, retryAfterSeconds: options.jobRetryAfterSeconds ?? 2, publicUrl: options.publicUrl }));
  }
  app.use((req, _res, next) => next(new HttpError(404, "not_found", `no route ${req.method} ${req.path}`)));
  const logServerErrors: ErrorRequestHandler = (err, req, _res, next) => {
    if (!(err instanceof HttpError) && !(typeof err?.status === "number" && err.status < 500)) {
      logger?.error({ err: (err as Error)?.message, method: req.method, path: req.path }, "request failed");
    }
    next(err);
  };
  app.use(logServerErrors, jsonErrorHandler);
  return app;
}
