import { auditJobs, type JobHistory } from "../../../../protocol/job-history.js";
import type { Hash } from "../../../../protocol/hash.js";
import { DEFAULT_LOG_RANGE } from "../../../chain-logs.js";
import { useApp } from "../app/context.js";
import { useLoader } from "./common/useLoader.js";

export interface AuditSnapshot {
  jobs: JobHistory[];
  /** The events were read from the deployment block up to this block. */
  fromBlock: number;
  toBlock: number;
}

/**
 * Job histories rebuilt from the contract's events alone (protocol/job-history.ts, as `npm run audit` does): every
 * job, or the one `jobId` names. Reads through the app's read-only provider: no wallet needed.
 */
export function useJobHistories(jobId: Hash | undefined) {
  const { contract, readProvider, config } = useApp();
  return useLoader(async (): Promise<AuditSnapshot> => {
    const toBlock = await readProvider.getBlockNumber();
    const fromBlock = config.deploymentBlock;
    const jobs = await auditJobs(contract, { fromBlock, toBlock, maxRange: DEFAULT_LOG_RANGE, ...(jobId ? { jobId } : {}) });
    return { jobs, fromBlock, toBlock };
  }, [contract, readProvider, config.deploymentBlock, jobId]);
}
