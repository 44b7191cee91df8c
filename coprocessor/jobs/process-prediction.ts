import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { FailureReason, PermanentJobError, type FailureReasonName } from "../../protocol/failure-reasons.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { ModelFormatError, parseModelBytes, type Model } from "../../protocol/model.js";
import type { ModelCache } from "./model-cache.js";
import type { StageEvaluator } from "../evaluation/stage-evaluator.js";
import { JobStatus, type JobChain } from "./job-chain.js";

/** What a queue job carries: only the on-chain id. Everything else is read from the chain, the source of truth. */
export interface PredictionJobData {
  jobId: Hash;
}

export interface BlobSource {
  get(hash: Hash): Promise<Uint8Array | undefined>;
  put(bytes: Uint8Array): Promise<Hash>;
}

export type PredictionOutcome =
  | { outcome: "committed"; resultHash: Hash; txHash: string; evaluationMs: number }
  | { outcome: "failed"; reason: FailureReasonName; txHash: string }
  | { outcome: "skipped"; status?: number; because?: "AlreadyVoted" | "JobNotPending" };

export interface PredictionDeps {
  /** Runs the homomorphic part (in this thread or a pool of threads, with their key caches). */
  evaluator: StageEvaluator;
  chain: JobChain;
  blobs: BlobSource;
  /** Models already verified and parsed; without it every job reads its model again. */
  models?: ModelCache;
  /** Called with a reason and message whenever a job is failed on-chain (for logs and metrics). */
  onFailure?: (jobId: Hash, error: PermanentJobError) => void;
}

/** A blob the store does not have yet may still arrive (upload racing the request): retry until the last attempt. */
export class BlobNotYetAvailableError extends Error {
  constructor(readonly hash: Hash, readonly reason: FailureReasonName) {
    super(`blob ${hash} is not in the store`);
    this.name = "BlobNotYetAvailableError";
  }
}

const FHE_TO_REASON: Record<FheErrorCode, FailureReasonName> = {
  MalformedKeyBundle: "MalformedKeyBundle",
  MalformedRecord: "MalformedRecord",
  MalformedResult: "EvaluationError",
  MalformedSecretKey: "EvaluationError",
  ParameterMismatch: "ParameterMismatch",
  EvaluationError: "EvaluationError",
};

async function fetchVerified(
  blobs: BlobSource,
  hash: Hash,
  missing: FailureReasonName,
  mismatch: FailureReasonName,
): Promise<Uint8Array> {
  const bytes = await blobs.get(hash);
  if (!bytes) throw new BlobNotYetAvailableError(hash, missing);
  const actual = contentHash(bytes);
  if (actual !== hash) throw new PermanentJobError(mismatch, `blob store returned bytes hashing to ${actual} for ${hash}`);
  return bytes;
}

/**
 * Evaluates one on-chain prediction job: loads model, key bundle and record by their anchored hashes, verifies each,
 * runs the linear stage under encryption, stores the result and commits its hash. Inputs that can never work
 * become a PermanentJobError; anything else (chain or store unreachable) is thrown for the queue to retry.
 */
export async function evaluatePrediction(
  deps: PredictionDeps,
  jobId: Hash,
): Promise<{ resultBytes: Uint8Array; evaluationMs: number } | { skipped: number }> {
  const job = await deps.chain.readJob(jobId);
  if (job.status !== JobStatus.Requested) return { skipped: job.status };

  const model = deps.models?.get(job.modelHash) ?? (await loadModel(deps.blobs, job.modelHash, deps.models));
  const recordBytes = await fetchVerified(deps.blobs, job.recordHash, "RecordBlobMissing", "RecordHashMismatch");
  try {
    return await deps.evaluator.evaluate({
      keyBundleHash: job.keyBundleHash,
      loadKeyBundle: () => fetchVerified(deps.blobs, job.keyBundleHash, "KeyBundleBlobMissing", "KeyBundleHashMismatch"),
      recordBytes,
      model,
      binding: { jobId, recordHash: job.recordHash, modelHash: job.modelHash },
    });
  } catch (err) {
    if (err instanceof FheError) throw new PermanentJobError(FHE_TO_REASON[err.code], err.message, { cause: err });
    throw err;
  }
}

async function loadModel(blobs: BlobSource, modelHash: Hash, cache: ModelCache | undefined): Promise<Model> {
  const bytes = await fetchVerified(blobs, modelHash, "ModelBlobMissing", "ModelHashMismatch");
  try {
    const model = parseModelBytes(bytes);
    cache?.set(modelHash, model);
    return model;
  } catch (err) {
    if (err instanceof ModelFormatError) throw new PermanentJobError("MalformedModel", err.message, { cause: err });
    throw err;
  }
}

/**
 * The whole job, settled on-chain. `finalAttempt` turns a still-missing blob into a permanent failure;
 * before that it is retried, since an upload may land after the request.
 */
export async function processPrediction(deps: PredictionDeps, data: PredictionJobData, finalAttempt: boolean): Promise<PredictionOutcome> {
  const { jobId } = data;
  try {
    const evaluated = await evaluatePrediction(deps, jobId);
    if ("skipped" in evaluated) return { outcome: "skipped", status: evaluated.skipped };
    const resultHash = await deps.blobs.put(evaluated.resultBytes);
    const vote = await deps.chain.commitResult(jobId, resultHash);
    if (!vote.settled) return { outcome: "skipped", because: vote.because };
    return { outcome: "committed", resultHash, txHash: vote.txHash, evaluationMs: evaluated.evaluationMs };
  } catch (err) {
    let permanent: PermanentJobError | undefined;
    if (err instanceof PermanentJobError) permanent = err;
    else if (err instanceof BlobNotYetAvailableError && finalAttempt) permanent = new PermanentJobError(err.reason, err.message);
    if (!permanent) throw err;
    deps.onFailure?.(jobId, permanent);
    const vote = await deps.chain.reportFailure(jobId, FailureReason[permanent.reason]);
    if (!vote.settled) return { outcome: "skipped", because: vote.because };
    return { outcome: "failed", reason: permanent.reason, txHash: vote.txHash };
  }
}
