import type { BlobClient, UploadAuth } from "../protocol/blob-client.js";
import type { Signer } from "ethers";
import { connectPmhe, jobIdFromReceipt, JobStatus, type PmheContract } from "../protocol/chain.js";
import type { CkksEngine, KeySet, PatientCipher } from "../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../protocol/hash.js";
import {
  buildTuple,
  finalPrediction,
  isFinalRound,
  modelHash as hashOfModel,
  ReadingError,
  roundCount,
  roundInput,
  serverStage,
  type Model,
  type Prediction,
  type Reading,
} from "../protocol/model.js";
import { chooseLayout, type Layout } from "../protocol/fhe/layouts.js";
import { uploadDomainFor, type UploadDomain, type UploadPurpose } from "../protocol/upload-auth.js";
import { PredictionExpiredError, PredictionFailedError, PredictionTimeoutError, ResultVerificationError } from "./errors.js";

export interface PatientClientOptions {
  engine: CkksEngine;
  /** The patient's own wallet; it signs every transaction of this client. */
  signer: Signer;
  contractAddress: string;
  blobs: BlobClient;
  keys: KeySet;
  pollIntervalMs?: number;
}

export interface RoundJob {
  round: number;
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
}

export interface BatchPredictionResult {
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
  layout: Layout;
  /** One per reading, in order. */
  predictions: Prediction[];
}

export interface PredictionResult {
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

/**
 * The patient's side of the protocol. The secret key is loaded here and never leaves: only the key bundle,
 * encrypted records and hashes are sent anywhere.
 */
export class PatientClient {
  private readonly cipher: PatientCipher;
  readonly keyBundleHash: Hash;
  private readonly pollIntervalMs: number;
  private readonly contract: PmheContract;
  private domain: Promise<UploadDomain> | undefined;

  constructor(private readonly options: PatientClientOptions) {
    this.contract = connectPmhe(options.contractAddress, options.signer);
    this.cipher = options.engine.openSecretKey(options.keys.secretKey);
    this.keyBundleHash = contentHash(options.keys.keyBundle);
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
  }

  dispose(): void {
    this.cipher.dispose();
  }

  /** Uploads are signed by the patient's wallet, for this chain and deployment. */
  private async uploadAuth(purpose: UploadPurpose): Promise<UploadAuth> {
    const { signer, contractAddress } = this.options;
    if (!signer.provider) throw new Error("the patient's signer needs a provider (for the chain id uploads are signed for)");
    if (!this.domain) {
      const pending = uploadDomainFor(signer.provider, contractAddress);
      pending.catch(() => {
        if (this.domain === pending) this.domain = undefined; // ask again next time
      });
      this.domain = pending;
    }
    return { signer, purpose, domain: await this.domain };
  }

  /** Uploads the key bundle and registers its hash, unless it already is the patient's current bundle. */
  async register(): Promise<void> {
    const { contract } = this;
    const { blobs, keys, signer } = this.options;
    await blobs.put(keys.keyBundle, await this.uploadAuth("key-bundle"));
    const patient = await signer.getAddress();
    const current = await contract.currentKeyBundle(patient).then(([hash]) => hash.toLowerCase(), () => undefined);
    if (current === this.keyBundleHash) return;
    await (await contract.registerKeys(this.keyBundleHash, blobs.urlOf(this.keyBundleHash))).wait();
  }

  /** First client stage: readings → standardised tuple → CKKS ciphertext → blob store → anchored on-chain. */
  async submitReading(model: Model, reading: Reading): Promise<Hash> {
    if (roundCount(model) !== 1) throw new ReadingError(`model ${model.name} has ${roundCount(model)} rounds; use predict(), which drives every round`);
    return this.anchorRecordBlob(this.cipher.encryptTuple(buildTuple(model, reading)));
  }

  /** Uploads an encrypted record and anchors its hash under the patient's current key version. */
  private async anchorRecordBlob(record: Uint8Array): Promise<Hash> {
    const recordHash = await this.options.blobs.put(record, await this.uploadAuth("record"));
    await (await this.contract.anchorRecord(recordHash)).wait();
    return recordHash;
  }

  async requestPrediction(recordHash: Hash, modelHash: Hash): Promise<{ jobId: Hash; blockNumber: number }> {
    const receipt = await (await this.contract.requestPrediction(recordHash, modelHash)).wait();
    if (!receipt) throw new Error("requestPrediction transaction was dropped");
    return { jobId: jobIdFromReceipt(this.contract, receipt), blockNumber: receipt.blockNumber };
  }

  /** Waits for the job's JobFinalized (k agreeing coprocessors), JobFailed or JobExpired event. */
  async waitForResult(jobId: Hash, fromBlock: number, timeoutMs = 120_000): Promise<Hash> {
    const { contract } = this;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const [finalized, failed, expired] = await Promise.all([
        contract.queryFilter(contract.filters.JobFinalized(jobId), fromBlock),
        contract.queryFilter(contract.filters.JobFailed(jobId), fromBlock),
        contract.queryFilter(contract.filters.JobExpired(jobId), fromBlock),
      ]);
      const final = finalized.at(-1);
      if (final) return final.args.resultHash.toLowerCase() as Hash;
      const failure = failed.at(-1);
      if (failure) throw new PredictionFailedError(jobId, Number(failure.args.reason));
      if (expired.length > 0) throw new PredictionExpiredError(jobId);
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
    throw new PredictionTimeoutError(jobId, timeoutMs);
  }

  /**
   * Fetches the result blob and checks it against the chain before anything touches the secret key:
   * its hash must be the committed one and its header must name this job, record and model.
   */
  async fetchVerifiedResult(jobId: Hash): Promise<{ bytes: Uint8Array; resultHash: Hash }> {
    const { contract } = this;
    const { blobs, engine } = this.options;
    const job = await contract.jobOf(jobId);
    if (Number(job.status) !== JobStatus.Finalized) {
      throw new ResultVerificationError(jobId, `job status on-chain is ${Number(job.status)}, not Finalized`);
    }
    const resultHash = job.resultHash.toLowerCase() as Hash;
    const bytes = await blobs.get(resultHash);
    if (!bytes) throw new ResultVerificationError(jobId, `blob store has no result ${resultHash}`);
    const actual = contentHash(bytes);
    if (actual !== resultHash) throw new ResultVerificationError(jobId, `blob hashes to ${actual}, chain committed ${resultHash}`);
    const header = engine.readJobResultHeader(bytes);
    if (
      header.jobId !== jobId ||
      header.recordHash !== job.recordHash.toLowerCase() ||
      header.modelHash !== job.modelHash.toLowerCase()
    ) {
      throw new ResultVerificationError(jobId, "result header names a different job, record or model");
    }
    return { bytes, resultHash };
  }

  /** Second client stage: decrypt T and apply the sigmoid locally. */
  decryptPrediction(model: Model, resultBytes: Uint8Array): { logit: number; probability: number; predictedClass: 0 | 1 } {
    const { value: logit } = this.cipher.decryptResult(resultBytes);
    return finalPrediction(model, logit);
  }

  /** The whole path for one reading: encrypt, upload, anchor, request, wait, fetch, verify, decrypt. */
  async predict(model: Model, reading: Reading, options: { timeoutMs?: number } = {}): Promise<PredictionResult> {
    if (roundCount(model) > 1) return this.predictRounds(model, reading, options);
    const recordHash = await this.submitReading(model, reading);
    const { jobId, blockNumber } = await this.requestPrediction(recordHash, hashOfModel(model));
    await this.waitForResult(jobId, blockNumber, options.timeoutMs);
    const { bytes, resultHash } = await this.fetchVerifiedResult(jobId);
    return { jobId, recordHash, resultHash, ...this.decryptPrediction(model, bytes) };
  }

  /**
   * The interaction protocol over several rounds: each round is its own on-chain job. The server evaluates the
   * round's linear stage (h dot products over the tuple, replicated into h blocks of one ciphertext); this device
   * decrypts the h values, applies the round's activation and standardisation, re-encrypts and submits the next
   * round; the final round's T goes through the sigmoid here, as in the one-round case.
   */
  private async predictRounds(model: Model, reading: Reading, options: { timeoutMs?: number }): Promise<PredictionResult> {
    const modelHash = hashOfModel(model);
    const rounds: RoundJob[] = [];
    let tuple = roundInput(model, 0, reading);
    for (let round = 0; ; round++) {
      const rows = serverStage(model, round).weights.length;
      const record = this.cipher.encryptRecords("packed-records", Array.from({ length: rows }, () => tuple), { round });
      const recordHash = await this.anchorRecordBlob(record);
      const { jobId, blockNumber } = await this.requestPrediction(recordHash, modelHash);
      await this.waitForResult(jobId, blockNumber, options.timeoutMs);
      const { bytes, resultHash } = await this.fetchVerifiedResult(jobId);
      rounds.push({ round, jobId, recordHash, resultHash });
      const { values } = this.cipher.decryptBatch(bytes);
      if (values.length !== rows) throw new ResultVerificationError(jobId, `round ${round} returned ${values.length} values, expected ${rows}`);
      if (isFinalRound(model, round)) return { jobId, recordHash, resultHash, rounds, ...finalPrediction(model, values[0]!) };
      tuple = roundInput(model, round + 1, values);
    }
  }

  /**
   * Many readings of one patient (windows of a wearable's stream, say) as ONE job of a one-round model: the engine
   * picks the layout from the count (packed records up to 256, one ciphertext per feature beyond), so the upload
   * and the server's work are those of a single ciphertext (or n), not one per reading.
   */
  async predictMany(model: Model, readings: readonly Reading[], options: { timeoutMs?: number } = {}): Promise<BatchPredictionResult> {
    const { recordHash, layout } = await this.submitReadings(model, readings);
    const { jobId, blockNumber } = await this.requestPrediction(recordHash, hashOfModel(model));
    await this.waitForResult(jobId, blockNumber, options.timeoutMs);
    const { bytes, resultHash } = await this.fetchVerifiedResult(jobId);
    const predictions = this.decryptPredictions(model, bytes);
    if (predictions.length !== readings.length) throw new ResultVerificationError(jobId, `result holds ${predictions.length} values for ${readings.length} readings`);
    return { jobId, recordHash, resultHash, layout, predictions };
  }

  /**
   * First client stage for many readings of a one-round model as one record (the layout `predictMany` uses):
   * tuples → one encrypted record → blob store → anchored on-chain. Requesting the prediction is left to the caller.
   */
  async submitReadings(model: Model, readings: readonly Reading[]): Promise<{ recordHash: Hash; layout: Layout }> {
    if (roundCount(model) !== 1) throw new ReadingError(`model ${model.name} has ${roundCount(model)} rounds; predict its readings one by one`);
    if (readings.length === 0) throw new ReadingError("no readings to predict");
    const tuples = readings.map((reading) => buildTuple(model, reading));
    const layout = chooseLayout(tuples.length, tuples[0]!.length, this.options.engine.parameterSetName);
    const recordHash = await this.anchorRecordBlob(this.cipher.encryptRecords(layout, tuples));
    return { recordHash, layout };
  }

  /** Second client stage for a result of any layout: one prediction per record, in record order. */
  decryptPredictions(model: Model, resultBytes: Uint8Array): Prediction[] {
    return this.cipher.decryptBatch(resultBytes).values.map((logit) => finalPrediction(model, logit));
  }
}
