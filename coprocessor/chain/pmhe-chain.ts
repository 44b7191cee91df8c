import type { JobStatusCode, PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import type { JobChain, OnChainJob } from "../jobs/job-chain.js";
import type { RequestSource } from "./request-listener.js";

const lower = (value: string) => value.toLowerCase() as Hash;

/** What the coprocessor reads from the PMHE contract: job inputs for the worker, job requests for the listener. */
export class PmheChain implements Pick<JobChain, "readJob">, RequestSource {
  constructor(private readonly contract: PmheContract) {}

  async readJob(jobId: Hash): Promise<OnChainJob> {
    const job = await this.contract.jobOf(jobId);
    return {
      status: Number(job.status) as JobStatusCode,
      recordHash: lower(job.recordHash),
      modelHash: lower(job.modelHash),
      keyBundleHash: lower(job.keyBundleHash),
      resultHash: lower(job.resultHash),
      failureReason: Number(job.failureReason),
    };
  }

  async latestBlock(): Promise<number> {
    return this.contract.runner!.provider!.getBlockNumber();
  }

  async requestedJobIds(fromBlock: number, toBlock: number): Promise<Hash[]> {
    const events = await this.contract.queryFilter(this.contract.filters.PredictionRequested(), fromBlock, toBlock);
    return events.map((event) => lower(event.args.jobId));
  }
}
