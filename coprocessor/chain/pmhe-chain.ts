import type { Log } from "ethers";
import type { JobStatusCode, PmheContract } from "../../protocol/chain.js";
import { EventDecoder } from "../../protocol/event-decoder.js";
import type { Hash } from "../../protocol/hash.js";
import type { JobChain, OnChainJob } from "../jobs/job-chain.js";
import type { ChainEvent, ChainSource } from "./request-listener.js";

const lower = (value: unknown) => String(value).toLowerCase() as Hash;
const TIMESTAMP_REUSE_MS = 1_000;

/** The events the listener follows: job requests, and every event that makes a blob referenced or erased. */
const FOLLOWED_EVENTS = [
  "PredictionRequested",
  "PatientKeysRegistered",
  "RecordAnchored",
  "BatchAnchored",
  "ModelPublished",
  "ResultCommitted",
  "ResultShared",
  "RecordErased",
  "BatchErased",
] as const;

/**
 * What the coprocessor reads from the PMHE contract: job inputs for the worker, and the events the listener
 * follows (one log query per block range for all of them, so the chain is read once).
 */
export class PmheChain implements Pick<JobChain, "readJob" | "now">, ChainSource {
  private readonly topics: string[];
  private readonly decoder: EventDecoder;
  private timestamp: { at: number; value: Promise<number> } | undefined;

  constructor(private readonly contract: PmheContract) {
    this.topics = FOLLOWED_EVENTS.map((name) => contract.interface.getEvent(name)!.topicHash);
    this.decoder = EventDecoder.of(contract.interface);
  }

  private get provider() {
    return this.contract.runner!.provider!;
  }

  async readJob(jobId: Hash): Promise<OnChainJob> {
    const job = await this.contract.jobOf(jobId);
    return {
      status: Number(job.status) as JobStatusCode,
      patient: job.patient.toLowerCase(),
      recordHash: lower(job.recordHash),
      batchRoot: lower(job.batchRoot),
      modelId: lower(job.modelId),
      modelHash: lower(job.modelHash),
      keyBundleHash: lower(job.keyBundleHash),
      resultHash: lower(job.resultHash),
      failureReason: Number(job.failureReason),
      deadline: Number(job.deadline),
      quorum: Number(job.quorum),
      recordErased: job.recordErased,
    };
  }

  async now(): Promise<number> {
    return Math.max(await this.latestTimestamp(), Math.floor(Date.now() / 1000));
  }

  /**
   * The latest block's timestamp, read at most once a second however many jobs ask: it only matters when the
   * chain's clock runs ahead of this machine's (a development chain moved forward), and a second's lag is harmless.
   */
  private latestTimestamp(): Promise<number> {
    const cached = this.timestamp;
    if (cached && performance.now() - cached.at < TIMESTAMP_REUSE_MS) return cached.value;
    const value = this.provider.getBlock("latest").then((block) => block?.timestamp ?? 0);
    this.timestamp = { at: performance.now(), value };
    value.catch(() => {
      if (this.timestamp?.value === value) this.timestamp = undefined;
    });
    return value;
  }

  async head(): Promise<{ number: number; hash: string }> {
    const block = await this.provider.getBlock("latest");
    if (!block?.hash) throw new Error("the chain returned no latest block");
    return { number: block.number, hash: block.hash };
  }

  async blockHash(blockNumber: number): Promise<string | undefined> {
    return (await this.provider.getBlock(blockNumber))?.hash ?? undefined;
  }

  /** Genesis block hash: with the chain id and contract, it names one chain's history (a reset chain gets a new one). */
  async genesisHash(): Promise<string> {
    const hash = await this.blockHash(0);
    if (!hash) throw new Error("the chain returned no genesis block");
    return hash;
  }

  async events(fromBlock: number, toBlock: number): Promise<ChainEvent[]> {
    const logs = await this.provider.getLogs({ address: this.contract.target, topics: [this.topics], fromBlock, toBlock });
    return logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index).flatMap((log) => this.translate(log));
  }

  /** One log as the listener's events; logs this contract did not emit (or cannot parse) give none. */
  private translate(log: Log): ChainEvent[] {
    const event = this.decoder.decode(log);
    if (!event) return [];
    const a = event.args;
    switch (event.name) {
      case "PredictionRequested":
        return [
          { type: "referenced", hash: lower(a.recordHash), kind: "record" },
          { type: "requested", request: { jobId: lower(a.jobId), patient: String(a.patient).toLowerCase(), blockNumber: log.blockNumber, blockHash: lower(log.blockHash) } },
        ];
      case "PatientKeysRegistered":
        // The patient too: registering pins their latest key backup in the store.
        return [{ type: "referenced", hash: lower(a.keyBundleHash), kind: "key-bundle", patient: String(a.patient).toLowerCase() }];
      case "RecordAnchored":
        return [{ type: "referenced", hash: lower(a.recordHash), kind: "record" }];
      case "BatchAnchored":
        return [{ type: "referenced", hash: lower(a.root), kind: "batch-root" }];
      case "ModelPublished":
        return [{ type: "referenced", hash: lower(a.modelHash), kind: "model" }];
      case "ResultCommitted":
        return [{ type: "referenced", hash: lower(a.resultHash), kind: "result" }];
      case "ResultShared":
        return [{ type: "referenced", hash: lower(a.sharedHash), kind: "result-share" }];
      case "RecordErased":
        return [{ type: "erased", erasure: { patient: String(a.patient).toLowerCase(), hash: lower(a.recordHash), kind: "record" } }];
      case "BatchErased":
        return [{ type: "erased", erasure: { patient: String(a.patient).toLowerCase(), hash: lower(a.root), kind: "batch-root" } }];
      default:
        return [];
    }
  }
}
