import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes, HDNodeWallet, JsonRpcProvider, NonceManager, parseEther, Wallet, type Signer } from "ethers";
import type { Logger } from "pino";
import { BlobClient } from "../protocol/blob-client.js";
import type { PmheContract } from "../protocol/chain.js";
import { uploadDomain, type UploadDomain } from "../protocol/upload-auth.js";
import { CoprocessorConfigSchema } from "../coprocessor/config.js";
import { createLogger } from "../coprocessor/logger.js";
import { startCoprocessor, type CoprocessorOptions, type RunningCoprocessor } from "../coprocessor/service.js";
import { hospitalKeyPair, type HospitalKeyPair } from "../protocol/result-share.js";
import { deployPmhe, LOCAL_QUORUM } from "./deploy.js";
import { startLocalChain, type LocalChain } from "./hardhat-node.js";
import { startLocalRedis, type LocalRedis } from "./redis-server.js";
import { PatientClient } from "../client/patient-client.js";
import type { CkksEngine, KeySet } from "../protocol/fhe/engine.js";
import { NativeJsonRpcProvider } from "../protocol/rpc.js";

/** Hardhat's public development mnemonic: its accounts are funded on every local Hardhat chain. Never use elsewhere. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

export function hardhatAccount(index: number, provider: JsonRpcProvider): Wallet {
  const node = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  return new Wallet(node.privateKey, provider);
}

/**
 * The share key pair of a local hospital, derived from its wallet key so every local run registers the same key and
 * the hospital can open what is shared with it. Only for Hardhat's public accounts: a real hospital makes a fresh pair.
 */
export function localHospitalKeys(wallet: Wallet): HospitalKeyPair {
  return hospitalKeyPair(getBytes(wallet.privateKey));
}

/** The name the local hospital is registered under. */
export const LOCAL_HOSPITAL_NAME = "Demo Hospital (local)";

export interface LocalStack {
  rpcUrl: string;
  redisUrl: string;
  apiUrl: string;
  /** The first coprocessor's operator server (/metrics, /readyz, the queue dashboard). */
  operatorUrl: string;
  blobDir: string;
  contractAddress: string;
  contract: PmheContract;
  provider: JsonRpcProvider;
  blobs: BlobClient;
  /** What uploads to this stack's blob store are signed for (this chain and deployment). */
  uploadDomain: UploadDomain;
  admin: Signer;
  hospital: Signer;
  /** The hospital's X25519 share keys (the public one is registered on-chain). */
  hospitalKeys: HospitalKeyPair;
  /** The quorum jobs of this deployment get. */
  quorum: number;
  /** The first coprocessor: its API is the stack's blob store (`apiUrl`, `blobs`). */
  coprocessor: RunningCoprocessor;
  /** Every coprocessor, in the order of `LocalStackOptions.coprocessors` (the first is `coprocessor`). */
  coprocessors: RunningCoprocessor[];
  /** A fresh patient wallet, funded by the admin account. */
  newPatient(): Promise<Signer>;
  /** A fresh funded patient with its own CKKS key set (or `keys`), key bundle uploaded and registered on-chain. */
  /** A funded patient and its registered client; `keys` (made for the new signer unless given) name that signer. */
  /**
   * A funded, registered patient. Unless `keys` are given they are made here: `maxValues` is the widest tuple they
   * rotate (default 16), `sigmoid` adds relinearization keys for non-interactive models.
   */
  newPatientClient(engine: CkksEngine, options?: { keys?: KeySet; maxValues?: number; sigmoid?: boolean; pollIntervalMs?: number }): Promise<{ client: PatientClient; signer: Signer; keys: KeySet }>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  logger?: Logger;
  logLevel?: string;
  /** Extra coprocessor environment (e.g. PMHE_JOB_ATTEMPTS for tests). */
  coprocessorEnv?: Record<string, string>;
  /**
   * The coprocessors to start, one per entry (default: one, with no extras). The i-th signs with Hardhat account
   * #(2 + i) and gets its own queue; all share one blob store: the first one's directory, read and written through
   * the first one's API. `env` adds to `coprocessorEnv` for that one; `options` are its test hooks.
   */
  coprocessors?: Array<{ env?: Record<string, string>; options?: CoprocessorOptions }>;
  /** Agreeing operator votes that settle a job (default LOCAL_QUORUM, 1: one operator decides, development only). */
  quorum?: number;
  /** Seconds from request to deadline (default one hour). */
  jobTimeout?: number;
}

/**
 * Everything PMHE needs, on this machine: a Hardhat node, a private redis-server, the contract deployed with roles
 * granted, and a coprocessor (API + listener + worker). Used by the demo and the integration tests alike.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    const [chain, redis]: [LocalChain, LocalRedis] = await Promise.all([startLocalChain(), startLocalRedis()]);
    cleanup.push(() => chain.stop(), () => redis.stop());
    const blobDir = await mkdtemp(join(tmpdir(), "pmhe-blobs-"));
    cleanup.push(() => rm(blobDir, { recursive: true, force: true }));

    // No answer cache: tests read block numbers and nonces right after transactions.
    const provider = new NativeJsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
    cleanup.push(() => provider.destroy());
    const admin = new NonceManager(hardhatAccount(0, provider));
    const hospitalWallet = hardhatAccount(1, provider);
    const hospital = new NonceManager(hospitalWallet);
    const hospitalKeys = localHospitalKeys(hospitalWallet);
    const specs = options.coprocessors?.length ? options.coprocessors : [{}];
    const operators = specs.map((_, i) => hardhatAccount(2 + i, provider));
    const quorum = options.quorum ?? LOCAL_QUORUM;
    const deployment = await deployPmhe(admin, {
      hospitals: [{ address: hospitalWallet.address, encryptionKey: hospitalKeys.publicKey, name: LOCAL_HOSPITAL_NAME }],
      coprocessors: operators.map((o) => o.address),
      quorum,
      jobTimeout: options.jobTimeout,
    });

    const coprocessors: RunningCoprocessor[] = [];
    let logger = options.logger;
    for (const [i, spec] of specs.entries()) {
      const config = CoprocessorConfigSchema.parse({
        PMHE_RPC_URL: chain.rpcUrl,
        PMHE_CONTRACT_ADDRESS: deployment.address,
        PMHE_START_BLOCK: String(deployment.blockNumber),
        PMHE_COPROCESSOR_KEY: operators[i]!.privateKey,
        PMHE_REDIS_URL: redis.url,
        PMHE_BLOB_DIR: blobDir,
        PMHE_API_PORT: "0",
        PMHE_OPERATOR_PORT: "0",
        PMHE_POLL_INTERVAL_MS: "100",
        LOG_LEVEL: options.logLevel ?? "silent",
        ...(i > 0 ? { PMHE_QUEUE_NAME: `pmhe-predictions-${i}`, PMHE_BLOB_URL: coprocessors[0]!.apiUrl } : {}),
        ...options.coprocessorEnv,
        ...spec.env,
      });
      logger ??= createLogger(config.LOG_LEVEL);
      const started = await startCoprocessor(config, logger, spec.options);
      cleanup.push(() => started.stop());
      coprocessors.push(started);
    }
    const coprocessor = coprocessors[0]!;
    const blobs = new BlobClient(coprocessor.apiUrl);
    const newPatient = async (): Promise<Signer> => {
      const wallet = Wallet.createRandom(provider);
      await (await admin.sendTransaction({ to: wallet.address, value: parseEther("1") })).wait();
      return new NonceManager(wallet);
    };

    return {
      rpcUrl: chain.rpcUrl,
      redisUrl: redis.url,
      apiUrl: coprocessor.apiUrl,
      operatorUrl: coprocessor.operatorUrl,
      blobDir,
      contractAddress: deployment.address,
      contract: deployment.contract,
      provider,
      blobs,
      uploadDomain: uploadDomain((await provider.getNetwork()).chainId, deployment.address),
      admin,
      hospital,
      hospitalKeys,
      quorum,
      coprocessor,
      coprocessors,
      newPatient,
      async newPatientClient(engine, options = {}) {
        const signer = await newPatient();
        const keys = options.keys ?? engine.generateKeySet({ patient: await signer.getAddress(), maxValues: options.maxValues, sigmoid: options.sigmoid });
        const client = new PatientClient({
          engine,
          signer,
          contractAddress: deployment.address,
          blobs,
          keys,
          pollIntervalMs: options.pollIntervalMs ?? 100,
        });
        try {
          await client.register();
        } catch (err) {
          client.dispose();
          throw err;
        }
        return { client, signer, keys };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
