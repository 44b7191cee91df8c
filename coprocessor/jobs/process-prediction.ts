import { FheError } from "../../protocol/fhe/errors.js";
import { FailureReason, FHE_FAILURE_REASONS, PermanentJobError, type FailureReasonName } from "../../protocol/failure-reasons.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { ModelFormatError, parseModelBytes, type Model } from "../../protocol/model.js";
import type { ModelCache } from "./model-cache.js";
import { EvaluationThreadDiedError, type StageEvaluator } from "../evaluation/stage-evaluator.js";
import { JobStatus, type JobChain, type OnChainJob, type SettleResult } from "./job-chain.js";

/**
 * What a queue job carries: the on-chain id, and the patient (for fair ordering between patients). Everything else
 * is read from the chain, the source of truth.
 */
export interface PredictionJobData {
  jobId: Hash;
  patient?: string;
  /** For a follow-up job (a crashed job's settlement): the queue job it stands in for. */
  origin?: string;
}

export interface BlobSource {
  get(hash: Hash): Promise<Uint8Array | undefined>;
  put(bytes: Uint8Array): Promise<Hash>;
}

/**
 * Evaluations of a job that started and never finished, kept outside the process (a crash may take the process
 * down with the thread). An evaluation that ends, with a result or an ordinary error, is not counted.
 */
export interface CrashLedger {
  /** An evaluation of `key` starts: returns how many earlier ones never finished. */
  begin(key: string): Promise<number>;
  /** The evaluation begun last for `key` finished without killing its thread. */
  end(key: string): Promise<void>;
  /** Forgets `key` once its job is done. */
  clear(key: string): Promise<void>;
}

/** A job whose evaluation killed its thread (or process) this many times is failed on-chain with EvaluationCrashed. */
export const MAX_EVALUATION_CRASHES = 2;

/** Seconds past a job's deadline at which a scheduled expiry is tried, so the chain's clock has passed it too. */
export const EXPIRY_MARGIN_SECONDS = 2;

export type PredictionOutcome =
  | { outcome: "committed"; resultHash: Hash; txHash: string; evaluationMs: number }
  | { outcome: "failed"; reason: FailureReasonName; txHash: string }
  | { outcome: "expired"; txHash: string }
  | { outcome: "skipped"; status?: number; because?: "AlreadyVoted" | "JobNotPending" | "VotingClosed" };

export interface PredictionDeps {
  /** Runs the homomorphic part (in this thread or a pool of threads, with their key caches). */
  evaluator: StageEvaluator;
  chain: JobChain;
  blobs: BlobSource;
  /** Models already verified and parsed; without it every job reads its model again. */
  models?: ModelCache;
  /** Called with a reason and message whenever a job is failed on-chain (for logs and metrics). */
  onFailure?: (jobId: Hash, error: PermanentJobError) => void;
  /** Counts evaluations that killed their thread; without it a job that keeps doing so is retried forever. */
  crashes?: CrashLedger;
  /**
   * Arranges for `expire(jobId)` to run `delayMs` from now (a delayed queue job): after a vote that did not settle
   * a job of quorum > 1, so a job the other operators never complete is expired rather than left Requested.
   */
  scheduleExpiry?: (jobId: Hash, delayMs: number) => Promise<void>;
  /** Test hook: evaluations of the jobs it returns true for kill their evaluation thread. Never set in production. */
  crashEvaluation?: (jobId: Hash) => boolean;
}

/** What the worker knows about this attempt of a queue job. */
export interface AttemptContext {
  /** Turns a still-missing blob into a permanent failure; before that it is retried (an upload may be racing). */
  finalAttempt: boolean;
  /** The queue job's id: the crash ledger's key (it names the request's block, so a reset chain starts afresh). */
  key: string;
}

/** A blob the store does not have yet may still arrive (upload racing the request): retry until the last attempt. */
export class BlobNotYetAvailableError extends Error {
  constructor(readonly hash: Hash, readonly reason: FailureReasonName) {
    super(`blob ${hash} is not in the store`);
    this.name = "BlobNotYetAvailableError";
  }
}

/** The job is overdue by this machine's clock but not yet on-chain: retried until the chain agrees. */
export class NotYetExpirableError extends Error {
  constructor(readonly jobId: Hash) {
    super(`job ${jobId} is not past its deadline on-chain yet`);
    this.name = "NotYetExpirableError";
  }
}

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
 * Evaluates one on-chain prediction job: checks that the record was not erased, loads model (by its content hash),
 * key bundle and record by their anchored hashes, verifies each, runs the linear stage under encryption (the
 * evaluator checks that the record and key bundle name the job's patient) and returns the result. Inputs that can
 * never work become a PermanentJobError; anything else (chain or store unreachable) is thrown for the queue to retry.
 */
export async function evaluatePrediction(
  deps: PredictionDeps,
  job: OnChainJob & { jobId: Hash },
  key: string,
): Promise<{ resultBytes: Uint8Array; evaluationMs: number }> {
  const { jobId } = job;
  if (job.recordErased) {
    throw new PermanentJobError("RecordErased", `patient ${job.patient} erased record ${job.recordHash} after the request`);
  }
  const model = deps.models?.get(job.modelHash) ?? (await loadModel(deps.blobs, job.modelHash, deps.models));
  const recordBytes = await fetchVerified(deps.blobs, job.recordHash, "RecordBlobMissing", "RecordHashMismatch");
  const earlierCrashes = (await deps.crashes?.begin(key)) ?? 0;
  if (earlierCrashes >= MAX_EVALUATION_CRASHES) {
    throw new PermanentJobError("EvaluationCrashed", `evaluating job ${jobId} killed its evaluation thread ${earlierCrashes} times`);
  }
  try {
    const output = await deps.evaluator.evaluate({
      patient: job.patient,
      keyBundleHash: job.keyBundleHash,
      loadKeyBundle: () => fetchVerified(deps.blobs, job.keyBundleHash, "KeyBundleBlobMissing", "KeyBundleHashMismatch"),
      recordBytes,
      model,
      binding: { jobId, recordHash: job.recordHash, modelHash: job.modelHash },
      ...(deps.crashEvaluation?.(jobId) ? { crashThreadForTest: true } : {}),
    });
    await deps.crashes?.end(key);
    return output;
  } catch (err) {
    if (err instanceof EvaluationThreadDiedError) {
      // Left counted: this evaluation never finished.
      const crashes = earlierCrashes + 1;
      if (deps.crashes && crashes >= MAX_EVALUATION_CRASHES) {
        throw new PermanentJobError("EvaluationCrashed", `evaluating job ${jobId} killed its evaluation thread ${crashes} times`, { cause: err });
      }
      throw err;
    }
    await deps.crashes?.end(key);
    if (err instanceof FheError) throw new PermanentJobError(FHE_FAILURE_REASONS[err.code], err.message, { cause: err });
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

/** Whether no vote may be sent for the job any more: the chain's now is past its deadline. */
async function overdue(deps: PredictionDeps, job: OnChainJob): Promise<boolean> {
  return (await deps.chain.now()) > job.deadline;
}

/** Expires an overdue job (through the committer); a chain whose clock is behind ours is waited for by retrying. */
async function expire(deps: PredictionDeps, jobId: Hash): Promise<PredictionOutcome> {
  const result = await deps.chain.expireJob(jobId);
  if (result.expired) return { outcome: "expired", txHash: result.txHash };
  if (result.because === "JobNotPending") return { outcome: "skipped", because: "JobNotPending" };
  throw new NotYetExpirableError(jobId);
}

/**
 * What a vote came to. A vote refused because the deadline passed meanwhile leaves the job to be expired; a vote
 * that counted without settling a job of quorum > 1 schedules its expiry, in case the other operators never vote.
 */
async function afterVote(
  deps: PredictionDeps,
  job: OnChainJob & { jobId: Hash },
  vote: SettleResult,
  settled: (txHash: string) => PredictionOutcome,
): Promise<PredictionOutcome> {
  if (!vote.settled) {
    if (vote.because === "VotingClosed") return expire(deps, job.jobId);
    return { outcome: "skipped", because: vote.because };
  }
  if (!vote.decided && job.quorum > 1 && deps.scheduleExpiry) {
    const delayMs = Math.max(0, (job.deadline + EXPIRY_MARGIN_SECONDS - (await deps.chain.now())) * 1000);
    await deps.scheduleExpiry(job.jobId, delayMs);
  }
  return settled(vote.txHash);
}

/** Votes a permanent failure, or expires the job if its deadline has passed. */
export async function settleFailure(
  deps: PredictionDeps,
  job: OnChainJob & { jobId: Hash },
  permanent: PermanentJobError,
): Promise<PredictionOutcome> {
  deps.onFailure?.(job.jobId, permanent);
  if (await overdue(deps, job)) return expire(deps, job.jobId);
  const vote = await deps.chain.reportFailure(job.jobId, FailureReason[permanent.reason]);
  return afterVote(deps, job, vote, (txHash) => ({ outcome: "failed", reason: permanent.reason, txHash }));
}

/**
 * The whole job, settled on-chain: skipped if no longer Requested, expired if past its deadline (no vote is sent
 * after it), otherwise evaluated and voted on, its result or its permanent failure.
 */
export async function processPrediction(deps: PredictionDeps, data: PredictionJobData, context: AttemptContext): Promise<PredictionOutcome> {
  const job = { ...(await deps.chain.readJob(data.jobId)), jobId: data.jobId };
  if (job.status !== JobStatus.Requested) return { outcome: "skipped", status: job.status };
  if (await overdue(deps, job)) return expire(deps, job.jobId);
  try {
    const evaluated = await evaluatePrediction(deps, job, context.key);
    const resultHash = await deps.blobs.put(evaluated.resultBytes);
    if (await overdue(deps, job)) return expire(deps, job.jobId);
    const vote = await deps.chain.commitResult(job.jobId, resultHash);
    return afterVote(deps, job, vote, (txHash) => ({ outcome: "committed", resultHash, txHash, evaluationMs: evaluated.evaluationMs }));
  } catch (err) {
    let permanent: PermanentJobError | undefined;
    if (err instanceof PermanentJobError) permanent = err;
    else if (err instanceof BlobNotYetAvailableError && context.finalAttempt) permanent = new PermanentJobError(err.reason, err.message);
    if (!permanent) throw err;
    return settleFailure(deps, job, permanent);
  }
}

/** A scheduled expiry: expires the job if it is still Requested once past its deadline (retried until it is). */
export async function processExpiry(deps: PredictionDeps, jobId: Hash): Promise<PredictionOutcome> {
  const job = await deps.chain.readJob(jobId);
  if (job.status !== JobStatus.Requested) return { outcome: "skipped", status: job.status };
  if (!(await overdue(deps, job))) throw new NotYetExpirableError(jobId);
  return expire(deps, jobId);
}

/** A job the queue gave up on because it kept taking its worker down (stalled too often): failed with EvaluationCrashed. */
export async function processCrashed(deps: PredictionDeps, jobId: Hash, why: string): Promise<PredictionOutcome> {
  const job = { ...(await deps.chain.readJob(jobId)), jobId };
  if (job.status !== JobStatus.Requested) return { outcome: "skipped", status: job.status };
  return settleFailure(deps, job, new PermanentJobError("EvaluationCrashed", why));
}
