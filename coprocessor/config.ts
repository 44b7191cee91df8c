import { availableParallelism } from "node:os";
import { z } from "zod";

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 0x-prefixed 32-byte hex private key");
/** An unset variable and an empty one (`NAME=` in a .env file) both mean "not set". */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte address");

/** Settings of the API that constrain each other. */
function checkApiSettings(
  config: { PMHE_BLOB_GC_AFTER_SECONDS: number; PMHE_UPLOAD_MAX_TTL_SECONDS: number; PMHE_HEADERS_TIMEOUT_MS: number; PMHE_REQUEST_TIMEOUT_MS: number },
  ctx: z.RefinementCtx,
): void {
  // An upload signed just now may arrive up to a TTL later; collecting sooner could delete what a client is still uploading for.
  if (config.PMHE_BLOB_GC_AFTER_SECONDS < config.PMHE_UPLOAD_MAX_TTL_SECONDS) {
    ctx.addIssue({ code: "custom", path: ["PMHE_BLOB_GC_AFTER_SECONDS"], message: `must be at least PMHE_UPLOAD_MAX_TTL_SECONDS (${config.PMHE_UPLOAD_MAX_TTL_SECONDS})` });
  }
  if (config.PMHE_HEADERS_TIMEOUT_MS > config.PMHE_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({ code: "custom", path: ["PMHE_HEADERS_TIMEOUT_MS"], message: `must not exceed PMHE_REQUEST_TIMEOUT_MS (${config.PMHE_REQUEST_TIMEOUT_MS})` });
  }
}

/** Every setting of the coprocessor, from the environment, validated once at start. See .env.example. */
export const CoprocessorConfigSchema = z.object({
  PMHE_RPC_URL: z.url().default("http://127.0.0.1:8545"),
  PMHE_CONTRACT_ADDRESS: address,
  /** The chain id PMHE_RPC_URL must report; unset, any. A mismatch stops the coprocessor at start. */
  PMHE_CHAIN_ID: optional(z.coerce.number().int().positive()),
  /** Start of the event scan when no cursor is stored yet: the deployment block. */
  PMHE_START_BLOCK: z.coerce.number().int().nonnegative().default(0),
  PMHE_CONFIRMATIONS: z.coerce.number().int().nonnegative().default(0),
  PMHE_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(500),
  /** Longest wait between polls while the chain (or Redis) keeps failing: the listener backs off exponentially up to it. */
  PMHE_LISTENER_MAX_BACKOFF_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  PMHE_COPROCESSOR_KEY: hex32,
  PMHE_REDIS_URL: z.string().regex(/^rediss?:\/\//, "a redis:// URL").default("redis://127.0.0.1:6379"),
  PMHE_QUEUE_NAME: z.string().regex(/^[A-Za-z0-9_-]+$/).default("pmhe-predictions"),
  /** Worker threads evaluating jobs, each with its own SEAL contexts and key cache; 0 evaluates on the main thread. */
  PMHE_EVALUATION_THREADS: z.coerce.number().int().min(0).max(64).default(availableParallelism()),
  /** Jobs in progress at once (fetching, evaluating, committing); unset: 16 per evaluation thread. */
  PMHE_WORKER_CONCURRENCY: optional(z.coerce.number().int().min(1).max(256)),
  /** Opened key bundles kept in memory per evaluation thread (~10 MB of WASM heap each with the default layout's rotation keys). */
  PMHE_KEY_CACHE_SIZE: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * An evaluation thread whose SEAL (WASM) heap has grown past this many MiB is replaced after its current job. The
   * heap never shrinks; a thread measures ~270 MiB at N=8192 with 16 patients' keys, and WASM caps it at 4 GiB.
   */
  PMHE_THREAD_HEAP_LIMIT_MB: z.coerce.number().int().min(16).max(4_096).default(1_536),
  /** Attempts before a blob that is still not in the store (an upload racing its request) fails the job on-chain. */
  PMHE_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  /** Longest wait between attempts of a job after transient failures (chain, Redis or store unreachable), which are
   * retried until the job is settled or expires on-chain. */
  PMHE_RETRY_MAX_DELAY_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  /** How long a result commit waits for others to share its transaction (commitResults) when none is being sent. */
  PMHE_COMMIT_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(5),
  /** A vote transaction with no receipt after this long is re-sent with the same nonce and higher fees. */
  PMHE_COMMIT_REPLACE_AFTER_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  /** How long a worker's claim on a job lasts without renewal; a worker that dies loses its jobs after this. */
  PMHE_LOCK_DURATION_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /** How often expired claims are looked for and their jobs put back in the queue (stalled-job recovery). */
  PMHE_STALLED_INTERVAL_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /** How long SIGTERM/SIGINT waits for in-flight jobs and connections to close before the process exits anyway. */
  PMHE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  PMHE_API_HOST: z.string().default("127.0.0.1"),
  PMHE_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Blob store of this coprocessor, and where the worker reads blobs from (its own API by default). */
  PMHE_BLOB_DIR: z.string().min(1).default(".pmhe/blobs"),
  PMHE_BLOB_URL: z.url().optional(),
  /**
   * An operator's ceiling on any upload, bytes. Unset: each purpose's own limit, the largest blob of that kind the
   * parameter sets allow (key bundle ~14 MB, record ~8.5 MB, model 1 MiB, result ~200 KB, share 2 KB, manifest ~300 KB).
   */
  PMHE_MAX_BLOB_BYTES: optional(z.coerce.number().int().min(1024)),
  /** Bytes one signer may have pending in the store (uploaded, not yet referenced on-chain); more is 429 quota_exceeded. */
  PMHE_UPLOAD_QUOTA_BYTES: z.coerce.number().int().min(1024 * 1024).default(64 * 1024 * 1024),
  /** Bytes pending over all signers, checked against uploads from addresses with nothing on-chain; more is 507 store_full. */
  PMHE_PENDING_BYTES_MAX: z.coerce.number().int().min(1024 * 1024).default(2 * 1024 * 1024 * 1024),
  /** How often pending uploads nobody referenced are looked for and deleted. */
  PMHE_BLOB_GC_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  /** A pending upload not referenced on-chain after this long is deleted (at least PMHE_UPLOAD_MAX_TTL_SECONDS). */
  PMHE_BLOB_GC_AFTER_SECONDS: z.coerce.number().int().min(60).max(30 * 86_400).default(3_600),
  /** Uploads in flight at once; more are answered 503 busy. */
  PMHE_MAX_CONCURRENT_UPLOADS: z.coerce.number().int().min(1).max(1_024).default(8),
  /** Downloads streaming at once; more are answered 503 busy. */
  PMHE_MAX_CONCURRENT_DOWNLOADS: z.coerce.number().int().min(1).max(10_000).default(64),
  /** Downloads streaming at once to one client address (the rest get 429 too_many_transfers). */
  PMHE_MAX_DOWNLOADS_PER_ADDRESS: z.coerce.number().int().min(1).max(10_000).default(16),
  /** A download sending fewer bytes per second than this over its last 5 s, once its grace has passed, is cut (0 turns it off). */
  PMHE_DOWNLOAD_MIN_BYTES_PER_SECOND: z.coerce.number().int().min(0).max(1_000_000_000).default(32 * 1024),
  /** How long a download may run before its rate is judged, ms. */
  PMHE_DOWNLOAD_GRACE_MS: z.coerce.number().int().min(1_000).max(600_000).default(10_000),
  /** The request line and headers must arrive within this (slowloris), ms. */
  PMHE_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** A whole request, body included, must arrive within this, ms (a 14 MB key bundle at 1 Mbit/s takes ~115 s). */
  PMHE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(120_000),
  /** A connection with no traffic either way for this long is closed, ms. */
  PMHE_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** An idle keep-alive connection is closed after this, ms. */
  PMHE_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** How long a patient's on-chain key bundle (checked on every record upload) is reused, ms. */
  PMHE_KEY_BUNDLE_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(2_000),
  /** Base URL clients reach the API at (behind a proxy, say); result URLs of GET /jobs/:jobId use it. */
  PMHE_PUBLIC_URL: optional(z.url()),
  /** Longest validity a signed upload may claim, seconds ahead. */
  PMHE_UPLOAD_MAX_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /** Retry-After of GET /jobs/:jobId for a pending job, seconds. */
  PMHE_JOB_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3_600).default(2),
  /** How long /readyz waits for Redis and the chain to answer. */
  PMHE_READY_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
  /** How long one round of /readyz checks answers every probe, ms: a flood of probes costs one check per interval. */
  PMHE_READY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** The operator server (/metrics, /readyz, /healthz, /admin/queues): loopback by default. */
  PMHE_OPERATOR_HOST: z.string().default("127.0.0.1"),
  /** Its port; 0 takes any free one. */
  PMHE_OPERATOR_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Per-address rate limit of the API (/healthz excepted): requests per window; 0 turns it off. */
  PMHE_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  PMHE_RATE_LIMIT_MAX: z.coerce.number().int().nonnegative().default(1_000),
  /** Reverse proxies in front of the API whose X-Forwarded-For is believed (0: clients connect directly). */
  PMHE_TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /** Bearer token of the queue dashboard at /admin/queues; unset, the dashboard is not mounted. */
  PMHE_ADMIN_TOKEN: optional(z.string().min(24, "at least 24 characters").regex(/^\S+$/, "no whitespace")),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
}).superRefine(checkApiSettings);

export type CoprocessorConfig = z.infer<typeof CoprocessorConfigSchema>;

/**
 * Jobs in progress at once when not configured. Most of a job's time is spent waiting (on the chain for its request
 * data and its vote's receipt, on the store), not evaluating, and commits waiting together share one transaction:
 * measured on 2 cores, 2 jobs in flight gave 12 jobs/s and 32 gave 28.5 (docs/coprocessor.md).
 */
export function defaultWorkerConcurrency(evaluationThreads: number): number {
  return 16 * Math.max(1, evaluationThreads);
}

export function workerConcurrency(config: CoprocessorConfig): number {
  return config.PMHE_WORKER_CONCURRENCY ?? defaultWorkerConcurrency(config.PMHE_EVALUATION_THREADS);
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function loadCoprocessorConfig(env: Record<string, string | undefined> = process.env): CoprocessorConfig {
  const result = CoprocessorConfigSchema.safeParse(env);
  if (!result.success) throw new ConfigError(`invalid coprocessor configuration:\n${z.prettifyError(result.error)}`);
  return result.data;
}
