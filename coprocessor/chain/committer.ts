import { isError, JsonRpcApiProvider, type TransactionReceipt, type TransactionResponse, type Wallet } from "ethers";
import type { Logger } from "pino";
import { connectPmhe, type PmheContract } from "../../protocol/chain.js";
import { decodeContractError } from "../../protocol/contract-errors.js";
import { EventDecoder } from "../../protocol/event-decoder.js";
import { parseHash, type Hash } from "../../protocol/hash.js";
import { broadcastSigned, pendingResponse, signComplete } from "../../protocol/raw-transaction.js";
import type { ExpireResult, JobChain, SettleResult } from "../jobs/job-chain.js";

export interface CommitterOptions {
  /**
   * This coprocessor's account (it must hold COPROCESSOR_ROLE), on a JsonRpcProvider. The committer assigns its
   * nonces; another sender using the same key only costs a resynchronisation.
   */
  wallet: Wallet;
  contractAddress: string;
  /** How long a vote waits for others to share its transaction when nothing is being sent. Default 5 ms. */
  lingerMs?: number;
  /** The most votes per transaction; at most, and by default, the contract's MAX_COMMIT_BATCH. */
  maxBatch?: number;
  /** How long a sent transaction may go without a receipt before it is re-sent with the same nonce. Default 60 s. */
  replaceAfterMs?: number;
  /** Re-sends of one transaction before its callers are failed (their jobs are retried later). Default 3. */
  maxReplacements?: number;
  /** Fee increase of each re-send, in percent. Nodes refuse a replacement below +10%. Default 20. */
  feeBumpPercent?: number;
  logger?: Logger;
}

/** One entry of the committer's queue: a vote (a result or a failure), or the expiry of an overdue job. */
type Entry =
  | { kind: "commit"; jobId: Hash; resultHash: Hash }
  | { kind: "failure"; jobId: Hash; reason: number }
  | { kind: "expire"; jobId: Hash };

/** What an entry came to: its caller's answer, or an error for that caller alone. */
type Outcome = SettleResult | ExpireResult | Error;

/** A caller's entry and the promise every caller asking for the same thing shares. */
interface Ballot {
  entry: Entry;
  promise: Promise<SettleResult | ExpireResult>;
  resolve(result: SettleResult | ExpireResult): void;
  reject(err: unknown): void;
}

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

interface PreparedTx {
  to: string;
  data: string;
  gasLimit: bigint;
  nonce: number;
}

/**
 * Gas added per vote to the estimate. The estimate is taken against the chain as it is before sending; by the time
 * the transaction is mined other operators' votes may have turned a first vote into a dissenting or deciding one,
 * which writes up to two more fresh slots (~45k). Gas that is not used is not paid for.
 */
const GAS_HEADROOM_PER_VOTE = 50_000n;
/** Skip codes of the VoteSkipped event, see IPredictionJobs.VoteSkipReason. */
const SKIP_REASONS: Record<number, "AlreadyVoted" | "JobNotPending" | "VotingClosed"> = {
  1: "AlreadyVoted",
  2: "JobNotPending",
  3: "VotingClosed",
};
/** The reverts of a lone vote that are an answer rather than an error: the chain no longer wants this vote. */
const REFUSALS = new Set(["AlreadyVoted", "JobNotPending", "VotingClosed"]);
/** Likewise for an expiry: the job is settled already, or its deadline has not passed on-chain yet. */
const EXPIRY_REFUSALS = new Set(["JobNotPending", "JobNotExpirable"]);

const MIN_FEE_BUMP_PERCENT = 10;
/** How long a fee suggestion is reused for first sends (see `recentFees`). */
const FEE_REUSE_MS = 1_000;

/** The key under which an entry is joined by later callers: a job has one vote and one expiry per operator. */
const keyOf = (entry: Entry): string => (entry.kind === "expire" ? `expire:${entry.jobId}` : entry.jobId);

/**
 * Sends this coprocessor's transactions: votes and expiries. Votes that come in while a transaction is being
 * prepared or mined, or within `lingerMs`, go out together: queued result commits first, then failure reports,
 * up to `maxBatch` entries (`commitResults` when there are only commits, `castVotes` when failures are among them,
 * the single-vote functions for a lone vote). A failure therefore never goes out ahead of a commit that was
 * waiting, so a flood of failing jobs cannot hold back other jobs' results. Expiries go one by one, after the
 * votes. One transaction is in flight at a time, so nonces are simply consecutive; one that is not mined in time is
 * re-sent with the same nonce and higher fees, and whichever attempt is mined settles its entries.
 */
export class Committer implements Pick<JobChain, "commitResult" | "reportFailure" | "expireJob"> {
  private readonly contract: PmheContract;
  private readonly events: EventDecoder;
  private readonly wallet: Wallet;
  private readonly rpc: JsonRpcApiProvider;
  private readonly logger: Logger | undefined;
  private readonly lingerMs: number;
  private readonly replaceAfterMs: number;
  private readonly maxReplacements: number;
  private readonly feeBump: bigint;
  private readonly requestedMaxBatch: number | undefined;
  private maxBatch: number | undefined;

  /** Entries not yet taken into a transaction, oldest first. */
  private readonly queue: Ballot[] = [];
  /** Every entry queued or in flight, by `keyOf`: a second call for the same job joins it. */
  private readonly byKey = new Map<string, Ballot>();
  /** The nonce of the next transaction, once known; unset whenever the chain may disagree. */
  private nextNonce: number | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private fees: { at: number; fees: Promise<Fees> } | undefined;
  private sending: Promise<void> | undefined;
  private chainId: bigint | undefined;
  private closed = false;

  constructor(options: CommitterOptions) {
    if (!(options.wallet.provider instanceof JsonRpcApiProvider)) {
      throw new TypeError("the committer's wallet needs a JSON-RPC provider");
    }
    if (!(options.replaceAfterMs === undefined || options.replaceAfterMs > 0)) {
      throw new RangeError(`replaceAfterMs must be positive, got ${options.replaceAfterMs}`);
    }
    const feeBumpPercent = options.feeBumpPercent ?? 20;
    if (!Number.isInteger(feeBumpPercent) || feeBumpPercent < MIN_FEE_BUMP_PERCENT) {
      throw new RangeError(`feeBumpPercent must be an integer of at least ${MIN_FEE_BUMP_PERCENT}, got ${feeBumpPercent}`);
    }
    if (options.maxBatch !== undefined && !(Number.isInteger(options.maxBatch) && options.maxBatch >= 1)) {
      throw new RangeError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    }
    this.wallet = options.wallet;
    this.rpc = options.wallet.provider;
    this.contract = connectPmhe(options.contractAddress, options.wallet);
    this.events = EventDecoder.of(this.contract.interface);
    this.logger = options.logger;
    this.lingerMs = options.lingerMs ?? 5;
    this.replaceAfterMs = options.replaceAfterMs ?? 60_000;
    this.maxReplacements = options.maxReplacements ?? 3;
    this.feeBump = BigInt(100 + feeBumpPercent);
    this.requestedMaxBatch = options.maxBatch;
  }

  commitResult(jobId: Hash, resultHash: Hash): Promise<SettleResult> {
    try {
      const hash = parseHash(resultHash, "result hash");
      // The contract reserves 0..0xffff for failure votes and would refuse the whole batch.
      if (BigInt(hash) <= 0xffffn) throw new RangeError(`result hash ${hash} is in the range reserved for failure votes`);
      return this.submit({ kind: "commit", jobId: parseHash(jobId, "job id"), resultHash: hash }) as Promise<SettleResult>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  reportFailure(jobId: Hash, reason: number): Promise<SettleResult> {
    try {
      if (!Number.isInteger(reason) || reason < 1 || reason > 0xffff) {
        throw new RangeError(`failure reason must be in 1..65535, got ${reason}`);
      }
      return this.submit({ kind: "failure", jobId: parseHash(jobId, "job id"), reason }) as Promise<SettleResult>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Expires a job still Requested past its deadline. Sent by this committer, in turn with the votes, so this
   * account's nonces stay in order.
   */
  expireJob(jobId: Hash): Promise<ExpireResult> {
    try {
      return this.submit({ kind: "expire", jobId: parseHash(jobId, "job id") }) as Promise<ExpireResult>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Forgets the nonce it holds, so the next transaction reads it from the chain. For when the chain behind the
   * endpoint was replaced (a reset development chain starts this account's nonces again at 0).
   */
  resynchronise(): void {
    this.nextNonce = undefined;
  }

  /** Refuses new entries, sends the ones already queued and waits until every transaction in flight is settled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.startSending();
    }
    while (this.sending) await this.sending;
  }

  private submit(entry: Entry): Promise<SettleResult | ExpireResult> {
    if (this.closed) return Promise.reject(new Error("the committer is closed"));
    const key = keyOf(entry);
    const existing = this.byKey.get(key);
    if (existing) {
      // One vote per job and operator: a repeated call (a retried queue job, say) waits for the first one.
      this.logger?.debug({ jobId: entry.jobId, kind: entry.kind }, "already queued or in flight; joining it");
      return existing.promise;
    }
    const ballot = newBallot(entry);
    this.byKey.set(key, ballot);
    this.queue.push(ballot);
    this.scheduleSending();
    return ballot.promise;
  }

  /** Starts sending after the linger window, unless a send loop is running: that one picks new entries up. */
  private scheduleSending(): void {
    if (this.sending || this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.startSending();
    }, this.lingerMs);
  }

  private startSending(): void {
    this.sending = this.sendQueued().finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0) this.scheduleSending();
    });
  }

  /** Sends transaction after transaction until the queue is empty. Never throws: errors go to the callers. */
  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0) {
      let ballots: Ballot[];
      try {
        ballots = this.takeTransaction(await this.batchLimit());
      } catch (err) {
        ballots = this.queue.splice(0);
        this.settle(ballots, new Map(), err);
        continue;
      }
      const outcomes = new Map<string, Outcome>();
      let failure: unknown;
      try {
        await this.send(ballots.map((b) => b.entry), outcomes);
      } catch (err) {
        failure = err;
      }
      this.settle(ballots, outcomes, failure);
    }
  }

  /**
   * The next transaction's entries: the oldest queued commits up to `limit`, then the oldest failure reports in
   * the room left; an expiry alone when no vote is waiting.
   */
  private takeTransaction(limit: number): Ballot[] {
    const take = (kind: Entry["kind"], room: number): Ballot[] => {
      const taken: Ballot[] = [];
      for (let i = 0; i < this.queue.length && taken.length < room; ) {
        if (this.queue[i]!.entry.kind === kind) taken.push(...this.queue.splice(i, 1));
        else i++;
      }
      return taken;
    };
    const commits = take("commit", limit);
    const votes = [...commits, ...take("failure", limit - commits.length)];
    return votes.length > 0 ? votes : take("expire", 1);
  }

  private async batchLimit(): Promise<number> {
    if (this.maxBatch === undefined) {
      const onChain = Number(await this.contract.MAX_COMMIT_BATCH());
      this.maxBatch = Math.min(onChain, this.requestedMaxBatch ?? onChain);
    }
    return this.maxBatch;
  }

  /** Resolves or rejects every caller of `ballots`; an entry leaves `byKey` first, so a later call is sent anew. */
  private settle(ballots: Ballot[], outcomes: Map<string, Outcome>, failure: unknown): void {
    for (const ballot of ballots) {
      const key = keyOf(ballot.entry);
      this.byKey.delete(key);
      const outcome = outcomes.get(key) ?? failure ?? new Error(`no outcome for job ${ballot.entry.jobId}`);
      if (outcome instanceof Error || !isAnswer(outcome)) ballot.reject(outcome);
      else ballot.resolve(outcome);
    }
  }

  /**
   * Sends `entries` in one transaction and records each one's outcome in `outcomes`. Throws when the transaction
   * failed as a whole; the entries decided before that keep their outcomes.
   */
  private async send(entries: Entry[], outcomes: Map<string, Outcome>): Promise<void> {
    const { sendable, gasLimit } = await this.estimate(entries, outcomes);
    if (sendable.length === 0) return;
    const receipt = await this.transact(this.encode(sendable), gasLimit, sendable);
    for (const [key, outcome] of this.outcomesOf(receipt, sendable)) outcomes.set(key, outcome);
    if (receipt.status !== 1) {
      for (const [key, outcome] of await this.outcomesOfReverted(receipt, sendable)) outcomes.set(key, outcome);
    }
  }

  /**
   * The gas limit for sending `entries`, after leaving out, with their outcomes, the entries the contract refuses
   * on their own: a lone vote or expiry it no longer wants, or a job it does not know (which would revert a batch).
   */
  private async estimate(entries: Entry[], outcomes: Map<string, Outcome>): Promise<{ sendable: Entry[]; gasLimit: bigint }> {
    let remaining = entries;
    while (remaining.length > 0) {
      try {
        const gas = await this.estimateGas(this.encode(remaining));
        return { sendable: remaining, gasLimit: gas + GAS_HEADROOM_PER_VOTE * BigInt(remaining.length) };
      } catch (err) {
        const refused = this.refusedEntry(remaining, err);
        if (!refused) throw err;
        outcomes.set(refused.key, refused.outcome);
        remaining = remaining.filter((e) => keyOf(e) !== refused.key);
      }
    }
    return { sendable: [], gasLimit: 0n };
  }

  /**
   * Gas for sending `data` from this account, asked of the node itself: the provider answers identical requests
   * made within a moment from its cache, and an answer from before a deadline passed or a vote landed is stale.
   */
  private async estimateGas(data: string): Promise<bigint> {
    const to = String(this.contract.target);
    return BigInt(await this.rpc.send("eth_estimateGas", [{ from: this.wallet.address, to, data }]));
  }

  /** The call data of one transaction of `entries` (as `takeTransaction` groups them: commits, then failures). */
  private encode(entries: Entry[]): string {
    const iface = this.contract.interface;
    if (entries.length === 1) {
      const entry = entries[0]!;
      switch (entry.kind) {
        case "commit":
          return iface.encodeFunctionData("commitResult", [entry.jobId, entry.resultHash]);
        case "failure":
          return iface.encodeFunctionData("reportFailure", [entry.jobId, entry.reason]);
        case "expire":
          return iface.encodeFunctionData("expireJob", [entry.jobId]);
      }
    }
    const commits = entries.filter((e): e is Extract<Entry, { kind: "commit" }> => e.kind === "commit");
    const failures = entries.filter((e): e is Extract<Entry, { kind: "failure" }> => e.kind === "failure");
    if (commits.length + failures.length !== entries.length) throw new Error("an expiry cannot share a transaction");
    if (failures.length === 0) {
      return iface.encodeFunctionData("commitResults", [commits.map((v) => v.jobId), commits.map((v) => v.resultHash)]);
    }
    return iface.encodeFunctionData("castVotes", [
      commits.map((v) => v.jobId),
      commits.map((v) => v.resultHash),
      failures.map((v) => v.jobId),
      failures.map((v) => v.reason),
    ]);
  }

  /**
   * The entry a reverted estimate is about, with its outcome, if the revert is about one entry: for a lone vote,
   * the chain no longer wanting it (already voted, job failed or expired, deadline passed) is an outcome, and for a
   * lone expiry the job being settled or not yet overdue; any other contract error is its caller's. In a batch,
   * an unknown job is its caller's error alone.
   */
  private refusedEntry(entries: Entry[], err: unknown): { key: string; outcome: Outcome } | undefined {
    const revert = decodeContractError(err);
    if (!revert) return undefined;
    const refusal = (entry: Entry) =>
      new Error(`the contract refuses the ${entry.kind} of job ${entry.jobId}: ${revert.name}: ${revert.sentence}`, { cause: err });
    if (entries.length === 1) {
      const entry = entries[0]!;
      const key = keyOf(entry);
      if (entry.kind === "expire") {
        return { key, outcome: EXPIRY_REFUSALS.has(revert.name) ? { expired: false, because: revert.name as "JobNotPending" | "JobNotExpirable" } : refusal(entry) };
      }
      return { key, outcome: REFUSALS.has(revert.name) ? { settled: false, because: revert.name as "AlreadyVoted" } : refusal(entry) };
    }
    if (revert.name !== "UnknownJob") return undefined;
    const jobId = String(revert.args.jobId).toLowerCase() as Hash;
    const entry = entries.find((e) => e.jobId === jobId);
    return entry ? { key: keyOf(entry), outcome: refusal(entry) } : undefined;
  }

  /**
   * Each entry's outcome from a successful receipt: the events this account caused. A vote is settled when its
   * ResultCommitted or FailureReported is there (and decided the job when its JobFinalized or JobFailed is too), or
   * skipped with the VoteSkipped reason; an expiry is done when its JobExpired is there.
   */
  private outcomesOf(receipt: TransactionReceipt, entries: Entry[]): Map<string, Outcome> {
    const outcomes = new Map<string, Outcome>();
    if (receipt.status !== 1) return outcomes;
    const me = this.wallet.address.toLowerCase();
    const contract = String(this.contract.target).toLowerCase();
    const recorded = new Set<Hash>();
    const decided = new Set<Hash>();
    const skipped = new Map<Hash, number>();
    const expired = new Set<Hash>();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== contract) continue;
      const event = this.events.decode(log);
      if (!event) continue;
      const jobId = String(event.args.jobId ?? "").toLowerCase() as Hash;
      const byMe = () => String(event.args.coprocessor).toLowerCase() === me;
      switch (event.name) {
        case "ResultCommitted":
        case "FailureReported":
          if (byMe()) recorded.add(jobId);
          break;
        case "JobFinalized":
        case "JobFailed":
          decided.add(jobId);
          break;
        case "VoteSkipped":
          if (byMe()) skipped.set(jobId, Number(event.args.why));
          break;
        case "JobExpired":
          expired.add(jobId);
          break;
      }
    }
    for (const entry of entries) {
      const { jobId } = entry;
      if (entry.kind === "expire") {
        if (expired.has(jobId)) outcomes.set(keyOf(entry), { expired: true, txHash: receipt.hash });
        continue;
      }
      if (recorded.has(jobId)) outcomes.set(jobId, { settled: true, txHash: receipt.hash, decided: decided.has(jobId) });
      else if (skipped.has(jobId)) {
        const because = SKIP_REASONS[skipped.get(jobId)!];
        outcomes.set(jobId, because ? { settled: false, because } : new Error(`unknown skip code ${skipped.get(jobId)} for job ${jobId}`));
      }
    }
    return outcomes;
  }

  /**
   * A mined transaction that reverted carries no reason. For a lone entry, re-simulate it: having voted, the job
   * being settled and the deadline having passed are permanent, so if one of them made it revert, it still does.
   */
  private async outcomesOfReverted(receipt: TransactionReceipt, entries: Entry[]): Promise<Map<string, Outcome>> {
    const reverted = new Error(`transaction ${receipt.hash} reverted`);
    if (entries.length !== 1) return new Map(entries.map((e) => [keyOf(e), reverted]));
    try {
      await this.estimateGas(this.encode(entries));
    } catch (err) {
      const refused = this.refusedEntry(entries, err);
      if (refused && !(refused.outcome instanceof Error)) return new Map([[refused.key, refused.outcome]]);
    }
    return new Map([[keyOf(entries[0]!), reverted]]);
  }

/**
   * Sends a transaction under the next nonce and waits for it to be mined, re-sending it when it is not in time.
   * Any failure leaves the nonce to be re-read from the chain, since it is then unknown whether it was used.
   */
  private async transact(data: string, gasLimit: bigint, entries: Entry[]): Promise<TransactionReceipt> {
    const jobIds = entries.map((e) => e.jobId);
    const what = entries[0]?.kind === "expire" ? "expiry transaction" : "vote transaction";
    try {
      const { tx, fees, response } = await this.sendFresh(data, gasLimit, jobIds, what);
      const receipt = await this.confirm(tx, fees, response, jobIds, what);
      this.nextNonce = tx.nonce + 1;
      this.logger?.debug({ jobIds, txHash: receipt.hash }, `${what} mined`);
      return receipt;
    } catch (err) {
      this.nextNonce = undefined;
      this.logger?.warn({ jobIds, err: errorMessage(err) }, `${what} failed`);
      throw err;
    }
  }

  /** The first send of a transaction; a nonce the node refuses is re-read from the chain and tried once more. */
  private async sendFresh(
    data: string,
    gasLimit: bigint,
    jobIds: Hash[],
    what: string,
  ): Promise<{ tx: PreparedTx; fees: Fees; response: TransactionResponse }> {
    for (let attempt = 0; ; attempt++) {
      const tx: PreparedTx = { to: String(this.contract.target), data, gasLimit, nonce: await this.takeNonce() };
      const fees = await this.recentFees();
      try {
        const response = await this.sendAttempt(tx, fees);
        this.logger?.info({ jobIds, txHash: response.hash }, `${what} sent`);
        return { tx, fees, response };
      } catch (err) {
        if (attempt > 0 || !isNonceError(err)) throw err;
        this.logger?.warn({ jobIds, err: errorMessage(err) }, "nonce refused; reading it again from the chain");
        this.nextNonce = undefined;
      }
    }
  }

  /**
   * Waits for one of the transaction's attempts to be mined. An attempt without a receipt after `replaceAfterMs`
   * (dropped from the mempool, or priced below what is being mined) is replaced by one with the same nonce and
   * fees bumped by `feeBumpPercent`; the node then keeps only the replacement, but an earlier attempt may still
   * be mined elsewhere, which settles the votes just as well.
   */
  private async confirm(
    tx: PreparedTx,
    firstFees: Fees,
    first: TransactionResponse,
    jobIds: Hash[],
    what: string,
  ): Promise<TransactionReceipt> {
    const attempts = [first.hash];
    let latest = first;
    let fees = firstFees;
    for (let replacements = 0; ; replacements++) {
      const receipt = (await this.receiptWithin(latest, attempts)) ?? (await this.minedAttempt(attempts));
      if (receipt) return receipt;
      if (replacements >= this.maxReplacements) {
        throw new Error(`${what} ${latest.hash} was not mined after ${replacements} replacements`);
      }
      fees = this.bumped(fees, await this.currentFees());
      try {
        latest = await this.sendAttempt(tx, fees);
      } catch (err) {
        // The nonce may have been used up by an attempt mined in the meantime.
        const mined = await this.minedAttempt(attempts);
        if (mined) return mined;
        throw err;
      }
      attempts.push(latest.hash);
      const replaces = attempts[attempts.length - 2];
      this.logger?.warn({ jobIds, txHash: latest.hash, replaces }, `${what} re-sent`);
    }
  }

  /**
   * One attempt of `tx` at `fees`, signed here and sent as is (`protocol/raw-transaction.ts`: one request, no
   * recovery of our own address); legacy fees (a chain without EIP-1559) go through ethers' sendTransaction.
   */
  private async sendAttempt(tx: PreparedTx, fees: Fees): Promise<TransactionResponse> {
    if ("gasPrice" in fees) return this.wallet.sendTransaction({ ...tx, ...fees });
    this.chainId ??= (await this.rpc.getNetwork()).chainId;
    const signed = await signComplete(this.wallet, { ...tx, ...fees, chainId: this.chainId });
    // Replacements are looked for from the block before the send on, as ethers does.
    const startBlock = await this.rpc.getBlockNumber();
    await broadcastSigned(this.rpc, signed);
    return pendingResponse(this.rpc, signed, startBlock);
  }

  /**
   * The receipt of `response`, or of the attempt it was replaced by if that is ours, within `replaceAfterMs`;
   * null if there is none yet. A reverted receipt is returned too: its votes' outcomes are decided from it.
   */
  private async receiptWithin(response: TransactionResponse, attempts: string[]): Promise<TransactionReceipt | null> {
    try {
      return await response.wait(1, this.replaceAfterMs);
    } catch (err) {
      if (isError(err, "TIMEOUT")) return null;
      if (isError(err, "CALL_EXCEPTION") && err.receipt) return err.receipt;
      if (isError(err, "TRANSACTION_REPLACED")) {
        if (attempts.includes(err.hash)) return err.receipt;
        throw new Error(`the nonce of transaction ${response.hash} was used by another transaction (${err.hash})`);
      }
      throw err;
    }
  }

  private async minedAttempt(attempts: string[]): Promise<TransactionReceipt | null> {
    for (const hash of attempts) {
      const receipt = await this.rpc.getTransactionReceipt(hash);
      if (receipt) return receipt;
    }
    return null;
  }

  /**
   * The nonce of the next transaction: the one after the last mined, or the chain's count of this account's
   * transactions (mempool included) after anything went wrong. The count is asked of the node directly, since the
   * provider shares identical requests for a moment and a count read just before it went stale must not be reused.
   */
  private async takeNonce(): Promise<number> {
    this.nextNonce ??= Number(await this.rpc.send("eth_getTransactionCount", [this.wallet.address, "pending"]));
    return this.nextNonce;
  }

  /**
   * The node's suggested fees, asked at most once a second for first sends: a suggestion is three requests (the
   * latest block, the gas price, the priority fee), the base fee moves at most 12.5% a block, and ethers' suggestion
   * is twice the base fee plus the tip. A replacement asks afresh (`currentFees`).
   */
  private recentFees(): Promise<Fees> {
    const now = Date.now();
    if (!this.fees || now - this.fees.at > FEE_REUSE_MS) {
      const fees = this.currentFees();
      this.fees = { at: now, fees };
      fees.catch(() => (this.fees = undefined));
    }
    return this.fees.fees;
  }

  private async currentFees(): Promise<Fees> {
    const fees = await this.rpc.getFeeData();
    if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
      return { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas };
    }
    if (fees.gasPrice !== null) return { gasPrice: fees.gasPrice };
    throw new Error("the node suggests no fees");
  }

  /**
   * The fees of a replacement: the previous ones raised by the bump (the node's minimum for replacing), or what
   * the node suggests now if that is more (a stuck transaction is often one priced below the current base fee).
   */
  private bumped(previous: Fees, now: Fees): Fees {
    const raise = (value: bigint) => (value * this.feeBump + 99n) / 100n;
    if ("gasPrice" in previous) {
      return { gasPrice: max(raise(previous.gasPrice), "gasPrice" in now ? now.gasPrice : now.maxFeePerGas) };
    }
    const nowPriority = "gasPrice" in now ? now.gasPrice : now.maxPriorityFeePerGas;
    const nowMax = "gasPrice" in now ? now.gasPrice : now.maxFeePerGas;
    const maxPriorityFeePerGas = max(raise(previous.maxPriorityFeePerGas), nowPriority);
    return { maxPriorityFeePerGas, maxFeePerGas: max(raise(previous.maxFeePerGas), nowMax, maxPriorityFeePerGas) };
  }
}

function newBallot(entry: Entry): Ballot {
  let resolve!: (result: SettleResult | ExpireResult) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<SettleResult | ExpireResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { entry, promise, resolve, reject };
}

function isAnswer(value: unknown): value is SettleResult | ExpireResult {
  return typeof value === "object" && value !== null && ("settled" in value || "expired" in value);
}

const max = (...values: bigint[]): bigint => values.reduce((a, b) => (a > b ? a : b));

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function errorMessage(err: unknown): string {
  return (err as { shortMessage?: string }).shortMessage ?? asError(err).message;
}

/** A refusal that says the nonce is wrong: already used, taken by a pending transaction, or ahead of the chain. */
function isNonceError(err: unknown): boolean {
  return isError(err, "NONCE_EXPIRED") || isError(err, "REPLACEMENT_UNDERPRICED") || /nonce/i.test(asError(err).message);
}
