import {
  isError,
  JsonRpcApiProvider,
  type ErrorDescription,
  type TransactionReceipt,
  type TransactionResponse,
  type Wallet,
} from "ethers";
import type { Logger } from "pino";
import { connectPmhe, type PmheContract } from "../../protocol/chain.js";
import { parseHash, type Hash } from "../../protocol/hash.js";
import type { JobChain, SettleResult } from "../jobs/job-chain.js";

export interface CommitterOptions {
  /**
   * This coprocessor's account (it must hold COPROCESSOR_ROLE), on a JsonRpcProvider. The committer assigns its
   * nonces; another sender using the same key only costs a resynchronisation.
   */
  wallet: Wallet;
  contractAddress: string;
  /** How long a vote waits for others to share its transaction when nothing is being sent. Default 5 ms. */
  lingerMs?: number;
  /** The most commits per transaction; at most, and by default, the contract's MAX_COMMIT_BATCH. */
  maxBatch?: number;
  /** How long a sent transaction may go without a receipt before it is re-sent with the same nonce. Default 60 s. */
  replaceAfterMs?: number;
  /** Re-sends of one transaction before its callers are failed (their jobs are retried later). Default 3. */
  maxReplacements?: number;
  /** Fee increase of each re-send, in percent. Nodes refuse a replacement below +10%. Default 20. */
  feeBumpPercent?: number;
  logger?: Logger;
}

type Vote = { kind: "commit"; jobId: Hash; resultHash: Hash } | { kind: "failure"; jobId: Hash; reason: number };

/** A caller's vote and the promise every caller voting on the same job shares. */
interface Ballot {
  vote: Vote;
  promise: Promise<SettleResult>;
  resolve(result: SettleResult): void;
  reject(err: unknown): void;
}

/** What one vote came to: an outcome for its callers, or an error for them alone. */
type Outcome = SettleResult | Error;

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
const SKIP_REASONS: Record<number, "AlreadyVoted" | "JobNotPending"> = { 1: "AlreadyVoted", 2: "JobNotPending" };

const MIN_FEE_BUMP_PERCENT = 10;

/**
 * Sends this coprocessor's votes. Result commits that come in while a transaction is being prepared or mined, or
 * within `lingerMs`, go out together as one `commitResults` transaction; failure reports go one by one. One
 * transaction is in flight at a time, so nonces are simply consecutive; one that is not mined in time is re-sent
 * with the same nonce and higher fees, and whichever attempt is mined settles its votes.
 */
export class Committer implements Pick<JobChain, "commitResult" | "reportFailure"> {
  private readonly contract: PmheContract;
  private readonly wallet: Wallet;
  private readonly rpc: JsonRpcApiProvider;
  private readonly logger: Logger | undefined;
  private readonly lingerMs: number;
  private readonly replaceAfterMs: number;
  private readonly maxReplacements: number;
  private readonly feeBump: bigint;
  private readonly requestedMaxBatch: number | undefined;
  private maxBatch: number | undefined;

  /** Votes not yet taken into a transaction, oldest first. */
  private readonly queue: Ballot[] = [];
  /** Every vote queued or in flight, by job: a second call for the same job joins it. */
  private readonly byJob = new Map<Hash, Ballot>();
  /** The nonce of the next transaction, once known; unset whenever the chain may disagree. */
  private nextNonce: number | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
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
      return this.submit({ kind: "commit", jobId: parseHash(jobId, "job id"), resultHash: hash });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  reportFailure(jobId: Hash, reason: number): Promise<SettleResult> {
    try {
      if (!Number.isInteger(reason) || reason < 1 || reason > 0xffff) {
        throw new RangeError(`failure reason must be in 1..65535, got ${reason}`);
      }
      return this.submit({ kind: "failure", jobId: parseHash(jobId, "job id"), reason });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Refuses new votes, sends the ones already queued and waits until every transaction in flight is settled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.startSending();
    }
    while (this.sending) await this.sending;
  }

  private submit(vote: Vote): Promise<SettleResult> {
    if (this.closed) return Promise.reject(new Error("the committer is closed"));
    const existing = this.byJob.get(vote.jobId);
    if (existing) {
      // One vote per job and operator: a repeated call (a retried queue job, say) waits for the first one.
      this.logger?.debug({ jobId: vote.jobId }, "vote already queued or in flight; joining it");
      return existing.promise;
    }
    const ballot = newBallot(vote);
    this.byJob.set(vote.jobId, ballot);
    this.queue.push(ballot);
    this.scheduleSending();
    return ballot.promise;
  }

  /** Starts sending after the linger window, unless a send loop is running: that one picks new votes up. */
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
      const outcomes = new Map<Hash, Outcome>();
      let failure: unknown;
      try {
        await this.send(ballots.map((b) => b.vote), outcomes);
      } catch (err) {
        failure = err;
      }
      this.settle(ballots, outcomes, failure);
    }
  }

  /** The next transaction's votes: a failure report alone, or the oldest commits up to `limit`. */
  private takeTransaction(limit: number): Ballot[] {
    const head = this.queue[0]!;
    if (head.vote.kind === "failure") return this.queue.splice(0, 1);
    const taken: Ballot[] = [];
    for (let i = 0; i < this.queue.length && taken.length < limit; ) {
      if (this.queue[i]!.vote.kind === "commit") taken.push(...this.queue.splice(i, 1));
      else i++;
    }
    return taken;
  }

  private async batchLimit(): Promise<number> {
    if (this.maxBatch === undefined) {
      const onChain = Number(await this.contract.MAX_COMMIT_BATCH());
      this.maxBatch = Math.min(onChain, this.requestedMaxBatch ?? onChain);
    }
    return this.maxBatch;
  }

  /** Resolves or rejects every caller of `ballots`; a job leaves `byJob` first, so a later call votes anew. */
  private settle(ballots: Ballot[], outcomes: Map<Hash, Outcome>, failure: unknown): void {
    for (const ballot of ballots) {
      this.byJob.delete(ballot.vote.jobId);
      const outcome = outcomes.get(ballot.vote.jobId) ?? failure ?? new Error(`no outcome for job ${ballot.vote.jobId}`);
      if (outcome instanceof Error || !isSettleResult(outcome)) ballot.reject(outcome);
      else ballot.resolve(outcome);
    }
  }

  /**
   * Sends `votes` in one transaction and records each one's outcome in `outcomes`. Throws when the transaction
   * failed as a whole; the votes decided before that keep their outcomes.
   */
  private async send(votes: Vote[], outcomes: Map<Hash, Outcome>): Promise<void> {
    const { sendable, gasLimit } = await this.estimate(votes, outcomes);
    if (sendable.length === 0) return;
    const receipt = await this.transact(this.encode(sendable), gasLimit, sendable);
    for (const [jobId, outcome] of await this.outcomesOf(receipt, sendable)) outcomes.set(jobId, outcome);
  }

  /**
   * The gas limit for sending `votes`, after leaving out, with their outcomes, the votes the contract refuses on
   * their own: a lone vote it no longer wants, or a job it does not know (which would revert a whole batch).
   */
  private async estimate(votes: Vote[], outcomes: Map<Hash, Outcome>): Promise<{ sendable: Vote[]; gasLimit: bigint }> {
    let remaining = votes;
    while (remaining.length > 0) {
      try {
        const gas = await this.wallet.estimateGas({ to: this.contract.target, data: this.encode(remaining) });
        return { sendable: remaining, gasLimit: gas + GAS_HEADROOM_PER_VOTE * BigInt(remaining.length) };
      } catch (err) {
        const refused = this.refusedVote(remaining, err);
        if (!refused) throw err;
        outcomes.set(refused.jobId, refused.outcome);
        remaining = remaining.filter((v) => v.jobId !== refused.jobId);
      }
    }
    return { sendable: [], gasLimit: 0n };
  }

  private encode(votes: Vote[]): string {
    const iface = this.contract.interface;
    if (votes.length > 1) {
      const commits = votes as Array<Extract<Vote, { kind: "commit" }>>;
      return iface.encodeFunctionData("commitResults", [commits.map((v) => v.jobId), commits.map((v) => v.resultHash)]);
    }
    const vote = votes[0]!;
    return vote.kind === "commit"
      ? iface.encodeFunctionData("commitResult", [vote.jobId, vote.resultHash])
      : iface.encodeFunctionData("reportFailure", [vote.jobId, vote.reason]);
  }

  /**
   * The vote a reverted estimate is about, with its outcome, if the revert is about one vote: for a lone vote,
   * the chain no longer wanting it (already voted, job failed or expired) is an outcome and any other contract
   * error is its caller's; in a batch, an unknown job is its caller's error alone.
   */
  private refusedVote(votes: Vote[], err: unknown): { jobId: Hash; outcome: Outcome } | undefined {
    const revert = decodeRevert(this.contract, err);
    if (!revert) return undefined;
    const refusal = (jobId: Hash) =>
      new Error(`the contract refuses the vote on job ${jobId}: ${revert.name}`, { cause: err });
    if (votes.length === 1) {
      const { jobId } = votes[0]!;
      const because = revert.name === "AlreadyVoted" || revert.name === "JobNotPending" ? revert.name : undefined;
      return { jobId, outcome: because ? { settled: false, because } : refusal(jobId) };
    }
    if (revert.name !== "UnknownJob") return undefined;
    const jobId = String(revert.args[0]).toLowerCase() as Hash;
    return votes.some((v) => v.jobId === jobId) ? { jobId, outcome: refusal(jobId) } : undefined;
  }

  /** Each vote's outcome from the mined receipt. */
  private async outcomesOf(receipt: TransactionReceipt, votes: Vote[]): Promise<Map<Hash, Outcome>> {
    if (receipt.status !== 1) return this.outcomesOfReverted(receipt, votes);
    if (votes.length === 1) return new Map([[votes[0]!.jobId, { settled: true, txHash: receipt.hash }]]);

    const me = this.wallet.address.toLowerCase();
    const outcomes = new Map<Hash, Outcome>();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== String(this.contract.target).toLowerCase()) continue;
      const event = this.contract.interface.parseLog(log);
      if (!event || String(event.args.coprocessor).toLowerCase() !== me) continue;
      const jobId = String(event.args.jobId).toLowerCase() as Hash;
      if (event.name === "ResultCommitted") outcomes.set(jobId, { settled: true, txHash: receipt.hash });
      else if (event.name === "VoteSkipped") {
        const because = SKIP_REASONS[Number(event.args.why)];
        const unknown = new Error(`unknown skip code ${event.args.why} for job ${jobId}`);
        outcomes.set(jobId, because ? { settled: false, because } : unknown);
      }
    }
    return outcomes;
  }

  /**
   * A mined transaction that reverted carries no reason. For a lone vote, re-simulate it: having voted, and the
   * job having failed or expired, are permanent, so if either made it revert, it still does.
   */
  private async outcomesOfReverted(receipt: TransactionReceipt, votes: Vote[]): Promise<Map<Hash, Outcome>> {
    const reverted = new Error(`vote transaction ${receipt.hash} reverted`);
    if (votes.length !== 1) return new Map(votes.map((v) => [v.jobId, reverted]));
    try {
      await this.wallet.estimateGas({ to: this.contract.target, data: this.encode(votes) });
    } catch (err) {
      const refused = this.refusedVote(votes, err);
      if (refused && !(refused.outcome instanceof Error)) return new Map([[refused.jobId, refused.outcome]]);
    }
    return new Map([[votes[0]!.jobId, reverted]]);
  }

  /**
   * Sends a transaction under the next nonce and waits for it to be mined, re-sending it when it is not in time.
   * Any failure leaves the nonce to be re-read from the chain, since it is then unknown whether it was used.
   */
  private async transact(data: string, gasLimit: bigint, votes: Vote[]): Promise<TransactionReceipt> {
    const jobIds = votes.map((v) => v.jobId);
    try {
      const { tx, fees, response } = await this.sendFresh(data, gasLimit, jobIds);
      const receipt = await this.confirm(tx, fees, response, jobIds);
      this.nextNonce = tx.nonce + 1;
      this.logger?.debug({ jobIds, txHash: receipt.hash }, "vote transaction mined");
      return receipt;
    } catch (err) {
      this.nextNonce = undefined;
      this.logger?.warn({ jobIds, err: errorMessage(err) }, "vote transaction failed");
      throw err;
    }
  }

  /** The first send of a transaction; a nonce the node refuses is re-read from the chain and tried once more. */
  private async sendFresh(
    data: string,
    gasLimit: bigint,
    jobIds: Hash[],
  ): Promise<{ tx: PreparedTx; fees: Fees; response: TransactionResponse }> {
    for (let attempt = 0; ; attempt++) {
      const tx: PreparedTx = { to: String(this.contract.target), data, gasLimit, nonce: await this.takeNonce() };
      const fees = await this.currentFees();
      try {
        const response = await this.wallet.sendTransaction({ ...tx, ...fees });
        this.logger?.info({ jobIds, txHash: response.hash }, "vote transaction sent");
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
  ): Promise<TransactionReceipt> {
    const attempts = [first.hash];
    let latest = first;
    let fees = firstFees;
    for (let replacements = 0; ; replacements++) {
      const receipt = (await this.receiptWithin(latest, attempts)) ?? (await this.minedAttempt(attempts));
      if (receipt) return receipt;
      if (replacements >= this.maxReplacements) {
        throw new Error(`vote transaction ${latest.hash} was not mined after ${replacements} replacements`);
      }
      fees = this.bumped(fees, await this.currentFees());
      try {
        latest = await this.wallet.sendTransaction({ ...tx, ...fees });
      } catch (err) {
        // The nonce may have been used up by an attempt mined in the meantime.
        const mined = await this.minedAttempt(attempts);
        if (mined) return mined;
        throw err;
      }
      attempts.push(latest.hash);
      const replaces = attempts[attempts.length - 2];
      this.logger?.warn({ jobIds, txHash: latest.hash, replaces }, "vote transaction re-sent");
    }
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
        throw new Error(`the nonce of vote transaction ${response.hash} was used by another transaction (${err.hash})`);
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

function newBallot(vote: Vote): Ballot {
  let resolve!: (result: SettleResult) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<SettleResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { vote, promise, resolve, reject };
}

function isSettleResult(value: unknown): value is SettleResult {
  return typeof value === "object" && value !== null && "settled" in value;
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

/**
 * The contract error a call reverted with, with its arguments. ethers leaves custom errors undecoded when they
 * surface during gas estimation, so look for revert data along the error's causes.
 */
function decodeRevert(contract: PmheContract, err: unknown): ErrorDescription | undefined {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === "object" && !seen.has(e); e = (e as { error?: unknown }).error) {
    seen.add(e);
    const data = (e as { data?: unknown }).data;
    if (typeof data !== "string" || !data.startsWith("0x") || data.length < 10) continue;
    try {
      const parsed = contract.interface.parseError(data);
      if (parsed) return parsed;
    } catch {
      // not one of the contract's errors
    }
  }
  return undefined;
}
