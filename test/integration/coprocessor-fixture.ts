import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager, type Wallet } from "ethers";
import { pino } from "pino";
import { CoprocessorConfigSchema } from "../../coprocessor/config.js";
import { startCoprocessor, type CoprocessorOptions, type RunningCoprocessor } from "../../coprocessor/service.js";
import { freePort } from "../../local/child-process.js";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { hardhatAccount } from "../../local/stack.js";
import { BlobClient } from "../../protocol/blob-client.js";
import { jobIdFromReceipt, JobStatus, modelIdOf, type JobStatusCode, type PmheContract } from "../../protocol/chain.js";
import { CkksEngine, type KeySet, type PatientCipher } from "../../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { modelBytes, serverStage, type Model } from "../../protocol/model.js";
import { uploadDomain, type UploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";
import { Teardown } from "../helpers/teardown.js";
import { loadTestModel } from "../helpers/test-model.js";
import { waitFor, type WaitOptions } from "../helpers/wait.js";

export { loadTestModel, ROOT } from "../helpers/test-model.js";

/**
 * What the coprocessor integration tests share: a PMHE deployment on a real `hardhat node`, the published test
 * model, and patients that upload through a running coprocessor's API and transact on the chain themselves, with
 * nothing from `client/` in between (only the protocol modules both sides use).
 */

/** A tuple of the model's width with values in [-1, 1], different per seed. */
export function testTuple(model: Model, seed: number): number[] {
  const width = serverStage(model, 0).weights[0]!.length;
  return Array.from({ length: width }, (_, i) => Math.sin(seed * 7.3 + i * 1.1));
}

/** w·x + b of the model's server stage in plaintext: what a finalized result decrypts to. */
export function expectedLogit(model: Model, values: readonly number[]): number {
  const stage = serverStage(model, 0);
  return stage.weights[0]!.reduce((sum, w, i) => sum + w * values[i]!, stage.bias[0]!);
}

export interface Deployed {
  rpcUrl: string;
  provider: JsonRpcProvider;
  contract: PmheContract;
  address: string;
  deployBlock: number;
  domain: UploadDomain;
  admin: NonceManager;
  hospital: NonceManager;
  hospitalAddress: string;
  /** Operators (hardhat accounts 2, 3, ...), each holding COPROCESSOR_ROLE. */
  operators: Wallet[];
}

/** Hardhat accounts used as patients start here (0 admin, 1 hospital, 2..4 operators). */
export const FIRST_PATIENT_ACCOUNT = 5;

export interface DeployOptions {
  quorum?: number;
  jobTimeout?: number;
  /** How many operators hold COPROCESSOR_ROLE (default 1). */
  operators?: number;
}

export async function deploy(chain: LocalChain, options: DeployOptions = {}): Promise<Deployed> {
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
  const admin = new NonceManager(hardhatAccount(0, provider));
  const hospital = new NonceManager(hardhatAccount(1, provider));
  const hospitalAddress = await hospital.getAddress();
  const operators = Array.from({ length: options.operators ?? 1 }, (_, i) => hardhatAccount(2 + i, provider));
  const deployment = await deployPmhe(admin, {
    hospitals: [{ address: hospitalAddress, encryptionKey: id("test-hospital-share-key") as Hash, name: "Test Hospital" }],
    coprocessors: operators.map((o) => o.address),
    quorum: options.quorum,
    jobTimeout: options.jobTimeout,
  });
  const { chainId } = await provider.getNetwork();
  return {
    rpcUrl: chain.rpcUrl,
    provider,
    contract: deployment.contract,
    address: deployment.address,
    deployBlock: deployment.blockNumber,
    domain: uploadDomain(chainId, deployment.address),
    admin,
    hospital,
    hospitalAddress,
    operators,
  };
}

/** The environment of a coprocessor process for `deployed`, operator `operator` (default the first). */
export async function coprocessorEnv(
  deployed: Deployed,
  redisUrl: string,
  blobDir: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    PMHE_RPC_URL: deployed.rpcUrl,
    PMHE_CONTRACT_ADDRESS: deployed.address,
    PMHE_START_BLOCK: String(deployed.deployBlock),
    PMHE_COPROCESSOR_KEY: deployed.operators[0]!.privateKey,
    PMHE_REDIS_URL: redisUrl,
    PMHE_BLOB_DIR: blobDir,
    PMHE_API_PORT: String(await freePort()),
    PMHE_OPERATOR_PORT: String(await freePort()),
    PMHE_POLL_INTERVAL_MS: "100",
    PMHE_RATE_LIMIT_MAX: "0",
    PMHE_EVALUATION_THREADS: "1",
    LOG_LEVEL: "info",
    ...extra,
  };
}

export interface TempDir {
  dir: string;
  remove(): Promise<void>;
}

export async function tempBlobDir(): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), "pmhe-test-blobs-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A hardhat node with PMHE deployed on it and an empty blob directory: all a coprocessor needs but Redis. */
export interface DeployedChain {
  chain: LocalChain;
  deployed: Deployed;
  blobDir: TempDir;
  /** Closes the provider, removes the blob directory and stops the node. */
  stop(): Promise<void>;
}

export async function startDeployedChain(options: DeployOptions = {}): Promise<DeployedChain> {
  const teardown = new Teardown();
  return teardown.guard(async () => {
    const chain = await startLocalChain();
    teardown.add(() => chain.stop());
    const blobDir = await tempBlobDir();
    teardown.add(() => blobDir.remove());
    const deployed = await deploy(chain, options);
    teardown.add(() => deployed.provider.destroy());
    return { chain, deployed, blobDir, stop: () => teardown.run() };
  });
}

const valueOf = <T>(settled: PromiseSettledResult<T>): T => {
  if (settled.status === "rejected") throw settled.reason;
  return settled.value;
};

/**
 * What a coprocessor integration test runs against: a deployed chain with its blob directory, a redis-server, and the
 * test model with a CKKS engine for the test's patients. `stop()` also takes down what was started through the stack
 * (in-process coprocessors, test patients), last first; coprocessor processes, which tests kill and restart, stay
 * the test's to stop, before the stack.
 */
export class CoprocessorTestStack implements DeployedChain {
  private constructor(
    private readonly teardown: Teardown,
    readonly chain: LocalChain,
    readonly deployed: Deployed,
    readonly blobDir: TempDir,
    readonly redis: LocalRedis,
    readonly model: Model,
    readonly engine: CkksEngine,
  ) {}

  static async start(options: { deploy?: DeployOptions; redis?: { appendOnly?: boolean } } = {}): Promise<CoprocessorTestStack> {
    const model = await loadTestModel();
    const teardown = new Teardown();
    return teardown.guard(async () => {
      const [chainStarted, redisStarted, engineCreated] = await Promise.allSettled([
        startDeployedChain(options.deploy),
        startLocalRedis(options.redis),
        CkksEngine.create(model.fhe.parameterSet),
      ]);
      if (chainStarted.status === "fulfilled") teardown.add(() => chainStarted.value.stop());
      if (redisStarted.status === "fulfilled") teardown.add(() => redisStarted.value.stop());
      if (engineCreated.status === "fulfilled") teardown.add(() => engineCreated.value.dispose());
      const { chain, deployed, blobDir } = valueOf(chainStarted);
      return new CoprocessorTestStack(teardown, chain, deployed, blobDir, valueOf(redisStarted), model, valueOf(engineCreated));
    });
  }

  /** The environment of a coprocessor on this stack (first operator, fresh ports), `extra` on top. */
  coprocessorEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    return coprocessorEnv(this.deployed, this.redis.url, this.blobDir.dir, extra);
  }

  /** A coprocessor in this process, on `coprocessorEnv(extra)`, logging nothing; stopped by `stop()`. */
  async startCoprocessor(extra: Record<string, string> = {}, hooks: CoprocessorOptions = {}): Promise<RunningCoprocessor> {
    const config = CoprocessorConfigSchema.parse(await this.coprocessorEnv({ LOG_LEVEL: "silent", ...extra }));
    const started = await startCoprocessor(config, pino({ level: "silent" }), hooks);
    this.teardown.add(() => started.stop());
    return started;
  }

  /**
   * An in-process coprocessor that only serves the blob API, for tests that set jobs up before their worker runs: it
   * signs as the second operator (deploy with two), its listener starts beyond the chain's head so it never takes a
   * job, and it has no evaluation threads.
   */
  startStoreOnlyCoprocessor(): Promise<RunningCoprocessor> {
    return this.startCoprocessor({
      PMHE_COPROCESSOR_KEY: this.deployed.operators[1]!.privateKey,
      PMHE_QUEUE_NAME: "store-only",
      PMHE_START_BLOCK: String(1e9),
      PMHE_EVALUATION_THREADS: "0",
    });
  }

  /** The hospital uploads the test model through `apiUrl` and publishes it (`publishTestModel`). */
  publishTestModel(apiUrl: string): Promise<{ modelHash: Hash; modelId: Hash }> {
    return publishTestModel(this.deployed, apiUrl, this.model);
  }

  /** A test patient on patient account `n`, uploading through `apiUrl`; disposed by `stop()`. */
  testPatient(n: number, apiUrl: string): TestPatient {
    const patient = new TestPatient(this.deployed, this.engine, TestPatient.account(this.deployed, n), apiUrl);
    this.teardown.add(() => patient.dispose());
    return patient;
  }

  /** `testPatient(n, apiUrl)`, its key bundle uploaded and registered. */
  async registeredPatient(n: number, apiUrl: string): Promise<TestPatient> {
    const patient = this.testPatient(n, apiUrl);
    await patient.register();
    return patient;
  }

  stop(): Promise<void> {
    return this.teardown.run();
  }
}

/** The hospital uploads the model (signed) through `apiUrl` and publishes it; returns its content hash and id. */
export async function publishTestModel(deployed: Deployed, apiUrl: string, model: Model): Promise<{ modelHash: Hash; modelId: Hash }> {
  const blobs = new BlobClient(apiUrl);
  const modelHash = await blobs.put(modelBytes(model), { signer: deployed.hospital, purpose: "model", domain: deployed.domain });
  await (await deployed.contract.connect(deployed.hospital).publishModel(modelHash, model.name, model.version, blobs.urlOf(modelHash))).wait();
  return { modelHash, modelId: modelIdOf(deployed.hospitalAddress, modelHash) };
}

export interface Requested {
  jobId: Hash;
  blockNumber: number;
  blockHash: Hash;
}

/** A patient with a hardhat account, their own CKKS keys (bundle naming them), and uploads through a coprocessor's API. */
export class TestPatient {
  readonly signer: NonceManager;
  readonly keys: KeySet;
  readonly cipher: PatientCipher;
  readonly keyBundleHash: Hash;
  private readonly blobs: BlobClient;

  constructor(
    readonly deployed: Deployed,
    readonly engine: CkksEngine,
    readonly wallet: Wallet,
    apiUrl: string,
  ) {
    this.signer = new NonceManager(wallet);
    this.keys = engine.generateKeySet({ patient: wallet.address });
    this.keyBundleHash = contentHash(this.keys.keyBundle);
    this.cipher = engine.openSecretKey(this.keys.secretKey, { patient: wallet.address, keyBundleHash: this.keyBundleHash });
    this.blobs = new BlobClient(apiUrl);
  }

  static account(deployed: Deployed, n: number): Wallet {
    return hardhatAccount(FIRST_PATIENT_ACCOUNT + n, deployed.provider);
  }

  get address(): string {
    return this.wallet.address.toLowerCase();
  }

  get contract(): PmheContract {
    return this.deployed.contract.connect(this.signer);
  }

  async upload(bytes: Uint8Array, purpose: UploadPurpose): Promise<Hash> {
    return this.blobs.put(bytes, { signer: this.signer, purpose, domain: this.deployed.domain });
  }

  /** Uploads the key bundle and registers it (key version 1), or `keyBundleHash` instead when given. */
  async register(keyBundleHash?: Hash): Promise<void> {
    if (!keyBundleHash) await this.upload(this.keys.keyBundle, "key-bundle");
    const hash = keyBundleHash ?? this.keyBundleHash;
    await (await this.contract.registerKeys(hash, this.blobs.urlOf(hash))).wait();
  }

  /** Encrypts, uploads and anchors one tuple; returns the record hash. */
  async submit(values: readonly number[]): Promise<Hash> {
    return this.anchor(this.cipher.encryptTuple(values));
  }

  async anchor(record: Uint8Array): Promise<Hash> {
    const recordHash = await this.upload(record, "record");
    await (await this.contract.anchorRecord(recordHash)).wait();
    return recordHash;
  }

  /** Requests a prediction on one of this patient's anchored records, mined before it returns. */
  async request(recordHash: Hash, modelId: Hash): Promise<Requested> {
    const receipt = await (await this.contract.requestPrediction(this.wallet.address, recordHash, modelId)).wait();
    return { jobId: jobIdFromReceipt(this.deployed.contract, receipt!), blockNumber: receipt!.blockNumber, blockHash: receipt!.blockHash.toLowerCase() as Hash };
  }

  /** Fetches the job's result by its committed hash and decrypts T = w·x + b. */
  async decrypt(resultHash: Hash): Promise<number> {
    const bytes = await this.blobs.get(resultHash);
    expect(bytes, `result ${resultHash} in the store`).to.not.equal(undefined);
    expect(contentHash(bytes!)).to.equal(resultHash);
    return this.cipher.decryptResult(bytes!).value;
  }

  /** Decrypts the result the job was finalized with, found by the hash the contract holds for it. */
  async decryptResultOf(jobId: Hash): Promise<number> {
    return this.decrypt(lower((await this.deployed.contract.jobOf(jobId)).resultHash));
  }

  dispose(): void {
    this.cipher.dispose();
  }
}

export const lower = (value: string) => value.toLowerCase() as Hash;

/** A job as `jobOf` reports it. */
export type JobView = Awaited<ReturnType<PmheContract["jobOf"]>>;

/** Polls the contract until the job has `status`; fails with `what` in the message once `timeoutMs` has passed. */
export async function waitForJobStatus(deployed: Deployed, jobId: Hash, status: JobStatusCode, what: string, options: WaitOptions): Promise<void> {
  await waitFor(what, async () => (Number((await deployed.contract.jobOf(jobId)).status) === status ? true : undefined), options);
}

/** Polls the contract until none of the jobs is Requested any more; returns them as it then reports them, in order. */
export async function waitForSettledJobs(deployed: Deployed, jobIds: readonly Hash[], what: string, options: WaitOptions): Promise<JobView[]> {
  return waitFor(
    what,
    async () => {
      const jobs = await Promise.all(jobIds.map((jobId) => deployed.contract.jobOf(jobId)));
      return jobs.every((job) => Number(job.status) !== JobStatus.Requested) ? jobs : undefined;
    },
    options,
  );
}

/** `waitForSettledJobs` for one job. */
export async function waitForSettledJob(deployed: Deployed, jobId: Hash, what: string, options: WaitOptions): Promise<JobView> {
  const [job] = await waitForSettledJobs(deployed, [jobId], what, options);
  return job!;
}
