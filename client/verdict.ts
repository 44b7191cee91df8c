import { id, toBeHex, zeroPadValue } from "ethers";
import type { PmheContract } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";
import type { DissentingVote } from "./errors.js";

/** The contract's role id, as OpenZeppelin derives it from the name. */
const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");

/**
 * How much a finalized result can be trusted, from the chain: how many operators in office back it against the
 * quorum, and whether any operator in office voted otherwise.
 */
export interface ResultVerdict {
  /** Votes for the final result from accounts holding COPROCESSOR_ROLE now (`jobOf(jobId).votes`). */
  votes: number;
  /** Agreeing votes the job needed, fixed when it was requested. */
  quorum: number;
  /** Quorum 1: one operator decided, and could have forged the result (it can encrypt any value to the patient). */
  singleOperator: boolean;
  /** An operator in office voted another result or a failure on this job. */
  disputed: boolean;
  /** Those votes; empty unless disputed. */
  dissent: DissentingVote[];
}

const lower = (value: string) => value.toLowerCase() as Hash;

/** A failure vote is recorded as `bytes32(uint256(reason))`. */
export function failureVoteValue(reason: number): Hash {
  return lower(zeroPadValue(toBeHex(reason), 32));
}

/**
 * Reads every vote cast on a finalized job (ResultCommitted and FailureReported events) and keeps those that differ
 * from `final` and come from accounts that still hold COPROCESSOR_ROLE: a revoked operator's vote no longer counts
 * on-chain, and its dissent does not count here either. `fromBlock` is where to start looking (the request's block).
 */
export async function verdictOf(
  contract: PmheContract,
  jobId: Hash,
  job: { resultHash: Hash; votes: number; quorum: number },
  fromBlock = 0,
): Promise<ResultVerdict> {
  const [committed, failures] = await Promise.all([
    namedContractCall("reading the job's votes", () => contract.queryFilter(contract.filters.ResultCommitted(jobId), fromBlock)),
    namedContractCall("reading the job's votes", () => contract.queryFilter(contract.filters.FailureReported(jobId), fromBlock)),
  ]);
  const others: DissentingVote[] = [];
  for (const e of committed) {
    const value = lower(e.args.resultHash);
    if (value !== job.resultHash) others.push({ coprocessor: e.args.coprocessor, resultHash: value, reason: null, reasonName: null });
  }
  for (const e of failures) {
    const reason = Number(e.args.reason);
    if (failureVoteValue(reason) !== job.resultHash) others.push({ coprocessor: e.args.coprocessor, resultHash: null, reason, reasonName: failureReasonName(reason) });
  }
  const inOffice = await Promise.all(others.map((vote) => contract.hasRole(COPROCESSOR_ROLE, vote.coprocessor)));
  const dissent = others.filter((_, i) => inOffice[i]);
  return { votes: job.votes, quorum: job.quorum, singleOperator: job.quorum === 1, disputed: dissent.length > 0, dissent };
}
