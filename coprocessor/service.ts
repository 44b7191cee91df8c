import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Network, Wallet } from "ethers";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { BlobClient, type UploadAuth } from "../protocol/blob-client.js";
import { connectPmhe } from "../protocol/chain.js";
import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import type { Hash } from "../protocol/hash.js";
import { uploadDomain } from "../protocol/upload-auth.js";
import { createApiApp } from "./api/app.js";
import { chainBlockNumber, redisPing } from "./api/health-routes.js";
import { closeServer, createHttpServer, type ServerLimits } from "./api/http-server.js";
import { contractJobReader } from "./api/job-routes.js";
import { contractKeyBundleReader, KeyBundleCache } from "./api/key-bundles.js";
import { createOperatorApp } from "./api/operator-app.js";
import { contractRoleChecker } from "./api/upload-policy.js";
import { startBlobCollector } from "./blobstore/blob-collector.js";
import { BlobKeeper } from "./blobstore/blob-keeper.js";
import { BlobLedger } from "./blobstore/blob-ledger.js";
import type { BlobLifecycle } from "./blobstore/blob-lifecycle.js";
import { FileBlobStore } from "./blobstore/file-blob-store.js";
import { Committer } from "./chain/committer.js";
import { PmheChain } from "./chain/pmhe-chain.js";
import { InlineEvaluator } from "./evaluation/inline-evaluator.js";
import type { StageEvaluator } from "./evaluation/stage-evaluator.js";
import { ThreadPoolEvaluator } from "./evaluation/thread-pool-evaluator.js";
import { cursorKey, RedisCursorStore } from "./chain/redis-cursor.js";
import { RequestListener } from "./chain/request-listener.js";
import { workerConcurrency, type CoprocessorConfig } from "./config.js";
import { CoprocessorMetrics } from "./metrics.js";
import { ModelCache } from "./jobs/model-cache.js";
import type { JobChain } from "./jobs/job-chain.js";
import type { BlobSource } from "./jobs/process-prediction.js";
import { ConnectionErrorLog } from "./queue/connection-errors.js";
import { RedisCrashLedger } from "./queue/crash-ledger.js";
import { PredictionQueue } from "./queue/prediction-queue.js";
import { startPredictionWorker } from "./queue/prediction-worker.js";
import { waitForDependencies } from "./startup.js";
import { NativeJsonRpcProvider } from "../protocol/rpc.js";

/**
 * Fault-injection hooks, for tests only: production code never passes them, and without them the coprocessor
 * behaves exactly as configured.
 */
export interface CoprocessorOptions {
  /**
   * Applied to every result blob before it is uploaded and its hash committed, so a test can run a dishonest or
   * slow operator (altered bytes change the committed hash; a returned promise delays the upload and the vote).
   */
  resultTransform?: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /** Evaluations of the jobs it returns true for kill their evaluation thread (as a SEAL abort would). */
  crashEvaluation?: (jobId: Hash) => boolean;
  /** Where the chain listener reports the blobs the chain references and erases, in place of the blob store's own. */
  blobLifecycle?: BlobLifecycle;
  /** Aborting it while the coprocessor waits for Redis and the chain ends the start (SIGTERM before "started"). */
  signal?: AbortSignal;
}

export interface RunningCoprocessor {
  apiUrl: string;
  /** The operator server: /metrics, /readyz, /healthz and (with an admin token) /admin/queues. */
  operatorUrl: string;
  operator: string;
  stop(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function createEvaluator(config: CoprocessorConfig, logger: Logger, onThreadDied: () => void): StageEvaluator {
  if (config.PMHE_EVALUATION_THREADS === 0) return new InlineEvaluator(config.PMHE_KEY_CACHE_SIZE);
  return new ThreadPoolEvaluator({
    threads: config.PMHE_EVALUATION_THREADS,
    keyCacheSize: config.PMHE_KEY_CACHE_SIZE,
    warmParameterSets: [DEFAULT_PARAMETER_SET],
    logger,
    onThreadDied,
    heapLimitBytes: config.PMHE_THREAD_HEAP_LIMIT_MB * 2 ** 20,
  });
}

/**
 * Where the worker reads inputs and writes results: straight to this coprocessor's own store, or, when the store is
 * another coprocessor's (PMHE_BLOB_URL), through its API with uploads signed by this operator's key.
 */
function workerBlobs(
  remoteUrl: string | undefined,
  store: FileBlobStore,
  resultAuth: UploadAuth,
  resultTransform: CoprocessorOptions["resultTransform"],
): BlobSource {
  const transform = async (bytes: Uint8Array) => (resultTransform ? await resultTransform(bytes) : bytes);
  if (remoteUrl) {
    const client = new BlobClient(remoteUrl);
    return { get: (hash) => client.get(hash), put: async (bytes) => client.put(await transform(bytes), resultAuth) };
  }
  return {
    get: (hash) => store.get(hash),
    put: async (bytes) => (await store.add(await transform(bytes))).hash,
  };
}

/**
 * One coprocessor: the API (blob store, job status, probes, metrics, queue dashboard), the chain listener that
 * turns PredictionRequested events into queue jobs, and a worker that evaluates them and settles each on-chain.
 * `stop()` lets in-flight jobs finish first.
 */
export async function startCoprocessor(config: CoprocessorConfig, logger: Logger, options: CoprocessorOptions = {}): Promise<RunningCoprocessor> {
  const stack: Array<() => Promise<unknown> | void> = [];
  const stop = async () => {
    for (const close of stack.reverse()) await close();
  };
  try {

    // Nothing starts before Redis answers and the chain holds the configured deployment.
    const { provider, chainId } = await waitForDependencies({
      redisUrl: config.PMHE_REDIS_URL,
      rpcUrl: config.PMHE_RPC_URL,
      contractAddress: config.PMHE_CONTRACT_ADDRESS,
      expectedChainId: config.PMHE_CHAIN_ID === undefined ? undefined : BigInt(config.PMHE_CHAIN_ID),
      pollingIntervalMs: config.PMHE_POLL_INTERVAL_MS,
      maxBackoffMs: config.PMHE_LISTENER_MAX_BACKOFF_MS,
      logger,
      signal: options.signal,
    });
    stack.push(() => provider.destroy());
    const wallet = new Wallet(config.PMHE_COPROCESSOR_KEY, provider);
    const reader = connectPmhe(config.PMHE_CONTRACT_ADDRESS, provider);
    const pmhe = new PmheChain(reader);
    // The one sender of this operator's votes: it owns the account's nonces, batches commits, replaces dropped txs.
    const committer = new Committer({
      wallet,
      contractAddress: config.PMHE_CONTRACT_ADDRESS,
      lingerMs: config.PMHE_COMMIT_LINGER_MS,
      replaceAfterMs: config.PMHE_COMMIT_REPLACE_AFTER_MS,
      logger,
    });
    stack.push(() => committer.close());
    const chain: JobChain = {
      readJob: (jobId) => pmhe.readJob(jobId),
      now: () => pmhe.now(),
      commitResult: (jobId, resultHash) => committer.commitResult(jobId, resultHash),
      reportFailure: (jobId, reason) => committer.reportFailure(jobId, reason),
      expireJob: (jobId) => committer.expireJob(jobId),
    };
    const domain = uploadDomain(chainId, config.PMHE_CONTRACT_ADDRESS);

    // Every Redis connection reports each failed reconnection: logged once per outage, not once per attempt.
    const redisErrors = new ConnectionErrorLog(logger, "Redis", config.PMHE_REDIS_URL);
    const connection = { url: config.PMHE_REDIS_URL, maxRetriesPerRequest: null };
    const queue = new PredictionQueue(config.PMHE_QUEUE_NAME, connection);
    queue.queue.on("error", (err) => redisErrors.error(err, "queue"));
    stack.push(() => queue.close());
    const redis = new Redis(config.PMHE_REDIS_URL, { maxRetriesPerRequest: null });
    redis.on("error", (err) => redisErrors.error(err, "client"));
    redis.on("ready", redisErrors.up);
    // QUIT waits for an answer, which never comes while Redis is down.
    stack.push(() => (redis.status === "ready" ? redis.quit().then(() => undefined, () => redis.disconnect()) : redis.disconnect()));
    // The blob store's books (pending uploads, quotas, tombstones) live in Redis, per chain and deployment; one hash
    // tag keeps them on one node of a cluster.
    const blobLedger = new BlobLedger(redis, {
      prefix: `pmhe:{blobs:${chainId}:${config.PMHE_CONTRACT_ADDRESS.toLowerCase()}}`,
      quotaBytes: config.PMHE_UPLOAD_QUOTA_BYTES,
      pendingBytesMax: config.PMHE_PENDING_BYTES_MAX,
    });
    let evaluator: StageEvaluator | undefined;
    const metrics = new CoprocessorMetrics({
      pendingBlobBytes: () => blobLedger.pendingBytes(),
      queueCounts: (states) => queue.queue.getJobCounts(...states),
      collectTimeoutMs: config.PMHE_READY_TIMEOUT_MS,
      busyThreads: () => (evaluator instanceof ThreadPoolEvaluator ? evaluator.busy : 0),
    });
    evaluator = createEvaluator(config, logger, () => metrics.evaluationThreadDeaths.inc());
    stack.push(() => evaluator.close());

    const store = new FileBlobStore(config.PMHE_BLOB_DIR);
    const blobKeeper = new BlobKeeper(blobLedger, store, {
      gcAfterSeconds: config.PMHE_BLOB_GC_AFTER_SECONDS,
      // Reservations and temporary files outlive their request only when a crash cut it off.
      staleAfterMs: 2 * config.PMHE_REQUEST_TIMEOUT_MS,
      onDeleted: (reason, count, bytes) => {
        metrics.blobDeletions.inc({ reason }, count);
        metrics.blobDeletedBytes.inc({ reason }, bytes);
      },
      logger,
    });
    const collector = startBlobCollector(blobKeeper, { intervalMs: config.PMHE_BLOB_GC_INTERVAL_MS, logger });
    stack.push(() => collector.stop());
    const serverLimits: ServerLimits = {
      headersTimeoutMs: config.PMHE_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.PMHE_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: config.PMHE_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: config.PMHE_KEEP_ALIVE_TIMEOUT_MS,
    };
    const httpServer = createHttpServer(serverLimits);
    const port = await listen(httpServer, config.PMHE_API_HOST, config.PMHE_API_PORT);
    stack.push(() => closeServer(httpServer));
    const apiUrl = `http://${config.PMHE_API_HOST}:${port}`;
    // The store's registration checks read through a provider without ethers' 250 ms answer cache: a "fresh" read
    // right after a patient registers must see the registration, not a cached "none" (KeyBundleCache does the caching).
    const network = Network.from(chainId);
    const uncached = new NativeJsonRpcProvider(config.PMHE_RPC_URL, network, { staticNetwork: network, cacheTimeout: -1 });
    stack.push(() => uncached.destroy());
    const keyBundles = new KeyBundleCache(contractKeyBundleReader(connectPmhe(config.PMHE_CONTRACT_ADDRESS, uncached)), { ttlMs: config.PMHE_KEY_BUNDLE_CACHE_MS });
    const api = createApiApp({
      keeper: blobKeeper,
      maxBlobBytes: config.PMHE_MAX_BLOB_BYTES,
      uploads: {
        domain,
        hasRole: contractRoleChecker(reader),
        currentKeyBundle: (patient, options) => keyBundles.current(patient, options),
        maxTtlSeconds: config.PMHE_UPLOAD_MAX_TTL_SECONDS,
      },
      maxConcurrentUploads: config.PMHE_MAX_CONCURRENT_UPLOADS,
      maxConcurrentDownloads: config.PMHE_MAX_CONCURRENT_DOWNLOADS,
      maxDownloadsPerAddress: config.PMHE_MAX_DOWNLOADS_PER_ADDRESS,
      downloadFloor: { minBytesPerSecond: config.PMHE_DOWNLOAD_MIN_BYTES_PER_SECOND, graceMs: config.PMHE_DOWNLOAD_GRACE_MS },
      jobs: contractJobReader(reader),
      jobRetryAfterSeconds: config.PMHE_JOB_RETRY_AFTER_SECONDS,
      publicUrl: config.PMHE_PUBLIC_URL ?? apiUrl,
      metrics,
      rateLimit: config.PMHE_RATE_LIMIT_MAX > 0 ? { windowMs: config.PMHE_RATE_LIMIT_WINDOW_MS, limit: config.PMHE_RATE_LIMIT_MAX } : false,
      trustProxy: config.PMHE_TRUST_PROXY,
      logger,
    });
    // Attached in the same tick as `listen` resolved, before the event loop can hand over a connection.
    httpServer.on("request", api);

    // Probes, metrics and the dashboard on their own listener, off the public API.
    const operatorServer = createHttpServer(serverLimits);
    const operatorPort = await listen(operatorServer, config.PMHE_OPERATOR_HOST, config.PMHE_OPERATOR_PORT);
    stack.push(() => closeServer(operatorServer));
    const operatorUrl = `http://${config.PMHE_OPERATOR_HOST}:${operatorPort}`;
    operatorServer.on(
      "request",
      createOperatorApp({
        readiness: { checks: { redis: redisPing(redis), chain: chainBlockNumber(provider) }, timeoutMs: config.PMHE_READY_TIMEOUT_MS },
        readyCacheMs: config.PMHE_READY_CACHE_MS,
        metrics,
        admin: config.PMHE_ADMIN_TOKEN ? { token: config.PMHE_ADMIN_TOKEN, queues: [queue.queue] } : undefined,
        logger,
      }),
    );

    const { resultTransform, crashEvaluation } = options;
    const blobs = workerBlobs(config.PMHE_BLOB_URL, store, { signer: wallet, purpose: "result", domain }, resultTransform);
    const worker = startPredictionWorker(
      config.PMHE_QUEUE_NAME,
      connection,
      {
        evaluator,
        models: new ModelCache(),
        chain,
        blobs,
        onFailure: (jobId, error) => logger.warn({ jobId, reason: error.reason }, "job failed permanently; reporting on-chain"),
        crashes: new RedisCrashLedger(redis, `pmhe:${config.PMHE_QUEUE_NAME}`),
        crashEvaluation,
      },
      {
        concurrency: workerConcurrency(config),
        logger,
        queue,
        connectionErrors: redisErrors,
        metrics,
        blobAttempts: config.PMHE_JOB_ATTEMPTS,
        maxRetryDelayMs: config.PMHE_RETRY_MAX_DELAY_MS,
        lockDurationMs: config.PMHE_LOCK_DURATION_MS,
        stalledIntervalMs: config.PMHE_STALLED_INTERVAL_MS,
      },
    );
    stack.push(() => worker.close());

    // The listener is the coprocessor's one reader of chain events: job requests for the queue, blob references
    // and erasures for the store. Its cursor is per chain history (genesis hash), contract and queue.
    const key = cursorKey({ chainId, genesisHash: await pmhe.genesisHash(), contract: config.PMHE_CONTRACT_ADDRESS, queue: config.PMHE_QUEUE_NAME });
    const listener = new RequestListener(pmhe, new RedisCursorStore(redis, key), (requests) => queue.enqueue(requests).then(() => undefined), {
      startBlock: config.PMHE_START_BLOCK,
      confirmations: config.PMHE_CONFIRMATIONS,
      pollIntervalMs: config.PMHE_POLL_INTERVAL_MS,
      maxBackoffMs: config.PMHE_LISTENER_MAX_BACKOFF_MS,
      lifecycle: options.blobLifecycle ?? blobKeeper,
      // A replaced chain starts this account's nonces again.
      onChainReset: () => committer.resynchronise(),
      logger,
    });
    listener.start();
    stack.push(() => listener.stop());

    logger.info({ apiUrl, operatorUrl, operator: wallet.address, contract: config.PMHE_CONTRACT_ADDRESS, chainId: Number(chainId) }, "coprocessor started");
    return { apiUrl, operatorUrl, operator: wallet.address, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
