import type { ContractRunner, TransactionReceipt } from "ethers";
import { PMHE__factory } from "../types/ethers-contracts/factories/PMHE__factory.js";
import type { PMHE } from "../types/ethers-contracts/PMHE.js";
import type { Hash } from "./hash.js";

/**
 * The contract binding every side uses. ABI and bytecode come from the compiled contracts
 * (`hardhat build` generates the typed factory), so there is one definition and it cannot drift.
 */
export type PmheContract = PMHE;
export { PMHE__factory };

/** The contract's `JobStatus` enum. */
export const JobStatus = { None: 0, Requested: 1, Finalized: 2, Failed: 3, Expired: 4 } as const;
export type JobStatusCode = (typeof JobStatus)[keyof typeof JobStatus];

export function connectPmhe(address: string, runner: ContractRunner): PmheContract {
  return PMHE__factory.connect(address, runner);
}

/**
 * The name of the custom error a failed call reverted with, if the contract declares it. ethers leaves custom
 * errors undecoded when they surface during gas estimation, so decode the revert data here.
 */
export function revertErrorName(contract: PmheContract, err: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === "object" && !seen.has(e); e = (e as { error?: unknown }).error) {
    seen.add(e);
    const data = (e as { data?: unknown }).data;
    if (typeof data === "string" && data.startsWith("0x") && data.length >= 10) {
      try {
        const parsed = contract.interface.parseError(data);
        if (parsed) return parsed.name;
      } catch {
        // not one of ours
      }
    }
    const revert = (e as { revert?: { name?: string } }).revert;
    if (revert?.name) return revert.name;
  }
  return undefined;
}

/** The job id from a `requestPrediction` receipt's PredictionRequested event. */
export function jobIdFromReceipt(contract: PmheContract, receipt: TransactionReceipt): Hash {
  for (const log of receipt.logs) {
    const parsed = contract.interface.parseLog(log);
    if (parsed?.name === "PredictionRequested") return (parsed.args.jobId as string).toLowerCase() as Hash;
  }
  throw new Error(`transaction ${receipt.hash} emitted no PredictionRequested event`);
}
