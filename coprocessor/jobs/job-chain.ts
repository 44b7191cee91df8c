import type { JobStatusCode } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";

export { JobStatus } from "../../protocol/chain.js";

/** The inputs of a job as the chain pins them: the authority the worker checks every blob against. */
export interface OnChainJob {
  status: JobStatusCode;
  /** The patient who owns the record (lower case): the record and key bundle blobs must name this patient. */
  patient: string;
  recordHash: Hash;
  /** The root of the patient's batch holding the record; the zero hash for a record anchored on its own. */
  batchRoot: Hash;
  /** The model's on-chain id (publisher-namespaced) and the hash of its content, the blob to fetch. */
  modelId: Hash;
  modelHash: Hash;
  /** The key bundle the record was encrypted under (for batch records too). */
  keyBundleHash: Hash;
  resultHash: Hash;
  failureReason: number;
  /** Unix seconds after which no vote is taken and the job can only be expired. */
  deadline: number;
  /** Agreeing operator votes that settle the job. */
  quorum: number;
  /** The patient erased the record (or, for a batch job, the record or its whole batch): it must not be evaluated. */
  recordErased: boolean;
}

/**
 * A vote that reached the chain, or why the chain no longer wanted it: an earlier attempt or other operators
 * settled it, or its deadline passed. `decided` says whether this vote was the one that settled the job.
 */
export type SettleResult =
  | { settled: true; txHash: string; decided: boolean }
  | { settled: false; because: "AlreadyVoted" | "JobNotPending" | "VotingClosed" };

/** An expiry that was mined, or why the chain refused it: the job is settled, or not past its deadline on-chain yet. */
export type ExpireResult = { expired: true; txHash: string } | { expired: false; because: "JobNotPending" | "JobNotExpirable" };

/** What the worker needs from the chain: the authoritative inputs of a job, and a way to vote on its outcome. */
export interface JobChain {
  /** The job as the chain has it now, erasure of its record included (one read). */
  readJob(jobId: Hash): Promise<OnChainJob>;
  /**
   * The chain's idea of now, unix seconds: the latest block's timestamp, or this machine's clock when that is
   * later (a chain that mines only on demand keeps an old timestamp until the next transaction).
   */
  now(): Promise<number>;
  commitResult(jobId: Hash, resultHash: Hash): Promise<SettleResult>;
  reportFailure(jobId: Hash, reason: number): Promise<SettleResult>;
  /** Expires a job still Requested past its deadline (through the committer, so this account's nonces stay in order). */
  expireJob(jobId: Hash): Promise<ExpireResult>;
}
