import type { JobStatusCode } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";

export { JobStatus } from "../../protocol/chain.js";



export interface OnChainJob {
  status: JobStatusCode;
  recordHash: Hash;
  modelHash: Hash;
  resultHash: Hash;
  failureReason: number;
}

export interface OnChainRecord {
  patient: string;
  keyBundleHash: Hash;
}

/** What the worker needs from the chain: the authoritative inputs of a job, and a way to settle it. */
export interface JobChain {
  readJob(jobId: Hash): Promise<OnChainJob>;
  readRecord(recordHash: Hash): Promise<OnChainRecord>;
  commitResult(jobId: Hash, resultHash: Hash): Promise<string>;
  reportFailure(jobId: Hash, reason: number): Promise<string>;
}
