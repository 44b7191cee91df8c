import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager, toQuantity, Wallet, type ContractTransactionResponse, type TransactionResponse } from "ethers";
import { pino, type Logger } from "pino";
import { Committer, type CommitterOptions } from "../../coprocessor/chain/committer.js";
import type { SettleResult } from "../../coprocessor/jobs/job-chain.js";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount } from "../../local/stack.js";
import { jobIdFromReceipt, JobStatus, modelIdOf, type PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { rejectionOf } from "../helpers/rejection.js";

const RECORD = id("committer-test-record") as Hash;
const MODEL_HASH = id("committer-test-model") as Hash;
const resultFor = (label: string | number) => id(`result-${label}`) as Hash;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lower = (value: string) => value.toLowerCase();

/** How long a helper polls for something before failing with a message: a bound against hanging, not a measure. */
const POLL_BOUND_MS = 60_000;

type LogLine = { msg: string; txHash?: string; replaces?: string; jobIds?: string[] };

/** A debug-level pino logger that keeps every line, so tests can see which transactions the committer sent. */
function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** The `nth` (0-based) log line with message `msg`, once the committer has written it. */
async function logLine(lines: LogLine[], msg: string, nth = 0): Promise<LogLine> {
  const deadline = Date.now() + POLL_BOUND_MS;
  for (;;) {
    const found = lines.filter((line) => line.msg === msg);
    if (found.length > nth) return found[nth]!;
    if (Date.now() > deadline) throw new Error(`no log line "${msg}" #${nth}; got ${JSON.stringify(lines.map((l) => l.msg))}`);
    await sleep(10);
  }
}

/** Marks `promise` as handled, so a rejection while the test is busy elsewhere fails the test where it is awaited. */
function held<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** A JSON-RPC pass-through to the node that can be switched to answer 503, as an RPC endpoint that is down. */
async function startRpcProxy(target: string): Promise<{ url: string; down: boolean; close(): Promise<void> }> {
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (state.down) {
        res.writeHead(503, { "content-type": "text/plain" }).end("unavailable");
        return;
      }
      fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) })
        .then(async (answer) => res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text()))
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("Committer: batched, nonce-managed vote transactions (hardhat node)", function () {
  let chain: LocalChain;
  /** The test's own view of the chain: reads, mining, mempool control. */
  let provider: JsonRpcProvider;
  /** The committer's connection, as a coprocessor would have it. */
  let committerProvider: JsonRpcProvider;
  let contract: PmheContract;
  let operatorKey: string;
  let operator: string;
  let patient: NonceManager;
  let admin: NonceManager;
  let patientAddress: string;
  let model: Hash;
  const committers: Committer[] = [];

  before(async function () {
    chain = await startLocalChain();
    provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 50 });
    committerProvider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 50 });
    admin = new NonceManager(hardhatAccount(0, provider));
    const hospital = new NonceManager(hardhatAccount(1, provider));
    const operatorWallet = hardhatAccount(2, provider);
    operatorKey = operatorWallet.privateKey;
    operator = operatorWallet.address;
    patient = new NonceManager(hardhatAccount(3, provider));
    patientAddress = await patient.getAddress();
    const hospitalAddress = await hospital.getAddress();
    ({ contract } = await deployPmhe(admin, {
      hospitals: [{ address: hospitalAddress, encryptionKey: id("committer-test-hospital-key") as Hash, name: "Committer Test Hospital" }],
      coprocessors: [operator],
    }));
    await (await contract.connect(patient).registerKeys(id("committer-test-keys"), "blob://keys")).wait();
    await (await contract.connect(patient).anchorRecord(RECORD)).wait();
    await (await contract.connect(hospital).publishModel(MODEL_HASH, "heart-risk", 1, "blob://model")).wait();
    model = modelIdOf(hospitalAddress, MODEL_HASH);
  });

  afterEach(async function () {
    await provider.send("evm_setAutomine", [true]);
    await Promise.all(committers.splice(0).map((c) => c.close()));
  });

  after(async function () {
    committerProvider?.destroy();
    provider?.destroy();
    await chain?.stop();
  });

  function newCommitter(options: Partial<CommitterOptions> = {}): { committer: Committer; lines: LogLine[] } {
    const { logger, lines } = capturingLogger();
    const committer = new Committer({
      wallet: new Wallet(operatorKey, committerProvider),
      contractAddress: String(contract.target),
      logger,
      ...options,
    });
    committers.push(committer);
    return { committer, lines };
  }

  /** Requests `n` jobs (sent one after the other, mined in any grouping) and returns their ids in order. */
  async function requestJobs(n: number): Promise<Hash[]> {
    const sent: ContractTransactionResponse[] = [];
    for (let i = 0; i < n; i++) sent.push(await contract.connect(patient).requestPrediction(patientAddress, RECORD, model));
    return Promise.all(sent.map(async (tx) => jobIdFromReceipt(contract, (await tx.wait())!)));
  }

  /** The operator's mined transactions, asked of the node directly: ethers shares identical requests for 250 ms. */
  const sentCount = async () => Number(await provider.send("eth_getTransactionCount", [operator, "latest"]));
  const mine = () => provider.send("evm_mine", []);

  /** Mines a block every 50 ms until `promise` settles (automine off), and returns its outcome. */
  async function mineUntil<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    while (!done) {
      await mine();
      await sleep(50);
    }
    return tracked;
  }

  /** A pending transaction as the node holds it. */
  async function pendingTx(hash: string | undefined): Promise<TransactionResponse> {
    const tx = await provider.getTransaction(hash ?? "");
    if (!tx) throw new Error(`the node does not know transaction ${hash}`);
    expect(tx.blockNumber, `${hash} should not be mined yet`).to.equal(null);
    return tx;
  }

  async function votesOf(jobId: Hash) {
    return {
      committed: await contract.queryFilter(contract.filters.ResultCommitted(jobId, operator)),
      failed: await contract.queryFilter(contract.filters.FailureReported(jobId, operator)),
      expired: await contract.queryFilter(contract.filters.JobExpired(jobId)),
      finalized: await contract.queryFilter(contract.filters.JobFinalized(jobId)),
    };
  }

  const settledTx = (result: SettleResult): string => {
    expect(result.settled, JSON.stringify(result)).to.equal(true);
    return (result as { txHash: string }).txHash;
  };

  it("sends many concurrent commits in fewer transactions than jobs, at most MAX_COMMIT_BATCH each, and finalizes every job with its hash", async function () {
    const { committer } = newCommitter();
    const jobs = await requestJobs(40);
    const maxBatch = Number(await contract.MAX_COMMIT_BATCH());
    const before = await sentCount();

    const results = await Promise.all(jobs.map((jobId, i) => committer.commitResult(jobId, resultFor(i))));

    const txHashes = new Set(results.map(settledTx));
    expect(txHashes.size, "transactions").to.be.below(jobs.length);
    expect(txHashes.size, "transactions").to.be.at.least(Math.ceil(jobs.length / maxBatch));
    expect((await sentCount()) - before, "nonces used").to.equal(txHashes.size);
    for (const txHash of txHashes) {
      const receipt = await provider.getTransactionReceipt(txHash);
      const commits = receipt!.logs.filter((log) => contract.interface.parseLog(log)?.name === "ResultCommitted");
      expect(commits.length, txHash).to.be.within(1, maxBatch);
    }
    for (const [i, jobId] of jobs.entries()) {
      const job = await contract.jobOf(jobId);
      expect(Number(job.status), `job ${i}`).to.equal(JobStatus.Finalized);
      expect(job.resultHash, `job ${i}`).to.equal(resultFor(i));
      const { committed } = await votesOf(jobId);
      expect(committed.map((e) => e.transactionHash), `job ${i}`).to.deep.equal([settledTx(results[i]!)]);
    }
  });

  it("sends the commits that arrive while a transaction is being mined together in the next one", async function () {
    const { committer, lines } = newCommitter();
    const [first, ...later] = await requestJobs(11);
    await provider.send("evm_setAutomine", [false]);

    const firstVote = held(committer.commitResult(first!, resultFor("first")));
    const sent = await logLine(lines, "vote transaction sent");
    await pendingTx(sent.txHash);
    const laterVotes = later.map((jobId, i) => held(committer.commitResult(jobId, resultFor(`later-${i}`))));

    const results = await mineUntil(Promise.all([firstVote, ...laterVotes]));
    expect(settledTx(results[0]!)).to.equal(sent.txHash);
    const laterTxs = new Set(results.slice(1).map(settledTx));
    expect(laterTxs.size, "transactions for the later commits").to.equal(1);
    expect(laterTxs.has(sent.txHash!)).to.equal(false);
  });

  it("re-sends a dropped transaction with the same nonce, and the job is finalized exactly once", async function () {
    const { committer, lines } = newCommitter({ replaceAfterMs: 1_500 });
    const [jobId] = (await requestJobs(1)) as [Hash];
    await provider.send("evm_setAutomine", [false]);

    const vote = held(committer.commitResult(jobId, resultFor("dropped")));
    const sent = await logLine(lines, "vote transaction sent");
    const original = await pendingTx(sent.txHash);
    expect(await provider.send("hardhat_dropTransaction", [original.hash]), "dropped from the mempool").to.equal(true);

    const resent = await logLine(lines, "vote transaction re-sent");
    expect(resent.replaces).to.equal(original.hash);
    const replacement = await pendingTx(resent.txHash);
    expect(replacement.nonce).to.equal(original.nonce);
    expect(replacement.data).to.equal(original.data);
    await mine();

    expect(await vote).to.deep.equal({ settled: true, txHash: replacement.hash, decided: true });
    expect(await provider.getTransactionReceipt(original.hash)).to.equal(null);
    const { committed, finalized } = await votesOf(jobId);
    expect(committed.map((e) => e.transactionHash)).to.deep.equal([replacement.hash]);
    expect(finalized).to.have.length(1);
    expect((await contract.jobOf(jobId)).resultHash).to.equal(resultFor("dropped"));
  });

  it("replaces a transaction stuck below the base fee with one of the same nonce and fees raised by at least 10%", async function () {
    const { committer, lines } = newCommitter({ replaceAfterMs: 1_500 });
    const [jobId] = (await requestJobs(1)) as [Hash];
    await provider.send("evm_setAutomine", [false]);

    const vote = held(committer.commitResult(jobId, resultFor("stuck")));
    const sent = await logLine(lines, "vote transaction sent");
    const original = await pendingTx(sent.txHash);
    // Blocks go on being mined, but at a base fee the transaction does not pay: it is stuck.
    await provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(original.maxFeePerGas! + 1n)]);
    await mine();
    await pendingTx(original.hash);

    const resent = await logLine(lines, "vote transaction re-sent");
    expect(resent.replaces).to.equal(original.hash);
    const replacement = await pendingTx(resent.txHash);
    expect(replacement.nonce).to.equal(original.nonce);
    expect(replacement.maxFeePerGas! * 100n).to.be.at.least(original.maxFeePerGas! * 110n);
    expect(replacement.maxPriorityFeePerGas! * 100n).to.be.at.least(original.maxPriorityFeePerGas! * 110n);
    await mine();

    expect(await vote).to.deep.equal({ settled: true, txHash: replacement.hash, decided: true });
    expect(await provider.getTransactionReceipt(original.hash)).to.equal(null);
    const { committed, finalized } = await votesOf(jobId);
    expect(committed.map((e) => e.transactionHash)).to.deep.equal([replacement.hash]);
    expect(finalized).to.have.length(1);
  });

  it("answers AlreadyVoted for a job this operator voted on outside the committer, without failing the rest of its batch, and resynchronises its nonce", async function () {
    const { committer, lines } = newCommitter();
    const [warmUp, votedElsewhere, fresh] = (await requestJobs(3)) as [Hash, Hash, Hash];
    // The committer has sent before, so it holds the next nonce; the direct vote below uses that nonce first.
    settledTx(await committer.commitResult(warmUp, resultFor("warm-up")));
    const direct = contract.connect(hardhatAccount(2, provider));
    await (await direct.commitResult(votedElsewhere, resultFor("direct"))).wait();

    const [skipped, voted] = await Promise.all([
      committer.commitResult(votedElsewhere, resultFor("again")),
      committer.commitResult(fresh, resultFor("fresh")),
    ]);

    expect(skipped).to.deep.equal({ settled: false, because: "AlreadyVoted" });
    const txHash = settledTx(voted);
    const [skip] = await contract.queryFilter(contract.filters.VoteSkipped(votedElsewhere, operator));
    expect(skip?.transactionHash, "skipped in the same transaction").to.equal(txHash);
    expect(Number(skip?.args.why)).to.equal(1);
    expect(await contract.voteOf(votedElsewhere, operator)).to.equal(resultFor("direct"));
    expect((await contract.jobOf(fresh)).resultHash).to.equal(resultFor("fresh"));
    expect(lines.filter((l) => l.msg === "nonce refused; reading it again from the chain")).to.have.length(1);
  });

  it("answers a lone vote the chain no longer wants without sending a transaction: AlreadyVoted, VotingClosed, JobNotPending", async function () {
    const { committer } = newCommitter();
    const [voted, overdue, expired] = (await requestJobs(3)) as [Hash, Hash, Hash];
    settledTx(await committer.commitResult(voted, resultFor("first")));
    const before = await sentCount();
    expect(await committer.commitResult(voted, resultFor("again"))).to.deep.equal({ settled: false, because: "AlreadyVoted" });

    await provider.send("evm_increaseTime", [Number(await contract.jobTimeout()) + 1]);
    await (await contract.connect(patient).expireJob(expired)).wait();
    // Past the deadline no vote is taken, whatever the job's status: that is an answer, not an error.
    expect(await committer.commitResult(overdue, resultFor("late"))).to.deep.equal({ settled: false, because: "VotingClosed" });
    expect(await committer.reportFailure(overdue, 7)).to.deep.equal({ settled: false, because: "VotingClosed" });
    expect(await committer.commitResult(voted, resultFor("late"))).to.deep.equal({ settled: false, because: "VotingClosed" });
    expect(await committer.commitResult(expired, resultFor("late"))).to.deep.equal({ settled: false, because: "JobNotPending" });
    expect(await committer.reportFailure(expired, 7)).to.deep.equal({ settled: false, because: "JobNotPending" });
    expect(await sentCount()).to.equal(before);
  });

  it("answers VotingClosed for a batch entry past its deadline (skipped on-chain with reason 3) while the rest of the batch counts", async function () {
    const { committer } = newCommitter();
    const timeout = await contract.jobTimeout();
    await (await contract.connect(admin).setJobTimeout(30)).wait();
    const [closing] = (await requestJobs(1)) as [Hash];
    await (await contract.connect(admin).setJobTimeout(timeout)).wait();
    const [open, alsoOpen] = (await requestJobs(2)) as [Hash, Hash];
    await provider.send("evm_increaseTime", [31]);

    const [late, a, b] = await Promise.all([
      committer.commitResult(closing, resultFor("closing")),
      committer.commitResult(open, resultFor("open")),
      committer.reportFailure(alsoOpen, 9),
    ]);
    expect(late).to.deep.equal({ settled: false, because: "VotingClosed" });
    const txHash = settledTx(a);
    expect(settledTx(b), "one transaction for the batch").to.equal(txHash);
    const [skip] = await contract.queryFilter(contract.filters.VoteSkipped(closing, operator));
    expect(skip?.transactionHash, "skipped inside the batch").to.equal(txHash);
    expect(Number(skip?.args.why)).to.equal(3);
    expect(Number((await contract.jobOf(closing)).status)).to.equal(JobStatus.Requested);
  });

  it("sends queued commits first and failures after in one castVotes transaction, commitResults for commits alone, and never lets a failure go ahead of a waiting commit", async function () {
    const { committer, lines } = newCommitter();
    const maxBatch = Number(await contract.MAX_COMMIT_BATCH());
    const [first, ...rest] = await requestJobs(1 + 30 + 10 + 3);
    const failing = rest.slice(0, 30);
    const committing = rest.slice(30, 40);
    const commitsOnly = rest.slice(40);
    await provider.send("evm_setAutomine", [false]);

    const firstVote = held(committer.commitResult(first!, resultFor("first")));
    await pendingTx((await logLine(lines, "vote transaction sent")).txHash);
    // While the first transaction waits to be mined: 30 failures arrive, then 10 commits.
    const failures = failing.map((jobId, i) => held(committer.reportFailure(jobId, 1 + (i % 11))));
    const commits = committing.map((jobId, i) => held(committer.commitResult(jobId, resultFor(`c-${i}`))));
    const results = await mineUntil(Promise.all([firstVote, ...failures, ...commits]));
    await provider.send("evm_setAutomine", [true]);

    const txOf = (i: number) => settledTx(results[i]!);
    const second = txOf(1 + 30);
    expect(commits.length + failing.length, "more than one batch").to.be.above(maxBatch);
    // The next transaction: all 10 commits, then the oldest 22 failures; the last 8 failures in the one after.
    for (let i = 0; i < 10; i++) expect(txOf(1 + 30 + i), `commit ${i}`).to.equal(second);
    for (let i = 0; i < 22; i++) expect(txOf(1 + i), `failure ${i}`).to.equal(second);
    const third = txOf(1 + 22);
    expect(third).to.not.equal(second);
    for (let i = 22; i < 30; i++) expect(txOf(1 + i), `failure ${i}`).to.equal(third);

    const call = async (hash: string) => {
      const tx = await provider.getTransaction(hash);
      return contract.interface.parseTransaction({ data: tx!.data })!;
    };
    const secondCall = await call(second);
    expect(secondCall.name).to.equal("castVotes");
    expect([...secondCall.args[0]].map(lower), "commits, in arrival order").to.deep.equal(committing);
    expect([...secondCall.args[2]].map(lower), "then failures, oldest first").to.deep.equal(failing.slice(0, 22));
    const receipt = await provider.getTransactionReceipt(second);
    const names = receipt!.logs.map((log) => contract.interface.parseLog(log)?.name).filter((n) => n === "ResultCommitted" || n === "FailureReported");
    expect(names.lastIndexOf("ResultCommitted"), "every commit recorded before the first failure").to.be.below(names.indexOf("FailureReported"));
    expect((await call(third)).name).to.equal("castVotes");
    for (const [i, jobId] of failing.entries()) expect(Number((await contract.jobOf(jobId)).failureReason), `failure ${i}`).to.equal(1 + (i % 11));

    const only = await Promise.all(commitsOnly.map((jobId, i) => committer.commitResult(jobId, resultFor(`only-${i}`))));
    expect((await call(settledTx(only[0]!))).name, "commits alone").to.equal("commitResults");
  });

  it("says whether its vote decided the job: not at quorum 2 with one operator", async function () {
    const { committer } = newCommitter();
    await (await contract.connect(admin).setQuorum(2)).wait();
    try {
      const [jobId] = (await requestJobs(1)) as [Hash];
      const vote = await committer.commitResult(jobId, resultFor("quorum-2"));
      expect(vote).to.deep.equal({ settled: true, txHash: settledTx(vote), decided: false });
      expect(Number((await contract.jobOf(jobId)).status)).to.equal(JobStatus.Requested);
    } finally {
      await (await contract.connect(admin).setQuorum(1)).wait();
    }
  });

  it("expires an overdue job in turn with its votes (consecutive nonces), and answers JobNotExpirable before the deadline and JobNotPending after", async function () {
    const { committer } = newCommitter();
    const [jobId, other] = (await requestJobs(2)) as [Hash, Hash];
    const before = await sentCount();
    expect(await committer.expireJob(jobId)).to.deep.equal({ expired: false, because: "JobNotExpirable" });
    expect(await sentCount(), "nothing sent for a refused expiry").to.equal(before);

    // The vote on `other` first, then the expiry, sent back to back from this account.
    const vote = committer.commitResult(other, resultFor("before-expiry"));
    await vote;
    await provider.send("evm_increaseTime", [Number(await contract.jobTimeout()) + 1]);
    const [expiry, again] = await Promise.all([committer.expireJob(jobId), committer.expireJob(jobId)]);
    expect(expiry.expired, JSON.stringify(expiry)).to.equal(true);
    expect(again, "a second call joins the first").to.deep.equal(expiry);
    const { expired } = await votesOf(jobId);
    expect(expired.map((e) => [e.transactionHash, lower(e.args.caller)])).to.deep.equal([[(expiry as { txHash: string }).txHash, lower(operator)]]);
    expect(Number((await contract.jobOf(jobId)).status)).to.equal(JobStatus.Expired);
    expect(await sentCount()).to.equal(before + 2);
    expect(await committer.expireJob(jobId)).to.deep.equal({ expired: false, because: "JobNotPending" });
  });

  it("rejects only the caller of a job the contract does not know, and sends the rest of its batch", async function () {
    const { committer } = newCommitter();
    const [a, b] = (await requestJobs(2)) as [Hash, Hash];
    const unknown = id("no such job") as Hash;

    const [first, missing, second] = await Promise.allSettled([
      committer.commitResult(a, resultFor("a")),
      committer.commitResult(unknown, resultFor("unknown")),
      committer.commitResult(b, resultFor("b")),
    ]);

    expect(missing.status).to.equal("rejected");
    expect(String((missing as PromiseRejectedResult).reason)).to.match(/UnknownJob/);
    const txHashes = [first, second].map((r) => {
      expect(r.status).to.equal("fulfilled");
      return settledTx((r as PromiseFulfilledResult<SettleResult>).value);
    });
    expect(txHashes[0], "one transaction for both known jobs").to.equal(txHashes[1]);
    expect((await contract.jobOf(b)).resultHash).to.equal(resultFor("b"));
  });

  it("sends one vote for concurrent calls on the same job, and every caller gets its outcome", async function () {
    const { committer } = newCommitter();
    const [jobId] = (await requestJobs(1)) as [Hash];
    const before = await sentCount();

    const results = await Promise.all([
      committer.commitResult(jobId, resultFor("dup")),
      committer.commitResult(jobId, resultFor("dup")),
      committer.commitResult(jobId, resultFor("dup-other")),
      committer.reportFailure(jobId, 7),
    ]);

    const txHash = settledTx(results[0]!);
    for (const result of results) expect(result).to.deep.equal({ settled: true, txHash, decided: true });
    expect((await sentCount()) - before).to.equal(1);
    const { committed, failed } = await votesOf(jobId);
    expect(committed).to.have.length(1);
    expect(failed).to.have.length(0);
    expect(await contract.voteOf(jobId, operator)).to.equal(resultFor("dup"));
  });

  it("rejects the callers of a send that fails for want of the RPC endpoint, and serves later calls once it is back", async function () {
    const proxy = await startRpcProxy(chain.rpcUrl);
    const flaky = new JsonRpcProvider(proxy.url, 31337, { staticNetwork: true, pollingInterval: 50 });
    try {
      const { committer } = newCommitter({ wallet: new Wallet(operatorKey, flaky) });
      const [a, b] = (await requestJobs(2)) as [Hash, Hash];

      proxy.down = true;
      const errors = await Promise.all([rejectionOf(committer.commitResult(a, resultFor("a"))), rejectionOf(committer.commitResult(b, resultFor("b")))]);
      for (const err of errors) expect(err).to.be.instanceOf(Error);
      expect(await contract.voteOf(a, operator)).to.equal(`0x${"0".repeat(64)}`);

      proxy.down = false;
      const [retriedA, retriedB] = await Promise.all([committer.commitResult(a, resultFor("a")), committer.commitResult(b, resultFor("b"))]);
      settledTx(retriedA);
      settledTx(retriedB);
      expect(lower((await contract.jobOf(a)).resultHash)).to.equal(resultFor("a"));
      expect(lower((await contract.jobOf(b)).resultHash)).to.equal(resultFor("b"));
    } finally {
      await Promise.all(committers.splice(0).map((c) => c.close()));
      flaky.destroy();
      await proxy.close();
    }
  });

  it("waits in close() for the transaction in flight, and refuses votes after it", async function () {
    const { committer, lines } = newCommitter();
    const [jobId, after] = (await requestJobs(2)) as [Hash, Hash];
    await provider.send("evm_setAutomine", [false]);

    let outcome: SettleResult | undefined;
    const vote = held(committer.commitResult(jobId, resultFor("closing")).then((result) => (outcome = result)));
    await pendingTx((await logLine(lines, "vote transaction sent")).txHash);

    const closing = committer.close();
    expect((await rejectionOf(committer.commitResult(after, resultFor("after")))).message).to.match(/closed/);
    await mineUntil(closing);

    expect(outcome, "settled by the time close() returned").to.not.equal(undefined);
    settledTx(outcome!);
    await vote;
    expect(await contract.voteOf(after, operator)).to.equal(`0x${"0".repeat(64)}`);
  });
});
