import type { ContractTransactionResponse } from "ethers";
import { revertErrorName, type JobStatusCode, type PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import type { JobChain, OnChainJob, SettleResult } from "../jobs/job-chain.js";
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
      keyBundleHash: lower(job.keyBundleHash),
      resultHash: lower(job.resultHash),
      failureReason: Number(job.failureReason),
    };
  }

  commitResult(jobId: Hash, resultHash: Hash): Promise<SettleResult> {
    return this.settle(() => this.contract.commitResult(jobId, resultHash));
  }

  reportFailure(jobId: Hash, reason: number): Promise<SettleResult> {
    return this.settle(() => this.contract.reportFailure(jobId, reason));
  }

  /**
   * Sends a vote. A retry after a crash may find its earlier vote already mined, or the job settled by other
   * operators: those are outcomes, not errors. Anything else (RPC down, nonce trouble) is thrown to be retried.
   */
  private async settle(send: () => Promise<ContractTransactionResponse>): Promise<SettleResult> {
    try {
      const receipt = await (await send()).wait();
      return { settled: true, txHash: receipt!.hash };
    } catch (err) {
      const name = revertErrorName(this.contract, err);
      if (name === "AlreadyVoted" || name === "JobNotPending") return { settled: false, because: name };
      throw err;
    }
  }

  async latestBlock(): Promise<number> {
    return this.contract.runner!.provider!.getBlockNumber();
  }

  async requestedJobIds(fromBlock: number, toBlock: number): Promise<Hash[]> {
    const events = await this.contract.queryFilter(this.contract.filters.PredictionRequested(), fromBlock, toBlock);
    return events.map((event) => lower(event.args.jobId));
  }
}
