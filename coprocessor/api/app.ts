import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import { isUploadPurpose, UPLOAD_HEADERS } from "../../protocol/upload-auth.js";
import type { BlobKeeper } from "../blobstore/blob-keeper.js";
import type { CoprocessorMetrics } from "../metrics.js";
import { blobRoutes } from "./blob-routes.js";
import { refuseEncodedBodies } from "./body-guard.js";
import { errorCodeOf, HttpError, jsonErrorHandler, sendJsonError } from "./errors.js";
import { livenessRoutes } from "./health-routes.js";
import { jobRoutes, type JobReader } from "./job-routes.js";
import { keyBackupRoutes } from "./key-backup-routes.js";
import type { DownloadFloor } from "./download-floor.js";
import { TransferSlots } from "./slots.js";
import type { UploadPolicyOptions } from "./upload-policy.js";

export interface RateLimitOptions {
  windowMs: number;
  /** Requests per client address per window. */
  limit: number;
}

/** Generous: a patient's whole prediction is a handful of requests. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { windowMs: 60_000, limit: 1_000 };

/** Transfers in flight by default (PMHE_MAX_CONCURRENT_UPLOADS / _DOWNLOADS). */
export const DEFAULT_MAX_CONCURRENT_UPLOADS = 8;
export const DEFAULT_MAX_CONCURRENT_DOWNLOADS = 64;
/** Downloads in flight to one client address by default (PMHE_MAX_DOWNLOADS_PER_ADDRESS). */
export const DEFAULT_MAX_DOWNLOADS_PER_ADDRESS = 16;

export interface ApiOptions {
  /** The blob store with its ledger (quotas, tombstones) and lifecycle. */
  keeper: BlobKeeper;
  /** An operator's ceiling on any upload, below each purpose's own limit; none by default. */
  maxBlobBytes?: number;
  /** Who may upload what: every PUT must be signed (EIP-712) for this domain. */
  uploads: UploadPolicyOptions;
  /** Uploads in flight at once; more are answered 503 busy. */
  maxConcurrentUploads?: number;
  /** Downloads streaming at once; more are answered 503 busy. */
  maxConcurrentDownloads?: number;
  /** Downloads streaming at once to one client address (req.ip, after trustProxy); more get 429. Default 16. */
  maxDownloadsPerAddress?: number;
  /** A download that averages less than this after its grace is cut (a trickling reader holds a slot). */
  downloadFloor?: DownloadFloor;
  /** GET /jobs/:jobId reads jobs through this; without it the route is absent. */
  jobs?: JobReader;
  /** Retry-After of a pending job, seconds. Default 2. */
  jobRetryAfterSeconds?: number;
  /** Base URL clients reach this API at, for the result URLs it hands out; by default the request's own. */
  publicUrl?: string;
  /** Counts uploads and refusals (the metrics are served by the operator server, not here). */
  metrics?: CoprocessorMetrics;
  /** Per-address rate limit of everything but /healthz; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Express "trust proxy": the number of reverse proxies in front, whose X-Forwarded-For is believed. Default 0. */
  trustProxy?: number;
  logger?: Logger;
}

/** Counts every blob upload request by purpose and final status, and refusals by code (rate-limited ones included). */
function countUploads(metrics: CoprocessorMetrics): RequestHandler {
  return (req, res, next) => {
    if (req.method === "PUT" && req.path.startsWith("/blobs/")) {
      const header = req.get(UPLOAD_HEADERS.purpose);
      const purpose = isUploadPurpose(header) ? header : header ? "invalid" : "none";
      res.once("finish", () => {
        metrics.blobUploads.inc({ purpose, status: String(res.statusCode) });
        if (res.statusCode >= 400) metrics.blobUploadRejections.inc({ code: errorCodeOf(res) ?? String(res.statusCode) });
      });
    }
    next();
  };
}

/**
 * The coprocessor's public HTTP face: the content-addressed blob store that clients upload to and read results from,
 * patients' key backups by address, job status and liveness. Readiness, metrics and the queue dashboard are on the operator server (operator-app.ts).
 * Every error is `{ error, message }` JSON, and nothing here is cacheable but model blobs.
 */
export function createApiApp(options: ApiOptions): Express {
  const { metrics, logger } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", options.trustProxy ?? 0);
  app.use(helmet());
  app.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });
  if (metrics) app.use(countUploads(metrics));
  app.use(refuseEncodedBodies());

  // Liveness comes before the rate limit: orchestrators poll it.
  app.use(livenessRoutes());

  const limits = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  if (limits) {
    app.use(
      rateLimit({
        windowMs: limits.windowMs,
        limit: limits.limit,
        standardHeaders: "draft-7",
        legacyHeaders: false,
        handler: (req, res, _next, { statusCode }) => {
          if (!req.complete) res.setHeader("Connection", "close"); // a refused upload's body is not read
          sendJsonError(res, statusCode, "rate_limited", `more than ${limits.limit} requests in ${limits.windowMs / 1000} s from this address; retry later`);
        },
      }),
    );
  }

  const uploadSlots = new TransferSlots(options.maxConcurrentUploads ?? DEFAULT_MAX_CONCURRENT_UPLOADS, "uploads", {
    onChange: (n) => metrics?.blobTransfersInFlight.set({ direction: "upload" }, n),
  });
  const downloadSlots = new TransferSlots(options.maxConcurrentDownloads ?? DEFAULT_MAX_CONCURRENT_DOWNLOADS, "downloads", {
    perClient: options.maxDownloadsPerAddress ?? DEFAULT_MAX_DOWNLOADS_PER_ADDRESS,
    onChange: (n) => metrics?.blobTransfersInFlight.set({ direction: "download" }, n),
  });
  app.use(blobRoutes({ keeper: options.keeper, uploads: options.uploads, maxBlobBytes: options.maxBlobBytes, uploadSlots, downloadSlots, downloadFloor: options.downloadFloor, logger }));
  app.use(keyBackupRoutes({ keeper: options.keeper, downloadSlots, downloadFloor: options.downloadFloor, logger }));
  if (options.jobs) {
    app.use(jobRoutes({ jobs: options.jobs, retryAfterSeconds: options.jobRetryAfterSeconds ?? 2, publicUrl: options.publicUrl }));
  }
  app.use((req, _res, next) => next(new HttpError(404, "not_found", `no route ${req.method} ${req.path}`)));
  app.use(logServerErrors(logger), jsonErrorHandler);
  return app;
}

/** Logs what is not the client's fault (a 5xx), without request bytes. */
export function logServerErrors(logger: Logger | undefined): ErrorRequestHandler {
  return (err, req, _res, next) => {
    const status = err instanceof HttpError ? err.status : typeof err?.status === "number" ? err.status : 500;
    if (status >= 500 && !(err instanceof HttpError)) {
      logger?.error({ err: (err as Error)?.message, method: req.method, path: req.path }, "request failed");
    }
    next(err);
  };
}
