import type { PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import type { JobChain, OnChainJob, OnChainRecord } from "../jobs/job-chain.js";
import type { JobStatusCode } from "../../protocol/chain.js";
import type { RequestSource } from "./request-listener.js";

const lower = (value: string) => value.toLowerCase() as Hash;

/** JobChain and RequestSource over the PMHE contract, connected to this coprocessor's signer. */
export class PmheChain implements JobChain, RequestSource {
  constructor(private readonly contract: PmheContract) {}

  async readJob(jobId: Hash): Promise<OnChainJob> {
    const job = await this.contract.jobOf(jobId);
    return {
      status: Number(job.status) as JobStatusCode,
      recordHash: lower(job.recordHash),
      modelHash: lower(job.modelHash),
      resultHash: lower(job.resultHash),
      failureReason: Number(job.failureReason),
    };
  }

  async readRecord(recordHash: Hash): Promise<OnChainRecord> {
    const record = await this.contract.recordOf(recordHash);
    return { patient: record.patient, keyBundleHash: lower(record.keyBundleHash) };
  }

  async commitResult(jobId: Hash, resultHash: Hash): Promise<string> {
    const receipt = await (await this.contract.commitResult(jobId, resultHash)).wait();
    return receipt!.hash;
  }

  async reportFailure(jobId: Hash, reason: number): Promise<string> {
    const receipt = await (await this.contract.reportFailure(jobId, reason)).wait();
    return receipt!.hash;
  }

  async latestBlock(): Promise<number> {
    return this.contract.runner!.provider!.getBlockNumber();
  }

  async requestedJobIds(fromBlock: number, toBlock: number): Promise<Hash[]> {
    const events = await this.contract.queryFilter(this.contract.filters.PredictionRequested(), fromBlock, toBlock);
    return events.map((event) => lower(event.args.jobId));
  }
}
