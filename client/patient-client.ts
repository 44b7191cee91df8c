import type { ContractTransactionReceipt, Signer } from "ethers";
import type { ContractMethodArgs, TypedContractMethod } from "../types/ethers-contracts/common.js";
import { BlobStoreError, type BlobClient, type DeleteAuth, type UploadAuth } from "../protocol/blob-client.js";
import { checkDeployment, connectPmhe, jobIdFromReceipt, JobStatus, type PmheContract } from "../protocol/chain.js";
import { ContractCallError, JOB_STATUS_NAMES, namedContractCall } from "../protocol/contract-errors.js";
import type { CkksEngine, KeySet } from "../protocol/fhe/engine.js";
import { FheError } from "../protocol/fhe/errors.js";
import { openKeyBundle, readJobResultHeader, readRecordsHeader, type KeyBundleHeader } from "../protocol/fhe/headers.js";
import { chooseLayout, type Layout } from "../protocol/fhe/layouts.js";
import { contentHash, type Hash } from "../protocol/hash.js";
import {
  buildTuple,
  finalPrediction,
  finalResultStage,
  isFinalRound,
  modelHash as hashOfModel,
  parseModelBytes,
  ReadingError,
  roundCount,
  roundInput,
  roundResultStage,
  serverStage,
  type Model,
  type Prediction,
  type Reading,
} from "../protocol/model.js";
import type { RecordTree } from "../protocol/merkle.js";
import { modelKeysProblem } from "../protocol/model-keys.js";
import { sealShare } from "../protocol/result-share.js";
import { uploadDomainFor, type UploadDomain, type UploadPurpose } from "../protocol/upload-auth.js";
import type { UploadSessionKeeper } from "../protocol/upload-session.js";
import {
  DisputedResultError,
  ForeignKeyBundleError,
  IntermediateResultError,
  KeyOwnerMismatchError,
  KeysDoNotFitModelError,
  ModelMismatchError,
  PredictionExpiredError,
  PredictionFailedError,
  PredictionTimeoutError,
  ResultVerificationError,
  ShareRefusedError,
} from "./errors.js";
import { consentsOf, type PatientConsent } from "./consents.js";
import { CipherCrypto } from "./crypto/cipher-crypto.js";
import type { PatientCrypto } from "./crypto/patient-crypto.js";
import { patientHistory, type PastJob } from "./history.js";
import { backUpKeys, type KeyBackupReceipt } from "./key-backup.js";
import { jobState, watchJob, type JobState, type WatchOptions } from "./job-status.js";
import type { ModelRef } from "./model-ref.js";
import { verdictOf, type ResultVerdict } from "./verdict.js";

interface PatientClientSettings {
  /** The patient's own wallet; it signs every transaction and upload of this client. */
  signer: Signer;
  contractAddress: string;
  blobs: BlobClient;
  pollIntervalMs?: number;
  /** The chain's RPC URL, named in messages when the deployment check fails. */
  rpcUrl?: string;
  /** The deployment's chain: a wallet on another chain is refused (WrongChainError) before anything is signed. */
  chainId?: bigint;
  /** Where the patient's history and consents are read from (the deployment block); 0 by default. */
  fromBlock?: number;
  /**
   * Uploads and deletions signed by a session key the wallet delegated to (protocol/upload-session.ts): the wallet
   * signs once per session instead of once per upload, so a prediction costs one confirmation, its transaction.
   * Without it, the wallet signs every upload itself (what a CLI with a key file wants: it prompts nobody).
   */
  uploadSessions?: UploadSessionKeeper;
}

/**
 * The patient's cryptography comes as a PatientCrypto (in-process, or a browser worker's), or, in Node, as an engine
 * and a key set that the client opens itself (and frees on `dispose`; the engine stays the caller's).
 */
export type PatientClientOptions = PatientClientSettings &
  ({ crypto: PatientCrypto; engine?: undefined; keys?: undefined } | { engine: CkksEngine; keys: KeySet; crypto?: undefined });

/** How a result is accepted. */
export interface VerifyOptions {
  /**
   * Present a result some operator in office voted against, marked `disputed: true`, instead of refusing it with
   * DisputedResultError. Off by default: a disputed result is not final.
   */
  acceptDisputed?: boolean;
}

export interface PredictOptions extends VerifyOptions {
  timeoutMs?: number;
}

export interface RoundJob extends ResultVerdict {
  round: number;
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
}

export interface BatchPredictionResult extends ResultVerdict {
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
  layout: Layout;
  /** One per reading, in order. */
  predictions: Prediction[];
}

export interface PredictionResult extends ResultVerdict {
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
  /** T = w·x + b, decrypted on this device. */
  logit: number;
  /** sigmoid(T): the second client stage of the interaction protocol. */
  probability: number;
  predictedClass: 0 | 1;
  /** For multi-round models, every round's job (the top-level ids are the final round's). */
  rounds?: RoundJob[];
}

export interface VerifiedResult {
  bytes: Uint8Array;
  resultHash: Hash;
  verdict: ResultVerdict;
}

/** Retries of a record upload refused by a store that does not see a just-mined registration yet, and their spacing. */
const RECORD_UPLOAD_RETRIES = 3;
const RECORD_UPLOAD_RETRY_MS = 400;

const lower = (value: string) => value.toLowerCase() as Hash;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The patient's side of the protocol, the same for the CLI and the web app (browser-safe: SEAL stays behind the
 * PatientCrypto). The secret key never leaves it: only the key bundle, encrypted records, shares sealed to a
 * hospital, key backups sealed under the wallet's signature, and hashes are sent anywhere. Every contract call goes
 * through `namedContractCall`, so a refusal surfaces as a ContractCallError with the contract error's name and
 * sentence.
 */
export class PatientClient {
  readonly crypto: PatientCrypto;
  /** Set when this client opened the crypto itself (engine and keys given): freed by `dispose`. */
  private readonly ownedCrypto: PatientCrypto | undefined;
  readonly keyBundleHash: Hash;
  /** The patient the key bundle was made for (lower case); the signer must be this wallet. */
  readonly keyOwner: string;
  private readonly pollIntervalMs: number;
  private readonly keyHeader: KeyBundleHeader & { relinKeys: boolean };
  private readonly contract: PmheContract;
  private domain: Promise<UploadDomain> | undefined;
  private checked: Promise<void> | undefined;
  private readonly modelChecks = new Map<string, Promise<void>>();
  /** Block of each job's request, for reading its votes without scanning the chain from genesis. */
  private readonly requestBlocks = new Map<Hash, number>();

  constructor(private readonly options: PatientClientOptions) {
    this.contract = connectPmhe(options.contractAddress, options.signer);
    this.ownedCrypto = options.crypto ? undefined : new CipherCrypto(options.engine, options.keys);
    this.crypto = options.crypto ?? this.ownedCrypto!;
    this.keyBundleHash = this.crypto.keyBundleHash;
    // Every record names its patient and key bundle: the patient is the one the bundle was made for.
    this.keyOwner = this.crypto.owner;
    const bundle = openKeyBundle(this.crypto.keyBundle);
    this.keyHeader = { ...bundle.header, relinKeys: bundle.envelope.sections.has("relinKeys") };
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
  }

  /**
   * Refuses, before anything is encrypted or sent, a model these keys cannot evaluate (another parameter set, or
   * tuples wider than the key bundle's rotation keys): the job would only fail on-chain with ParameterMismatch.
   */
  requireKeysFit(model: Model): void {
    const problem = modelKeysProblem(model, this.keyHeader);
    if (problem) throw new KeysDoNotFitModelError(model.name, problem);
  }

  /** Frees the secret key if this client opened it (engine and keys given); a PatientCrypto passed in stays the caller's. */
  dispose(): void {
    void this.ownedCrypto?.dispose(); // synchronous in effect: CipherCrypto frees before its first await
  }

  /** The patient's wallet address (the signer's). */
  address(): Promise<string> {
    return this.options.signer.getAddress();
  }

  /**
   * Once, before anything is uploaded or sent: the address holds a PMHE contract (a wrong address would otherwise
   * take transactions that "succeed" and do nothing), and the key bundle is this signer's.
   */
  private ready(): Promise<void> {
    this.checked ??= (async () => {
      const { signer, contractAddress, rpcUrl, chainId } = this.options;
      if (!signer.provider) throw new Error("the patient's signer needs a provider: connect the wallet to the chain");
      await checkDeployment(signer.provider, contractAddress, { where: rpcUrl, expectedChainId: chainId });
      const address = (await signer.getAddress()).toLowerCase();
      if (address !== this.keyOwner) throw new KeyOwnerMismatchError(this.keyOwner, address);
    })();
    const pending = this.checked;
    pending.catch(() => {
      if (this.checked === pending) this.checked = undefined; // ask again next time
    });
    return pending;
  }

  /** The EIP-712 domain of uploads and deletions: this chain and deployment (asked of the chain once). */
  private async uploadDomain(): Promise<UploadDomain> {
    const { signer, contractAddress } = this.options;
    if (!this.domain) {
      const pending = uploadDomainFor(signer.provider!, contractAddress);
      pending.catch(() => {
        if (this.domain === pending) this.domain = undefined;
      });
      this.domain = pending;
    }
    return this.domain;
  }

  /** Uploads are signed by the patient's wallet, or by its upload session's key when the client has one. */
  private async uploadAuth(purpose: UploadPurpose): Promise<UploadAuth> {
    const { signer, uploadSessions } = this.options;
    const domain = await this.uploadDomain();
    if (uploadSessions) return { session: await uploadSessions.session(signer, domain), purpose };
    return { signer, purpose, domain };
  }

  /** A deletion is signed like an upload: by the wallet, or by its upload session's key. */
  private async deleteAuth(): Promise<DeleteAuth> {
    const auth = await this.uploadAuth("record");
    return auth.session ? { session: auth.session } : { signer: auth.signer, domain: auth.domain };
  }

  /**
   * Opens the upload session now (the wallet's one delegation signature), so that the next prediction asks the
   * wallet for its transaction only. A no-op for a client without `uploadSessions`, or with a session running.
   */
  async prepareUploads(): Promise<void> {
    if (this.options.uploadSessions) await this.uploadAuth("record");
  }

  /**
   * Sends one transaction and waits for it; a revert comes back named (ContractCallError). The call is tried first
   * (`staticCall`): a refusal then never reaches the wallet, which matters for a NonceManager, since it counts a
   * nonce before the node has accepted the transaction.
   */
  private async send<A extends unknown[]>(
    action: string,
    method: TypedContractMethod<A, unknown[], "nonpayable">,
    ...args: ContractMethodArgs<A, "nonpayable">
  ): Promise<ContractTransactionReceipt> {
    // The same arguments, without overrides (none are passed here), as a call.
    await namedContractCall(action, () => method.staticCall(...(args as ContractMethodArgs<A, "view">)));
    try {
      return await namedContractCall(action, async () => {
        const tx = await method.send(...args);
        const receipt = await tx.wait();
        if (!receipt) throw new Error(`the ${action} transaction ${tx.hash} was dropped; run the command again`);
        return receipt;
      });
    } catch (err) {
      // Refused after all (the state changed in between) or not sent: give back the nonce the NonceManager took.
      const { signer } = this.options;
      if ("reset" in signer && typeof signer.reset === "function") signer.reset();
      throw err;
    }
  }

  /**
   * Uploads the key bundle and registers its hash, unless it already is the patient's current bundle (then nothing
   * is uploaded or sent: a bundle is megabytes).
   */
  async register(): Promise<{ keyBundleHash: Hash; changed: boolean }> {
    await this.ready();
    const { blobs, signer } = this.options;
    const patient = await signer.getAddress();
    const current = await namedContractCall("currentKeyBundle", () => this.contract.currentKeyBundle(patient)).then(
      ([hash]) => lower(hash),
      (err: unknown) => {
        if (err instanceof ContractCallError && err.errorName === "PatientNotRegistered") return undefined;
        throw err;
      },
    );
    if (current === this.keyBundleHash) return { keyBundleHash: this.keyBundleHash, changed: false };
    await blobs.put(this.crypto.keyBundle, await this.uploadAuth("key-bundle"));
    await this.send("registerKeys", this.contract.registerKeys, this.keyBundleHash, blobs.urlOf(this.keyBundleHash));
    return { keyBundleHash: this.keyBundleHash, changed: true };
  }

  /** The model id must stand for exactly this model's content: the client stages run here use the file. */
  private checkModel(ref: ModelRef): Promise<void> {
    const fileHash = hashOfModel(ref.model);
    // Per (id, content): the same id with another file must be checked again.
    const key = `${ref.id}:${fileHash}`;
    let check = this.modelChecks.get(key);
    if (!check) {
      check = (async () => {
        const [, onChainHash] = await namedContractCall("modelOf", () => this.contract.modelOf(ref.id));
        if (lower(onChainHash) !== fileHash) throw new ModelMismatchError(ref.id, lower(onChainHash), fileHash);
      })();
      check.catch(() => this.modelChecks.delete(key));
      this.modelChecks.set(key, check);
    }
    return check;
  }

  /** First client stage for one reading of a one-round model: tuple → CKKS ciphertext → blob store (not anchored). */
  async uploadReading(model: Model, reading: Reading): Promise<Hash> {
    if (roundCount(model) !== 1) throw new ReadingError(`model ${model.name} has ${roundCount(model)} rounds; use predict(), which drives every round`);
    this.requireKeysFit(model);
    await this.ready();
    return this.uploadRecord(await this.crypto.encryptTuple(buildTuple(model, reading), { stage: finalResultStage(model) }));
  }

  /**
   * First client stage for many readings of a one-round model as one record (the layout `predictMany` uses):
   * tuples → one encrypted record → blob store. Anchoring and requesting are left to the caller (`anchorAndRequest`).
   */
  async uploadReadings(model: Model, readings: readonly Reading[]): Promise<{ recordHash: Hash; layout: Layout }> {
    const { layout, record } = await this.encryptReadings(model, readings);
    await this.ready();
    return { recordHash: await this.uploadRecord(record), layout };
  }

  private async encryptReadings(model: Model, readings: readonly Reading[]): Promise<{ layout: Layout; record: Uint8Array }> {
    if (roundCount(model) !== 1) throw new ReadingError(`model ${model.name} has ${roundCount(model)} rounds; predict its readings one by one`);
    if (readings.length === 0) throw new ReadingError("no readings to predict");
    this.requireKeysFit(model);
    const tuples = readings.map((reading) => buildTuple(model, reading));
    const layout = chooseLayout(tuples.length, tuples[0]!.length, this.crypto.parameterSet);
    return { layout, record: await this.crypto.encryptRecords(layout, tuples, { stage: finalResultStage(model) }) };
  }

  /**
   * Uploads a record. A store may not yet see a registration this client has just had mined (it reads another node
   * that is a block behind, or a cached answer): when it refuses with not_registered or key_bundle_not_current while
   * the chain already holds this key bundle as current, the upload is tried again a few times, a little later.
   */
  async uploadRecord(record: Uint8Array): Promise<Hash> {
    const auth = await this.uploadAuth("record");
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.blobs.put(record, auth);
      } catch (err) {
        const lagging = err instanceof BlobStoreError && (err.code === "not_registered" || err.code === "key_bundle_not_current");
        if (!lagging || attempt > RECORD_UPLOAD_RETRIES || !(await this.isCurrentKeyBundle())) throw err;
        await sleep(RECORD_UPLOAD_RETRY_MS * attempt);
      }
    }
  }

  private async isCurrentKeyBundle(): Promise<boolean> {
    const patient = await this.options.signer.getAddress();
    const [current] = await this.contract.currentKeyBundle(patient).catch(() => [undefined]);
    return current?.toLowerCase() === this.keyBundleHash;
  }

  /**
   * Checks with a call that the request would go through (model usable, patient registered...) before the record is
   * uploaded: a refusal then costs neither an upload nor a transaction. Then uploads and sends ONE transaction.
   */
  private async submitAndRequest(record: Uint8Array, ref: ModelRef): Promise<{ recordHash: Hash; jobId: Hash; blockNumber: number }> {
    await this.ready();
    await this.checkModel(ref);
    const recordHash = contentHash(record);
    await namedContractCall("anchorAndRequest", () => this.contract.anchorAndRequest.staticCall(recordHash, ref.id));
    await this.uploadRecord(record);
    return { recordHash, ...(await this.anchorAndRequest(recordHash, ref.id)) };
  }

  /** Anchors an uploaded record and requests a prediction on it: one transaction, one wallet confirmation. */
  async anchorAndRequest(recordHash: Hash, modelId: Hash): Promise<{ jobId: Hash; blockNumber: number }> {
    await this.ready();
    return this.requested(await this.send("anchorAndRequest", this.contract.anchorAndRequest, recordHash, modelId));
  }

  /** Requests a prediction on a record this patient anchored before. */
  async requestPrediction(recordHash: Hash, modelId: Hash): Promise<{ jobId: Hash; blockNumber: number }> {
    await this.ready();
    const patient = await this.options.signer.getAddress();
    return this.requested(await this.send("requestPrediction", this.contract.requestPrediction, patient, recordHash, modelId));
  }

  /**
   * Anchors uploaded records as one batch: their manifest is uploaded (the store keeps the records while the root is
   * anchored, and deletes them when it is erased), then ONE transaction puts the Merkle root on-chain. Each record is
   * then requested with `requestBatchPrediction` and its proof from the returned tree.
   */
  async anchorBatch(recordHashes: readonly Hash[]): Promise<{ tree: RecordTree; manifestHash: Hash; txHash: string; blockNumber: number }> {
    await this.ready();
    const patient = await this.options.signer.getAddress();
    // Loaded on first use: the tree library is large, and a page that never anchors a batch need not fetch it.
    const [{ buildBatchManifest }, { buildRecordTree }] = await Promise.all([import("../protocol/batch-manifest.js"), import("../protocol/merkle.js")]);
    const { manifest, bytes } = buildBatchManifest(patient, recordHashes);
    const tree = buildRecordTree(manifest.records);
    await namedContractCall("anchorBatch", () => this.contract.anchorBatch.staticCall(tree.root, tree.count));
    const manifestHash = await this.options.blobs.put(bytes, await this.uploadAuth("batch-manifest"));
    const receipt = await this.send("anchorBatch", this.contract.anchorBatch, tree.root, tree.count);
    return { tree, manifestHash, txHash: receipt.hash, blockNumber: receipt.blockNumber };
  }

  /** Requests a prediction on one record of this patient's anchored batch `root`, proven by `proof`. */
  async requestBatchPrediction(root: Hash, recordHash: Hash, proof: readonly Hash[], modelId: Hash): Promise<{ jobId: Hash; blockNumber: number }> {
    await this.ready();
    const patient = await this.options.signer.getAddress();
    return this.requested(await this.send("requestBatchPrediction", this.contract.requestBatchPrediction, patient, root, recordHash, [...proof], modelId));
  }

  private requested(receipt: ContractTransactionReceipt): { jobId: Hash; blockNumber: number } {
    const jobId = jobIdFromReceipt(this.contract, receipt);
    this.requestBlocks.set(jobId, receipt.blockNumber);
    return { jobId, blockNumber: receipt.blockNumber };
  }

  /**
   * Waits until the job is settled on-chain: its result hash once `quorum` operators agreed; PredictionFailedError,
   * PredictionExpiredError (expired, or past its deadline: no vote can settle it then) or PredictionTimeoutError.
   */
  async waitForResult(jobId: Hash, timeoutMs = 120_000): Promise<Hash> {
    const { contract } = this;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await namedContractCall("jobOf", () => contract.jobOf(jobId));
      const status = Number(job.status);
      if (status === JobStatus.Finalized) return lower(job.resultHash);
      if (status === JobStatus.Failed) throw new PredictionFailedError(jobId, Number(job.failureReason));
      if (status === JobStatus.Expired) throw new PredictionExpiredError(jobId);
      const head = await this.options.signer.provider!.getBlock("latest");
      if (head && head.timestamp > Number(job.deadline)) throw new PredictionExpiredError(jobId, { onChain: false, deadline: Number(job.deadline) });
      if (Date.now() >= deadline) throw new PredictionTimeoutError(jobId, timeoutMs);
      await sleep(this.pollIntervalMs);
    }
  }

  /**
   * Fetches the result blob and checks it against the chain before anything touches the secret key: its hash must
   * be the committed one and its header must name this job, record and model. Then the votes: a result some
   * operator in office voted against is refused (DisputedResultError) unless `acceptDisputed`.
   */
  async fetchVerifiedResult(jobId: Hash, options: VerifyOptions = {}): Promise<VerifiedResult> {
    const { contract } = this;
    const { blobs } = this.options;
    const job = await namedContractCall("jobOf", () => contract.jobOf(jobId));
    const status = Number(job.status);
    if (status !== JobStatus.Finalized) {
      throw new ResultVerificationError(jobId, `the job is ${JOB_STATUS_NAMES[status] ?? status} on-chain, not Finalized`);
    }
    const resultHash = lower(job.resultHash);
    const bytes = await blobs.get(resultHash);
    if (!bytes) throw new ResultVerificationError(jobId, `the blob store has no result ${resultHash}`);
    const actual = contentHash(bytes);
    if (actual !== resultHash) throw new ResultVerificationError(jobId, `the blob hashes to ${actual}, the chain committed ${resultHash}`);
    const header = readJobResultHeader(bytes);
    if (header.jobId !== jobId || header.recordHash !== lower(job.recordHash) || header.modelHash !== lower(job.modelHash)) {
      throw new ResultVerificationError(jobId, "the result's header names a different job, record or model");
    }
    const verdict = await verdictOf(contract, jobId, { resultHash, votes: Number(job.votes), quorum: Number(job.quorum) }, this.requestBlocks.get(jobId));
    if (verdict.disputed && !options.acceptDisputed) {
      throw new DisputedResultError(jobId, resultHash, verdict.votes, verdict.quorum, verdict.dissent);
    }
    return { bytes, resultHash, verdict };
  }

  /**
   * Second client stage: decrypt T of a single-record linear result and apply the sigmoid locally (or, for a
   * non-interactive model, decrypt the server's p(T) directly).
   */
  async decryptPrediction(model: Model, resultBytes: Uint8Array): Promise<Prediction> {
    const { layout, stage, values } = await this.crypto.decrypt(resultBytes);
    if (layout !== "single-record" || stage !== finalResultStage(model)) {
      throw new FheError("MalformedResult", `expected a single-record ${finalResultStage(model)} result, got a ${layout} ${stage} one`);
    }
    return finalPrediction(model, values[0]!);
  }

  /** Second client stage for a result of any layout: one prediction per record, in record order. */
  async decryptPredictions(model: Model, resultBytes: Uint8Array): Promise<Prediction[]> {
    const { stage, values } = await this.crypto.decrypt(resultBytes);
    if (stage !== finalResultStage(model)) throw new FheError("MalformedResult", `expected a ${finalResultStage(model)} result, got a ${stage} one`);
    return values.map((value) => finalPrediction(model, value));
  }

  /** The whole path for one reading: encrypt, upload, one transaction, wait, fetch, verify, decrypt. */
  async predict(ref: ModelRef, reading: Reading, options: PredictOptions = {}): Promise<PredictionResult> {
    this.requireKeysFit(ref.model);
    if (roundCount(ref.model) > 1) return this.predictRounds(ref, reading, options);
    const record = await this.crypto.encryptTuple(buildTuple(ref.model, reading), { stage: finalResultStage(ref.model) });
    const { recordHash, jobId } = await this.submitAndRequest(record, ref);
    await this.waitForResult(jobId, options.timeoutMs);
    const { bytes, resultHash, verdict } = await this.fetchVerifiedResult(jobId, options);
    return { jobId, recordHash, resultHash, ...(await this.decryptPrediction(ref.model, bytes)), ...verdict };
  }

  /**
   * The interaction protocol over several rounds: each round is its own on-chain job (one transaction each). The
   * server evaluates the round's linear stage (h dot products over the tuple, replicated into h blocks of one
   * ciphertext); this device decrypts the h values, applies the round's activation and standardisation,
   * re-encrypts and submits the next round; the final round's T goes through the sigmoid here. Every round's
   * result is verified, votes included: a disputed intermediate value would corrupt everything after it.
   */
  private async predictRounds(ref: ModelRef, reading: Reading, options: PredictOptions): Promise<PredictionResult> {
    const { model } = ref;
    const rounds: RoundJob[] = [];
    let tuple = roundInput(model, 0, reading);
    for (let round = 0; ; round++) {
      const rows = serverStage(model, round).weights.length;
      const record = await this.crypto.encryptRecords("packed-records", Array.from({ length: rows }, () => tuple), { round, stage: roundResultStage(model, round) });
      const { recordHash, jobId } = await this.submitAndRequest(record, ref);
      await this.waitForResult(jobId, options.timeoutMs);
      const { bytes, resultHash, verdict } = await this.fetchVerifiedResult(jobId, options);
      rounds.push({ round, jobId, recordHash, resultHash, ...verdict });
      const { values } = await this.crypto.decrypt(bytes);
      if (values.length !== rows) throw new ResultVerificationError(jobId, `round ${round} returned ${values.length} values, expected ${rows}`);
      if (isFinalRound(model, round)) {
        // The weakest round decides how far the whole prediction can be trusted.
        const disputed = rounds.some((r) => r.disputed);
        const overall: ResultVerdict = {
          votes: Math.min(...rounds.map((r) => r.votes)),
          quorum: Math.min(...rounds.map((r) => r.quorum)),
          singleOperator: rounds.some((r) => r.singleOperator),
          disputed,
          dissent: rounds.flatMap((r) => r.dissent),
        };
        return { jobId, recordHash, resultHash, ...finalPrediction(model, values[0]!), ...overall, rounds };
      }
      tuple = roundInput(model, round + 1, values);
    }
  }

  /**
   * Many readings of one patient (windows of a wearable's stream, say) as ONE job of a one-round model, in one
   * transaction: the engine picks the layout from the count (packed records up to 256, one ciphertext per feature
   * beyond), so the upload and the server's work are those of a single ciphertext (or n), not one per reading.
   */
  async predictMany(ref: ModelRef, readings: readonly Reading[], options: PredictOptions = {}): Promise<BatchPredictionResult> {
    const { layout, record } = await this.encryptReadings(ref.model, readings);
    const { recordHash, jobId } = await this.submitAndRequest(record, ref);
    await this.waitForResult(jobId, options.timeoutMs);
    const { bytes, resultHash, verdict } = await this.fetchVerifiedResult(jobId, options);
    const predictions = await this.decryptPredictions(ref.model, bytes);
    if (predictions.length !== readings.length) throw new ResultVerificationError(jobId, `the result holds ${predictions.length} values for ${readings.length} readings`);
    return { jobId, recordHash, resultHash, layout, predictions, ...verdict };
  }

  /**
   * The prediction of one of this patient's finished jobs, decrypted again: the model comes from the blob store by
   * the hash the job names (and is checked against it), the result is verified as by `fetchVerifiedResult`.
   */
  async predictionOf(jobId: Hash, options: VerifyOptions = {}): Promise<Prediction & { modelId: Hash } & ResultVerdict> {
    const { model, modelId, final, values, verdict } = await this.decryptJob(jobId, options);
    if (!final) throw new ShareRefusedError(jobId, "it is not the final round of its model, or its record is gone");
    if (values.length !== 1) throw new ShareRefusedError(jobId, `it holds ${values.length} predictions, and a share holds one`);
    return { ...finalPrediction(model, values[0]!), modelId, ...verdict };
  }

  /**
   * Every prediction of one of this patient's finished jobs (one per record, any layout), decrypted on demand: what
   * the history view opens. A job of an intermediate round of a multi-round model holds no prediction
   * (IntermediateResultError); a job under another key bundle than this client's cannot be decrypted here.
   */
  async predictionsOf(jobId: Hash, options: VerifyOptions = {}): Promise<{ jobId: Hash; modelId: Hash; predictions: Prediction[] } & ResultVerdict> {
    const { model, modelId, final, round, values, verdict } = await this.decryptJob(jobId, options);
    if (!final) throw new IntermediateResultError(jobId, round, roundCount(model));
    return { jobId, modelId, predictions: values.map((value) => finalPrediction(model, value)), ...verdict };
  }

  /** Fetches a finished job's model (checked against its hash) and verified result, and decrypts the result. */
  private async decryptJob(jobId: Hash, options: VerifyOptions) {
    await this.ready();
    const job = await namedContractCall("jobOf", () => this.contract.jobOf(jobId));
    const keyBundle = lower(job.keyBundleHash);
    if (keyBundle !== this.keyBundleHash && Number(job.status) === JobStatus.Finalized) throw new ForeignKeyBundleError(jobId, keyBundle, this.keyBundleHash);
    const modelHash = lower(job.modelHash);
    const modelBytes = await this.options.blobs.get(modelHash);
    if (!modelBytes || contentHash(modelBytes) !== modelHash) {
      throw new ResultVerificationError(jobId, `the blob store does not hold model ${modelHash} as published`);
    }
    const model = parseModelBytes(modelBytes);
    let round = 0;
    let final = true;
    if (roundCount(model) > 1) {
      const record = await this.options.blobs.get(lower(job.recordHash));
      const header = record ? readRecordsHeader(record) : undefined;
      round = header && "round" in header ? (header.round ?? 0) : 0;
      final = header !== undefined && isFinalRound(model, round);
    }
    const { bytes, verdict } = await this.fetchVerifiedResult(jobId, options);
    const { values } = await this.crypto.decrypt(bytes);
    return { model, modelId: lower(job.modelId), round, final, values, verdict };
  }

  /** Where this client's job and result views come from: the coprocessor's API, and the chain as its fallback. */
  private get statusSources() {
    return { blobs: this.options.blobs, contract: this.contract, pollIntervalMs: this.pollIntervalMs };
  }

  /** A job's state now, through `GET /jobs/:jobId` (with its Retry-After), or from the chain if the API does not answer. */
  jobStatus(jobId: Hash): Promise<JobState> {
    return jobState(jobId, this.statusSources);
  }

  /** Follows a job until it is settled, as often as the API's Retry-After allows (see job-status.ts). */
  watchJob(jobId: Hash, options: WatchOptions = {}) {
    return watchJob(jobId, this.statusSources, options);
  }

  /**
   * This patient's jobs, rebuilt from the chain (requests, final status, result hashes), in chain order; those under
   * the open key set are `decryptable` with `predictionsOf`.
   */
  async history(range: { fromBlock?: number; maxRange?: number } = {}): Promise<PastJob[]> {
    const patient = await this.options.signer.getAddress();
    return patientHistory(this.contract, patient, { fromBlock: this.options.fromBlock, ...range, openKeyBundle: this.keyBundleHash });
  }

  /** This patient's consents as they stand now (active, expired or revoked), one per hospital. */
  async consents(range: { fromBlock?: number; maxRange?: number } = {}): Promise<PatientConsent[]> {
    const patient = await this.options.signer.getAddress();
    return consentsOf(this.contract, patient, { fromBlock: this.options.fromBlock, ...range });
  }

  /**
   * Backs the secret key up in the blob store, sealed under a key only this wallet's signature gives (one signature
   * prompt). The same wallet restores it anywhere with `restoreKeys` (./key-backup.ts).
   */
  async backupKeys(): Promise<KeyBackupReceipt> {
    await this.ready();
    const { signer, contractAddress, blobs } = this.options;
    const uploadAuth = this.options.uploadSessions ? await this.uploadAuth("key-backup") : undefined;
    return backUpKeys({ signer, contractAddress, blobs, crypto: this.crypto, ...(uploadAuth ? { uploadAuth } : {}) });
  }

  /**
   * Lets `hospital` request predictions on this patient's records until `expiresAt` (unix seconds), and, when
   * `mayReceiveResults`, receive shared results. Granting again replaces the previous consent.
   */
  async grantConsent(hospital: string, expiresAt: number, mayReceiveResults: boolean): Promise<{ txHash: string }> {
    await this.ready();
    const receipt = await this.send("grantConsent", this.contract.grantConsent, hospital, expiresAt, mayReceiveResults);
    return { txHash: receipt.hash };
  }

  /** Withdraws the consent given to `hospital`, with immediate effect (jobs already requested are unaffected). */
  async revokeConsent(hospital: string): Promise<{ txHash: string }> {
    await this.ready();
    const receipt = await this.send("revokeConsent", this.contract.revokeConsent, hospital);
    return { txHash: receipt.hash };
  }

  /**
   * Shares a finalized job's prediction with a consented hospital: rounded (protocol/result-share.ts rounds whatever
   * it is given) and sealed to the hospital's X25519 key as registered on-chain, uploaded as a `result-share`, and its
   * hash put on-chain. Never a raw decryption: the full decrypted polynomial would give away the secret key.
   */
  async shareResult(jobId: Hash, hospital: string, prediction: Pick<Prediction, "probability" | "predictedClass">): Promise<{ sharedHash: Hash; locator: string }> {
    await this.ready();
    const { contract } = this;
    const { blobs, signer } = this.options;
    const [job, hospitalKey] = await Promise.all([
      namedContractCall("jobOf", () => contract.jobOf(jobId)),
      namedContractCall("hospitalKeyOf", () => contract.hospitalKeyOf(hospital)),
    ]);
    const share = sealShare(
      { jobId, modelId: lower(job.modelId), probability: prediction.probability, predictedClass: prediction.predictedClass },
      { patient: await signer.getAddress(), hospital, hospitalKey: lower(hospitalKey) },
    );
    const sharedHash = contentHash(share);
    const locator = blobs.urlOf(sharedHash);
    // Refused on-chain (no consent covering results, not this patient's job, not finalized)? Then nothing is uploaded.
    await namedContractCall("shareResult", () => contract.shareResult.staticCall(jobId, hospital, sharedHash, locator));
    await blobs.put(share, await this.uploadAuth("result-share"));
    await this.send("shareResult", contract.shareResult, jobId, hospital, sharedHash, locator);
    return { sharedHash, locator };
  }

  /**
   * Erases one of this patient's records: flagged on-chain first (no new job can use it by any route, and every
   * coprocessor deletes the blob when it sees the event), then deleted from the blob store with a signed request.
   * `blobDeleted` is false when the store no longer held it (a coprocessor was quicker) or refused; the on-chain
   * erasure stands either way, and `blobNote` says what happened to the blob.
   */
  async eraseRecord(recordHash: Hash): Promise<{ recordHash: Hash; txHash: string | null; blobDeleted: boolean; blobNote: string }> {
    await this.ready();
    const { blobs, signer } = this.options;
    const patient = await signer.getAddress();
    // Erasing again only retries the blob deletion: the on-chain flag is already set and cannot be set twice.
    const [, , , erased] = await namedContractCall("recordOf", () => this.contract.recordOf(patient, recordHash));
    const txHash = erased ? null : (await this.send("eraseRecord", this.contract.eraseRecord, recordHash)).hash;
    try {
      const deleted = await blobs.delete(recordHash, await this.deleteAuth());
      const blobNote = deleted ? "deleted from the blob store" : "the blob store no longer holds it";
      return { recordHash, txHash, blobDeleted: deleted, blobNote };
    } catch (err) {
      const blobNote =
        `erased on-chain, but the blob store did not delete it (${(err as Error).message}); coprocessors delete erased ` +
        "records when they see the erasure, and running erase again retries the deletion";
      return { recordHash, txHash, blobDeleted: false, blobNote };
    }
  }
}
