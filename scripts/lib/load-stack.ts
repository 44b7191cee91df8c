import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Network, NonceManager, type JsonRpcProvider } from "ethers";
import { freePort } from "../../local/child-process.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalChain } from "../../local/hardhat-node.js";
import { startLocalRedis } from "../../local/redis-server.js";
import { hardhatAccount, LOCAL_HOSPITAL_NAME, localHospitalKeys } from "../../local/stack.js";
import { BlobClient } from "../../protocol/blob-client.js";
import type { PmheContract } from "../../protocol/chain.js";
import { NativeJsonRpcProvider } from "../../protocol/rpc.js";

/** Hardhat's chain id: the local node always runs it. */
const HARDHAT_CHAIN_ID = 31337;

export interface LoadStack {
  redisUrl: string;
  contractAddress: string;
  contract: PmheContract;
  admin: NonceManager;
  hospital: NonceManager;
  blobs: BlobClient;
  coprocessor: CoprocessorProcess;
  /** The coprocessor's blob store directory (removed by `stop()`). */
  blobDir: string;
  /** The coprocessor's operator server (/metrics, /readyz). */
  operatorUrl: string;
  /** The quorum of the deployment: 1, so the one coprocessor settles each job with its own vote. */
  quorum: number;
  /** Aborted, with the process's last output as the reason, if the coprocessor exits before `stop()`. */
  coprocessorExited: AbortSignal;
  /** A provider on the local chain. Every call is a fresh request: no cached block numbers, no network re-detection. */
  newProvider(pollingIntervalMs?: number): JsonRpcProvider;
  stop(): Promise<void>;
}

export interface LoadStackOptions {
  workerConcurrency: number;
  /** Extra coprocessor environment; wins over the defaults set here. */
  env: Record<string, string>;
}

/**
 * A provider for measurement: the network is fixed (no eth_chainId before every send), results are never served
 * from ethers' 250 ms cache, and requests are not held back to be batched.
 */
function freshProvider(rpcUrl: string, pollingInterval: number): JsonRpcProvider {
  return new NativeJsonRpcProvider(rpcUrl, undefined, {
    staticNetwork: Network.from(HARDHAT_CHAIN_ID),
    cacheTimeout: -1,
    batchMaxCount: 1,
    pollingInterval,
  });
}

/** The deployment's quorum: one coprocessor runs, so one vote settles a job (development only; it could forge). */
const LOAD_QUORUM = 1;
/**
 * Blob-store bounds far above what a load uploads: every record is uploaded in the (untimed) preparation and stays
 * pending until its request anchors it, and the patients upload side by side.
 */
const LOAD_BLOB_ENV = {
  PMHE_UPLOAD_QUOTA_BYTES: String(16 * 2 ** 30),
  PMHE_PENDING_BYTES_MAX: String(16 * 2 ** 30),
  PMHE_MAX_CONCURRENT_UPLOADS: "256",
};

/**
 * The whole system on this machine, as an operator runs it: a Hardhat node, a private redis-server, PMHE deployed
 * (hospital = Hardhat account #1 with its local share key, coprocessor operator = #2, quorum 1) and the coprocessor
 * as a process of its own, so its memory is measured apart from the load generator's. `stop()` undoes everything,
 * in reverse order.
 */
export async function startLoadStack(options: LoadStackOptions): Promise<LoadStack> {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  // Every step runs even when an earlier one fails, so one stuck process does not leave the others running.
  const stop = async () => {
    const errors: unknown[] = [];
    for (const step of cleanup.splice(0).reverse()) await Promise.resolve().then(step).catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  };
  try {
    // Started side by side; whichever came up is stopped again if the other did not.
    const [chainStart, redisStart] = await Promise.allSettled([startLocalChain(), startLocalRedis()]);
    if (chainStart.status === "fulfilled") cleanup.push(() => chainStart.value.stop());
    if (redisStart.status === "fulfilled") cleanup.push(() => redisStart.value.stop());
    if (chainStart.status === "rejected") throw chainStart.reason;
    if (redisStart.status === "rejected") throw redisStart.reason;
    const chain = chainStart.value;
    const redis = redisStart.value;
    const blobDir = await mkdtemp(join(tmpdir(), "pmhe-load-blobs-"));
    cleanup.push(() => rm(blobDir, { recursive: true, force: true }));

    const providers: JsonRpcProvider[] = [];
    cleanup.push(() => providers.forEach((p) => p.destroy()));
    const newProvider = (pollingIntervalMs = 100) => {
      const provider = freshProvider(chain.rpcUrl, pollingIntervalMs);
      providers.push(provider);
      return provider;
    };
    const provider = newProvider();
    const admin = new NonceManager(hardhatAccount(0, provider));
    const hospitalWallet = hardhatAccount(1, provider);
    const hospital = new NonceManager(hospitalWallet);
    const operator = hardhatAccount(2, provider);
    const deployment = await deployPmhe(admin, {
      hospitals: [{ address: hospitalWallet.address, encryptionKey: localHospitalKeys(hospitalWallet).publicKey, name: LOCAL_HOSPITAL_NAME }],
      coprocessors: [operator.address],
      quorum: LOAD_QUORUM,
    });
    const operatorPort = await freePort();

    const coprocessor = await startCoprocessorProcess({
      PMHE_RPC_URL: chain.rpcUrl,
      PMHE_CONTRACT_ADDRESS: deployment.address,
      PMHE_START_BLOCK: String(deployment.blockNumber),
      PMHE_COPROCESSOR_KEY: operator.privateKey,
      PMHE_REDIS_URL: redis.url,
      PMHE_BLOB_DIR: blobDir,
      PMHE_API_PORT: "0",
      // The load is the point: no per-client rate limit, and requests picked up within 100 ms.
      PMHE_RATE_LIMIT_MAX: "0",
      PMHE_POLL_INTERVAL_MS: "100",
      PMHE_WORKER_CONCURRENCY: String(options.workerConcurrency),
      PMHE_OPERATOR_HOST: "127.0.0.1",
      PMHE_OPERATOR_PORT: String(operatorPort),
      ...LOAD_BLOB_ENV,
      LOG_LEVEL: "warn",
      ...options.env,
    });
    const exited = new AbortController();
    const onExit = (code: number | null, signal: string | null) => {
      exited.abort(new Error(`the coprocessor process exited (${signal ?? `code ${code}`}) during the load:\n${coprocessor.process.output()}`));
    };
    coprocessor.process.child.once("exit", onExit);
    cleanup.push(() => coprocessor.stop());
    cleanup.push(() => void coprocessor.process.child.off("exit", onExit));

    return {
      redisUrl: redis.url,
      contractAddress: deployment.address,
      contract: deployment.contract,
      admin,
      hospital,
      blobs: new BlobClient(coprocessor.apiUrl),
      coprocessor,
      blobDir,
      operatorUrl: `http://127.0.0.1:${operatorPort}`,
      quorum: LOAD_QUORUM,
      coprocessorExited: exited.signal,
      newProvider,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
