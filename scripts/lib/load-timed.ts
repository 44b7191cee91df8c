import { setTimeout as sleep } from "node:timers/promises";
import type { BaseWallet, JsonRpcProvider, Log } from "ethers";
import { jobIdFromReceipt, type PmheContract } from "../../protocol/chain.js";
import { decodeContractError } from "../../protocol/contract-errors.js";
import { EventDecoder } from "../../protocol/event-decoder.js";
import type { Hash } from "../../protocol/hash.js";
import { broadcastSigned, signComplete } from "../../protocol/raw-transaction.js";

/** A prepared job to request: its record is uploaded by `patient`; the request anchors it (anchorAndRequest). */
export interface TimedRequest {
  index: number;
  patient: number;
  recordHash: Hash;
}

/** What happened to one request transaction. Times are `performance.now()` milliseconds. */
export interface RequestRecord {
  index: number;
  /** When the transaction was handed to the node. */
  sentAt?: number;
  /** How long the node took to accept it (with automining, that includes mining its block). */
  sendMs?: number;
  txHash?: string;
  jobId?: Hash;
  /** The send failed or the request reverted: no job exists for it. */
  error?: string;
}

export type Settlement =
  | { status: "Finalized"; observedAt: number; resultHash: Hash }
  | { status: "Failed"; observedAt: number; reason: number }
  | { status: "Expired"; observedAt: number };

/**
 * Fixed transaction fields, so a send is one signature and one RPC call (no estimate, no fee, nonce or chain-id
 * lookup, no recovery of the sender: a patient's device would not spend the machine's CPU on those either).
 */
export interface RequestTxFields {
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  chainId: bigint;
}

export interface TimedPhaseOptions {
  contract: PmheContract;
  /** A provider of its own for the settlement observer. */
  observer: JsonRpcProvider;
  /** One wallet per patient; a request goes out from its job's patient. */
  senders: readonly BaseWallet[];
  requests: readonly TimedRequest[];
  /** The published model's on-chain id. */
  modelId: Hash;
  tx: RequestTxFields;
  /** Requests per second offered; 0 sends each as soon as its patient's previous request was accepted. */
  rate: number;
  timeoutMs: number;
  pollIntervalMs: number;
  signal?: AbortSignal;
  onSettled?: (settlement: Settlement) => void;
}

export interface TimedPhaseResult {
  /** One per request, in the order of `TimedPhaseOptions.requests`. */
  requests: RequestRecord[];
  settlements: Map<Hash, Settlement>;
  startedAt: number;
  /** The last settlement observed, or the moment the timeout struck. */
  endedAt: number;
  timedOut: boolean;
  /** Blocks the chain mined during the phase (one transaction each under automining). */
  blocks: number;
}

const SETTLEMENT_EVENTS = ["PredictionRequested", "JobFinalized", "JobFailed", "JobExpired"] as const;

/**
 * Follows the contract's job events by polling `eth_getLogs` over the blocks mined since the last poll, and notes
 * when each settlement was first seen. PredictionRequested logs map request transactions to their job ids.
 */
class SettlementObserver {
  readonly jobByTx = new Map<string, Hash>();
  readonly settlements = new Map<Hash, Settlement>();
  private readonly topics: string[];
  private readonly events: EventDecoder;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly contract: PmheContract,
    private nextBlock: number,
    private readonly onSettled: (settlement: Settlement) => void,
  ) {
    this.topics = SETTLEMENT_EVENTS.map((name) => contract.interface.getEvent(name).topicHash);
    this.events = EventDecoder.of(contract.interface);
  }

  /** Highest block scanned so far. */
  get scannedThrough(): number {
    return this.nextBlock - 1;
  }

  async poll(): Promise<void> {
    const head = await this.provider.getBlockNumber();
    if (head < this.nextBlock) return;
    const logs = await this.provider.getLogs({
      address: await this.contract.getAddress(),
      fromBlock: this.nextBlock,
      toBlock: head,
      topics: [this.topics],
    });
    const observedAt = performance.now();
    for (const log of logs) this.note(log, observedAt);
    this.nextBlock = head + 1;
  }

  private note(log: Log, observedAt: number): void {
    const parsed = this.events.decode(log);
    if (!parsed) return;
    const jobId = (parsed.args.jobId as string).toLowerCase() as Hash;
    if (parsed.name === "PredictionRequested") {
      this.jobByTx.set(log.transactionHash, jobId);
      return;
    }
    if (this.settlements.has(jobId)) return;
    const settlement: Settlement =
      parsed.name === "JobFinalized"
        ? { status: "Finalized", observedAt, resultHash: (parsed.args.resultHash as string).toLowerCase() as Hash }
        : parsed.name === "JobFailed"
          ? { status: "Failed", observedAt, reason: Number(parsed.args.reason) }
          : { status: "Expired", observedAt };
    this.settlements.set(jobId, settlement);
    this.onSettled(settlement);
  }
}

/**
 * Sends every request at the offered rate. Each patient's requests go out one after the other (the node mines on
 * arrival and refuses a nonce from the future), the patients side by side. Stops dispatching once `stopped()`.
 */
async function sendRequests(options: TimedPhaseOptions, records: RequestRecord[], nonces: number[], stopped: () => boolean): Promise<void> {
  const { contract, senders, requests, rate, tx, observer: provider } = options;
  const to = await contract.getAddress();
  const lanes = senders.map(() => Promise.resolve());
  const send = async (request: TimedRequest, record: RequestRecord) => {
    if (stopped()) return;
    const wallet = senders[request.patient]!;
    // One transaction per prediction, as a patient sends it: anchor the record and request the job together.
    const data = contract.interface.encodeFunctionData("anchorAndRequest", [request.recordHash, options.modelId]);
    record.sentAt = performance.now();
    try {
      const signed = await signComplete(wallet, { to, data, nonce: nonces[request.patient]!, ...tx });
      record.txHash = await broadcastSigned(provider, signed);
      nonces[request.patient]!++;
    } catch (err) {
      // A refusal the node reports at send time is told by the contract error's name and sentence, not as hex.
      const decoded = decodeContractError(err);
      record.error = decoded ? `${decoded.name}: ${decoded.sentence}` : (err as Error).message;
      // Whether the nonce was used is unknown: ask the node again before the next one.
      nonces[request.patient] = await provider.getTransactionCount(wallet.address, "pending");
    }
    record.sendMs = performance.now() - record.sentAt;
  };
  const start = performance.now();
  for (const [i, request] of requests.entries()) {
    if (rate > 0) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
    }
    if (stopped()) break;
    lanes[request.patient] = lanes[request.patient]!.then(() => send(request, records[i]!));
  }
  await Promise.all(lanes);
}

/**
 * Requests that the observer did not map to a job: a reverted request has no PredictionRequested log, so its
 * receipt tells; one the node has not mined yet stays open.
 */
async function resolveUnmapped(options: TimedPhaseOptions, records: RequestRecord[], observer: SettlementObserver): Promise<void> {
  for (const record of records) {
    if (record.error || record.jobId || !record.txHash) continue;
    record.jobId = observer.jobByTx.get(record.txHash);
    if (record.jobId) continue;
    const receipt = await options.observer.getTransactionReceipt(record.txHash);
    if (!receipt || receipt.blockNumber > observer.scannedThrough) continue;
    if (receipt.status === 0) record.error = "anchorAndRequest reverted";
    else record.jobId = jobIdFromReceipt(options.contract, receipt);
  }
}

function allSettled(records: readonly RequestRecord[], settlements: ReadonlyMap<Hash, Settlement>): boolean {
  return records.every((r) => r.error !== undefined || (r.jobId !== undefined && settlements.has(r.jobId)));
}

/**
 * The measured part of a load: offer the requests, watch the chain until every job is settled (or the timeout),
 * and note when each request went out and when its settlement was seen.
 */
export async function runTimedPhase(options: TimedPhaseOptions): Promise<TimedPhaseResult> {
  const { observer: provider, signal } = options;
  const records: RequestRecord[] = options.requests.map(({ index }) => ({ index }));
  const firstBlock = (await provider.getBlockNumber()) + 1;
  const observer = new SettlementObserver(provider, options.contract, firstBlock, options.onSettled ?? (() => undefined));
  const nonces = await Promise.all(options.senders.map((wallet) => provider.getTransactionCount(wallet.address, "pending")));

  const startedAt = performance.now();
  const deadline = startedAt + options.timeoutMs;
  let stop = false;
  let sendsDone = false;
  const sending = sendRequests(options, records, nonces, () => stop || signal?.aborted === true).finally(() => (sendsDone = true));
  let timedOut = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      await observer.poll();
      if (sendsDone) {
        await resolveUnmapped(options, records, observer);
        if (allSettled(records, observer.settlements)) break;
      }
      if (performance.now() >= deadline) {
        timedOut = true;
        break;
      }
      await sleep(options.pollIntervalMs);
    }
  } finally {
    stop = true;
    await sending;
  }
  for (const record of records) if (!record.jobId && record.txHash) record.jobId = observer.jobByTx.get(record.txHash);
  const observed = [...observer.settlements.values()].map((s) => s.observedAt);
  return {
    requests: records,
    settlements: observer.settlements,
    startedAt,
    endedAt: timedOut || observed.length === 0 ? performance.now() : Math.max(...observed),
    timedOut,
    blocks: observer.scannedThrough - firstBlock + 1,
  };
}
