import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Wallet } from "ethers";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { BlobClient, type UploadAuth } from "../protocol/blob-client.js";
import { connectPmhe } from "../protocol/chain.js";
import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import { uploadDomain } from "../protocol/upload-auth.js";
import { createApiApp } from "./api/app.js";
import { chainBlockNumber, redisPing } from "./api/health-routes.js";
import { contractJobReader } from "./api/job-routes.js";
import { contractRoleChecker } from "./api/upload-policy.js";
import { FileBlobStore } from "./blobstore/file-blob-store.js";
import { Committer } from "./chain/committer.js";
import { PmheChain } from "./chain/pmhe-chain.js";
import { InlineEvaluator } from "./evaluation/inline-evaluator.js";
import type { StageEvaluator } from "./evaluation/stage-evaluator.js";
import { ThreadPoolEvaluator } from "./evaluation/thread-pool-evaluator.js";
import { RedisCursorStore } from "./chain/redis-cursor.js";
import { RequestListener } from "./chain/request-listener.js";
import { workerConcurrency, type CoprocessorConfig } from "./config.js";
import { CoprocessorMetrics } from "./metrics.js";
import { ModelCache } from "./jobs/model-cache.js";
import type { JobChain } from "./jobs/job-chain.js";
import type { BlobSource } from "./jobs/process-prediction.js";
import { PredictionQueue } from "./queue/prediction-queue.js";
import { startPredictionWorker } from "./queue/prediction-worker.js";

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
}

export interface RunningCoprocessor {
  apiUrl: string;
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

    const provider = new JsonRpcProvider(config.PMHE_RPC_URL, undefined, { pollingInterval: config.PMHE_POLL_INTERVAL_MS });
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
      commitResult: (jobId, resultHash) => committer.commitResult(jobId, resultHash),
      reportFailure: (jobId, reason) => committer.reportFailure(jobId, reason),
    };
    const { chainId } = await provider.getNetwork();
    const domain = uploadDomain(chainId, config.PMHE_CONTRACT_ADDRESS);

    const connection = { url: config.PMHE_REDIS_URL, maxRetriesPerRequest: null };
    const queue = new PredictionQueue(config.PMHE_QUEUE_NAME, connection);
    stack.push(() => queue.close());
    const redis = new Redis(config.PMHE_REDIS_URL, { maxRetriesPerRequest: null });
    stack.push(() => redis.quit().then(() => undefined, () => redis.disconnect()));
    let evaluator: StageEvaluator | undefined;
    const metrics = new CoprocessorMetrics({
      queueCounts: (states) => queue.queue.getJobCounts(...states),
      collectTimeoutMs: config.PMHE_READY_TIMEOUT_MS,
      busyThreads: () => (evaluator instanceof ThreadPoolEvaluator ? evaluator.busy : 0),
    });
    evaluator = createEvaluator(config, logger, () => metrics.evaluationThreadDeaths.inc());
    stack.push(() => evaluator.close());

    const store = new FileBlobStore(config.PMHE_BLOB_DIR);
    const httpServer = createServer();
    const port = await listen(httpServer, config.PMHE_API_HOST, config.PMHE_API_PORT);
    stack.push(() => new Promise<void>((resolve) => httpServer.close(() => resolve())));
    const apiUrl = `http://${config.PMHE_API_HOST}:${port}`;
    const api = createApiApp({
      store,
      maxBlobBytes: config.PMHE_MAX_BLOB_BYTES,
      uploads: { domain, hasRole: contractRoleChecker(reader), maxTtlSeconds: config.PMHE_UPLOAD_MAX_TTL_SECONDS },
      jobs: contractJobReader(reader),
      jobRetryAfterSeconds: config.PMHE_JOB_RETRY_AFTER_SECONDS,
      publicUrl: config.PMHE_PUBLIC_URL ?? apiUrl,
      readiness: {
        checks: { redis: redisPing(redis), chain: chainBlockNumber(provider) },
        timeoutMs: config.PMHE_READY_TIMEOUT_MS,
      },
      metrics,
      rateLimit: config.PMHE_RATE_LIMIT_MAX > 0 ? { windowMs: config.PMHE_RATE_LIMIT_WINDOW_MS, limit: config.PMHE_RATE_LIMIT_MAX } : false,
      trustProxy: config.PMHE_TRUST_PROXY,
      admin: config.PMHE_ADMIN_TOKEN ? { token: config.PMHE_ADMIN_TOKEN, queues: [queue.queue] } : undefined,
      logger,
    });
    // Attached in the same tick as `listen` resolved, before the event loop can hand over a connection.
    httpServer.on("request", api);

    const { resultTransform } = options;
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
      },
      {
        concurrency: workerConcurrency(config),
        logger,
        metrics,
        blobAttempts: config.PMHE_JOB_ATTEMPTS,
        maxRetryDelayMs: config.PMHE_RETRY_MAX_DELAY_MS,
        lockDurationMs: config.PMHE_LOCK_DURATION_MS,
        stalledIntervalMs: config.PMHE_STALLED_INTERVAL_MS,
      },
    );
    stack.push(() => worker.close());

    const cursorKey = `pmhe:listener:${chainId}:${config.PMHE_CONTRACT_ADDRESS.toLowerCase()}:${config.PMHE_QUEUE_NAME}:next-block`;
    const listener = new RequestListener(pmhe, new RedisCursorStore(redis, cursorKey), (jobId) => queue.enqueue(jobId), {
      startBlock: config.PMHE_START_BLOCK,
      confirmations: config.PMHE_CONFIRMATIONS,
      pollIntervalMs: config.PMHE_POLL_INTERVAL_MS,
      maxBackoffMs: config.PMHE_LISTENER_MAX_BACKOFF_MS,
      logger,
    });
    listener.start();
    stack.push(() => listener.stop());

    logger.info({ apiUrl, operator: wallet.address, contract: config.PMHE_CONTRACT_ADDRESS, chainId: Number(chainId) }, "coprocessor started");
    return { apiUrl, operator: wallet.address, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
