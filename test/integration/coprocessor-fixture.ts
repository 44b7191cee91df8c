import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager, type Wallet } from "ethers";
import { freePort } from "../../local/child-process.js";
import { deployPmhe } from "../../local/deploy.js";
import type { LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount } from "../../local/stack.js";
import { BlobClient } from "../../protocol/blob-client.js";
import { jobIdFromReceipt, modelIdOf, type PmheContract } from "../../protocol/chain.js";
import type { CkksEngine, KeySet, PatientCipher } from "../../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { modelBytes, parseModelBytes, serverStage, type Model } from "../../protocol/model.js";
import { uploadDomain, type UploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";

/**
 * What the coprocessor integration tests share: a PMHE deployment on a real `hardhat node`, the published test
 * model, and patients that upload through a running coprocessor's API and transact on the chain themselves, with
 * nothing from `client/` in between (only the protocol modules both sides use).
 */

export const ROOT = join(import.meta.dirname, "..", "..");

export async function loadTestModel(): Promise<Model> {
  return parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
}

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

export async function deploy(chain: LocalChain, options: { quorum?: number; jobTimeout?: number; operators?: number } = {}): Promise<Deployed> {
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

export async function tempBlobDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "pmhe-test-blobs-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
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

  dispose(): void {
    this.cipher.dispose();
  }
}

export const lower = (value: string) => value.toLowerCase() as Hash;
