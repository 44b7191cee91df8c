import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { BlobClient } from "../protocol/blob-client.js";
import { connectPmhe } from "../protocol/chain.js";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import { createApiApp } from "./api/app.js";
import { FileBlobStore } from "./blobstore/file-blob-store.js";
import { PmheChain } from "./chain/pmhe-chain.js";
import { RedisCursorStore } from "./chain/redis-cursor.js";
import { RequestListener } from "./chain/request-listener.js";
import type { CoprocessorConfig } from "./config.js";
import { PredictionQueue } from "./queue/prediction-queue.js";
import { startPredictionWorker } from "./queue/prediction-worker.js";

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

/**
 * One coprocessor: the blob-store API, the chain listener that turns PredictionRequested events into queue jobs,
 * and a worker that evaluates them and settles each on-chain. `stop()` lets in-flight jobs finish first.
 */
export async function startCoprocessor(config: CoprocessorConfig, logger: Logger): Promise<RunningCoprocessor> {
  const stack: Array<() => Promise<unknown> | void> = [];
  const stop = async () => {
    for (const close of stack.reverse()) await close();
  };
  try {
    const engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    stack.push(() => engine.dispose());

    const store = new FileBlobStore(config.PMHE_BLOB_DIR);
    const httpServer = createServer(createApiApp({ store, maxBlobBytes: config.PMHE_MAX_BLOB_BYTES }));
    const port = await listen(httpServer, config.PMHE_API_HOST, config.PMHE_API_PORT);
    stack.push(() => new Promise<void>((resolve) => httpServer.close(() => resolve())));
    const apiUrl = `http://${config.PMHE_API_HOST}:${port}`;

    const provider = new JsonRpcProvider(config.PMHE_RPC_URL, undefined, { pollingInterval: config.PMHE_POLL_INTERVAL_MS });
    stack.push(() => provider.destroy());
    const wallet = new Wallet(config.PMHE_COPROCESSOR_KEY, provider);
    // One signer per coprocessor; the NonceManager keeps back-to-back commits from reusing a nonce.
    const contract = connectPmhe(config.PMHE_CONTRACT_ADDRESS, new NonceManager(wallet));
    const chain = new PmheChain(contract);
    const { chainId } = await provider.getNetwork();

    const connection = { url: config.PMHE_REDIS_URL, maxRetriesPerRequest: null };
    const queue = new PredictionQueue(config.PMHE_QUEUE_NAME, connection, config.PMHE_JOB_ATTEMPTS);
    stack.push(() => queue.close());

    const worker = startPredictionWorker(
      config.PMHE_QUEUE_NAME,
      connection,
      {
        engine,
        chain,
        blobs: new BlobClient(config.PMHE_BLOB_URL ?? apiUrl),
        onFailure: (jobId, error) => logger.warn({ jobId, reason: error.reason }, "job failed permanently; reporting on-chain"),
      },
      { concurrency: config.PMHE_WORKER_CONCURRENCY, logger },
    );
    stack.push(() => worker.close());

    const redis = new Redis(config.PMHE_REDIS_URL, { maxRetriesPerRequest: null });
    stack.push(() => redis.quit().then(() => undefined, () => redis.disconnect()));
    const cursorKey = `pmhe:listener:${chainId}:${config.PMHE_CONTRACT_ADDRESS.toLowerCase()}:${config.PMHE_QUEUE_NAME}:next-block`;
    const listener = new RequestListener(chain, new RedisCursorStore(redis, cursorKey), (jobId) => queue.enqueue(jobId), {
      startBlock: config.PMHE_START_BLOCK,
      confirmations: config.PMHE_CONFIRMATIONS,
      pollIntervalMs: config.PMHE_POLL_INTERVAL_MS,
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
