import type { JobStatusCode } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";

export { JobStatus } from "../../protocol/chain.js";

/** The inputs of a job as the chain pins them: the authority the worker checks every blob against. */
export interface OnChainJob {
  status: JobStatusCode;
  recordHash: Hash;
  modelHash: Hash;
  /** The key bundle the record was encrypted under (for batch records too). */
  keyBundleHash: Hash;
  resultHash: Hash;
  failureReason: number;
}

/** A vote that reached the chain, or why the chain no longer wanted it (an earlier attempt or other operators settled it). */
export type SettleResult = { settled: true; txHash: string } | { settled: false; because: "AlreadyVoted" | "JobNotPending" };

/** What the worker needs from the chain: the authoritative inputs of a job, and a way to vote on its outcome. */
export interface JobChain {
  readJob(jobId: Hash): Promise<OnChainJob>;
  commitResult(jobId: Hash, resultHash: Hash): Promise<SettleResult>;
  reportFailure(jobId: Hash, reason: number): Promise<SettleResult>;
}
