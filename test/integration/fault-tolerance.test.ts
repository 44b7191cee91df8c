import { Queue } from "bullmq";
import { expect } from "chai";
import { id, zeroPadValue } from "ethers";
import { Redis } from "ioredis";
import { queueJobId } from "../../coprocessor/queue/prediction-queue.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { JobStatus } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { startBlobProxy, type BlobProxy } from "../helpers/blob-proxy.js";
import { expectClose } from "../helpers/close.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor, within } from "../helpers/wait.js";
import { CoprocessorTestStack, expectedLogit, lower, testTuple, type Deployed, type Requested as RequestedJob, type TestPatient } from "./coprocessor-fixture.js";

const QUEUE_NAME = "pmhe-fault-tolerance";
const PATIENTS = 2;

interface Submitted {
  client: TestPatient;
  values: number[];
  recordHash: Hash;
}
interface Requested extends Submitted, RequestedJob {}

/**
 * Faults injected into real processes: a `hardhat node`, a redis-server with AOF, and the coprocessor run as
 * `coprocessor/main.ts` in a child process (killed, stopped and restarted between jobs). All scenarios share one
 * chain, deployment, Redis, queue, blob directory and API port, so every restarted coprocessor resumes from the
 * same listener cursor and queue, and patients keep uploading to the same address.
 */
describe("fault tolerance with real processes (hardhat node, redis-server with AOF, coprocessor child process)", function () {
  let stack: CoprocessorTestStack;
  let deployed: Deployed;
  let operator: string;
  let env: Record<string, string>;
  let coprocessor: CoprocessorProcess | undefined;
  let queue: Queue;
  /** A plain Redis client on the coprocessor's Redis, to look at what BullMQ and the listener keep there. */
  let probe: Redis;
  let proxy: BlobProxy | undefined;
  let modelId: Hash;
  let nextSeed = 0;
  const patients: TestPatient[] = [];
  /** The queue job id of each requested job (it names the request's block). */
  const queueIds = new Map<Hash, string>();
  const queueIdOf = (jobId: Hash) => queueIds.get(jobId) ?? jobId;

  before(async function () {
    this.timeout(180_000);
    stack = await CoprocessorTestStack.start({ redis: { appendOnly: true } });
    deployed = stack.deployed;
    operator = deployed.operators[0]!.address;

    env = await stack.coprocessorEnv({
      PMHE_QUEUE_NAME: QUEUE_NAME,
      // A dead worker's claim lapses after 2 s and is looked for every second (30 s each by default).
      PMHE_LOCK_DURATION_MS: "2000",
      PMHE_STALLED_INTERVAL_MS: "1000",
      PMHE_EVALUATION_THREADS: "2",
      LOG_LEVEL: "warn",
    });
    // A fixed API port (coprocessorEnv picks one), so the patients' uploads reach every incarnation of the coprocessor.
    coprocessor = await startCoprocessorProcess(env);
    queue = new Queue(QUEUE_NAME, { connection: { url: stack.redis.url, maxRetriesPerRequest: null } });
    queue.on("error", () => undefined); // reconnects on its own while Redis restarts
    probe = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    probe.on("error", () => undefined);

    ({ modelId } = await stack.publishTestModel(coprocessor.apiUrl));
    for (let i = 0; i < PATIENTS; i++) patients.push(await stack.registeredPatient(i, coprocessor.apiUrl));
  });

  after(async function () {
    this.timeout(60_000);
    await coprocessor?.stop();
    await queue?.close();
    probe?.disconnect();
    await proxy?.close();
    await stack?.stop();
  });

  // Each scenario starts from a running coprocessor and an idle queue, whatever the previous one left behind.
  beforeEach(async function () {
    this.timeout(90_000);
    if (!coprocessor) await startAgain();
    await waitFor(
      "an idle queue",
      async () => ((await queue.getJobCountByTypes("waiting", "prioritized", "active", "delayed")) === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 100, describe: logs },
    );
  });

  function running(): CoprocessorProcess {
    if (!coprocessor) throw new Error("the coprocessor is not running");
    return coprocessor;
  }

  function logs(): string {
    return coprocessor ? `coprocessor output:\n${coprocessor.process.output()}` : "(coprocessor not running)";
  }

  /** Encrypts, uploads (through the running coprocessor's API) and anchors `count` fresh tuples. */
  async function submitRecords(count: number): Promise<Submitted[]> {
    const submitted: Submitted[] = [];
    for (let i = 0; i < count; i++) {
      const client = patients[i % patients.length]!;
      const values = testTuple(stack.model, nextSeed++);
      submitted.push({ client, values, recordHash: await client.submit(values) });
    }
    return submitted;
  }

  async function request(record: Submitted): Promise<Requested> {
    const requested = await record.client.request(record.recordHash, modelId);
    queueIds.set(requested.jobId, queueJobId(requested));
    return { ...record, ...requested };
  }

  async function status(jobId: Hash): Promise<number> {
    return Number((await deployed.contract.jobOf(jobId)).status);
  }

  /** Waits for a job that is active in the queue and not yet settled on-chain; returns its id. */
  async function inFlightJob(timeoutMs = 30_000): Promise<Hash> {
    return waitFor(
      "a job active in the queue and still Requested on-chain",
      async () => {
        for (const job of await queue.getJobs(["active"])) {
          const jobId = job.data?.jobId as Hash | undefined;
          if (jobId && (await status(jobId)) === JobStatus.Requested) return jobId;
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 10, describe: logs },
    );
  }

  async function startAgain(extra: Record<string, string> = {}): Promise<void> {
    coprocessor = await startCoprocessorProcess({ ...env, ...extra });
  }

  /** Where the chain and the operator stand before a scenario, to count exactly what the scenario added. */
  async function mark(): Promise<{ block: number; nonce: number }> {
    return { block: await deployed.provider.getBlockNumber(), nonce: await deployed.provider.getTransactionCount(operator) };
  }

  /**
   * Every job ends Finalized; since `since`, each has exactly one JobFinalized, exactly one ResultCommitted from
   * the operator and no FailureReported, the operator voted on nothing else, attempted no second vote (no reverted
   * transaction, no skipped batch entry), and the queue holds each job as completed (none failed or left behind).
   */
  async function expectEachProcessedOnce(jobs: Requested[], since: { block: number; nonce: number }): Promise<void> {
    const ids = jobs.map((j) => j.jobId);
    expect(new Set(ids).size, "distinct job ids").to.equal(jobs.length);
    await waitFor(
      `all ${jobs.length} jobs Finalized on-chain`,
      async () => {
        const statuses = await Promise.all(ids.map(status));
        statuses.forEach((s, i) => {
          if (s === JobStatus.Failed || s === JobStatus.Expired) throw new Error(`job ${ids[i]} ended with status ${s}\n${logs()}`);
        });
        return statuses.every((s) => s === JobStatus.Finalized) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, describe: logs },
    );

    const count = (events: Array<{ args: { jobId: string } }>) => {
      const byJob = new Map<Hash, number>();
      for (const e of events) byJob.set(lower(e.args.jobId), (byJob.get(lower(e.args.jobId)) ?? 0) + 1);
      return byJob;
    };
    const { contract, provider } = deployed;
    const finalized = count(await contract.queryFilter(contract.filters.JobFinalized(), since.block + 1));
    const committed = count(await contract.queryFilter(contract.filters.ResultCommitted(undefined, operator), since.block + 1));
    const failures = await contract.queryFilter(contract.filters.FailureReported(undefined, operator), since.block + 1);
    for (const id of ids) {
      expect(finalized.get(id) ?? 0, `JobFinalized events of ${id}`).to.equal(1);
      expect(committed.get(id) ?? 0, `ResultCommitted events of ${id} from the operator`).to.equal(1);
    }
    expect([...committed.keys()].sort(), "jobs the operator voted on").to.deep.equal([...ids].sort());
    expect(failures, "FailureReported events from the operator").to.have.length(0);
    // No second vote either: none reverted on-chain (AlreadyVoted), none skipped inside a batch (VoteSkipped, when
    // votes are batched), and no more transactions than jobs.
    const skipped = await provider.getLogs({
      address: await contract.getAddress(),
      topics: [id("VoteSkipped(bytes32,address,uint8)"), null, zeroPadValue(operator, 32)],
      fromBlock: since.block + 1,
    });
    expect(skipped, "VoteSkipped events for the operator").to.have.length(0);
    const sent = await operatorTransactions(since.block + 1);
    expect(sent.length, "transactions the operator sent").to.equal((await provider.getTransactionCount(operator)) - since.nonce);
    expect(sent.length, "transactions the operator sent").to.be.within(1, jobs.length);
    for (const hash of sent) expect((await provider.getTransactionReceipt(hash))?.status, `status of the operator's transaction ${hash}`).to.equal(1);

    // The chain settles a job before the worker acknowledges it to the queue: wait for the acknowledgements.
    await waitFor(
      "every job completed in the queue",
      async () => {
        const states = await Promise.all(ids.map((id) => queue.getJobState(queueIdOf(id))));
        const wrong = states.findIndex((s) => s === "failed" || s === "unknown");
        if (wrong >= 0) throw new Error(`queue job ${ids[wrong]} is ${states[wrong]}\n${logs()}`);
        return states.every((s) => s === "completed") ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, describe: logs },
    );
  }

  /** Hashes of the transactions the operator sent (mined, whether they succeeded or not) from `fromBlock` on. */
  async function operatorTransactions(fromBlock: number): Promise<string[]> {
    const hashes: string[] = [];
    const { provider } = deployed;
    const head = await provider.getBlockNumber();
    for (let n = fromBlock; n <= head; n++) {
      const block = await provider.getBlock(n, true);
      for (const tx of block?.prefetchedTransactions ?? []) if (tx.from === operator) hashes.push(tx.hash);
    }
    return hashes;
  }

  /** The patient fetches the result by its committed hash and decrypts it: the plaintext model's answer. */
  async function expectDecryptsCorrectly(job: Requested): Promise<void> {
    expectClose(await job.client.decryptResultOf(job.jobId), expectedLogit(stack.model, job.values), 1e-4, `T of ${job.jobId}`);
  }

  it("recovers a job whose worker was SIGKILLed mid-job: a new process finishes every job, each voted exactly once", async function () {
    this.timeout(120_000);
    const since = await mark();
    const records = await submitRecords(6);

    // Kill as soon as a job is being worked on; the requests go on meanwhile (those after the kill reach the chain
    // while no coprocessor runs).
    let killedJob: Hash | undefined;
    const killer = (async () => {
      killedJob = await inFlightJob();
      await running().kill();
      coprocessor = undefined;
    })();
    const jobs: Requested[] = [];
    for (const record of records) jobs.push(await request(record));
    await killer;
    const victim = killedJob!;
    expect(jobs.map((j) => j.jobId)).to.include(victim);

    // The dead worker's claim is still in Redis: the job sits in `active` with nobody working on it.
    expect((await queue.getJobs(["active"])).map((j) => j.id), "active jobs after the kill").to.include(queueIdOf(victim));
    const unfinished = (await Promise.all(jobs.map((j) => status(j.jobId)))).filter((s) => s !== JobStatus.Finalized);
    expect(unfinished.length, "jobs not Finalized when the worker died").to.be.at.least(jobs.length - 1);

    await startAgain();
    await expectEachProcessedOnce(jobs, since);
    // It came back through stalled-job recovery, not by being re-enqueued (which the job id would refuse anyway).
    const recovered = await queue.getJob(queueIdOf(victim));
    expect(recovered?.stalledCounter, "times the killed job was found stalled").to.be.at.least(1);
    for (const job of jobs) await expectDecryptsCorrectly(job);
  });

  it("loses no job when Redis is stopped and restarted mid-run (jobs requested before, during and after the outage)", async function () {
    this.timeout(120_000);
    const since = await mark();
    const records = await submitRecords(6);
    const runId = async () => /run_id:(\w+)/.exec(await probe.info("server"))![1]!;

    const before = [await request(records[0]!), await request(records[1]!)];
    // Stop Redis while a job is in flight and the other may still be waiting.
    await inFlightJob();
    const runIdBefore = await runId();
    // When each job the listener had already enqueued was created in the queue.
    const queuedBefore = new Map<Hash, number>();
    for (const { jobId } of before) {
      const job = await queue.getJob(queueIdOf(jobId));
      if (job) queuedBefore.set(jobId, job.timestamp);
    }
    expect(queuedBefore.size, "jobs in the queue when Redis stops").to.be.at.least(1);
    const during: Requested[] = [];
    await stack.redis.restart({
      whileDown: async () => {
        for (const record of records.slice(2, 4)) during.push(await request(record));
      },
    });
    const after = [await request(records[4]!), await request(records[5]!)];

    // It really was a new server, and it came back with the data set (the AOF): the same queue jobs, not ones the
    // listener would have created again from scratch had the queue and its cursor been lost.
    expect(await runId(), "redis run_id after the restart").to.not.equal(runIdBefore);
    for (const [jobId, created] of queuedBefore) expect((await queue.getJob(queueIdOf(jobId)))?.timestamp, `queue job ${jobId} after the restart`).to.equal(created);

    await expectEachProcessedOnce([...before, ...during, ...after], since);
    expect(running().process.child.exitCode, "the coprocessor kept running through the outage").to.equal(null);
    await expectDecryptsCorrectly(during[0]!);
  });

  it("exits 0 on SIGTERM after finishing its in-flight job, and after a restart processes jobs requested before and while it was down exactly once", async function () {
    this.timeout(120_000);
    const since = await mark();
    const records = await submitRecords(6);

    const before: Requested[] = [];
    for (const record of records.slice(0, 3)) before.push(await request(record));
    const inFlight = await inFlightJob();
    const stopped = running();
    await stopped.stop();
    coprocessor = undefined;
    expect(stopped.process.child.signalCode, "killed by a signal instead of exiting").to.equal(null);
    expect(stopped.process.child.exitCode, `exit code on SIGTERM\n${stopped.process.output()}`).to.equal(0);
    // The job it was working on was finished, not abandoned: settled on-chain and acknowledged to the queue.
    expect(await status(inFlight), "in-flight job on-chain after the stop").to.equal(JobStatus.Finalized);
    expect(await queue.getJobState(queueIdOf(inFlight)), "in-flight job in the queue after the stop").to.equal("completed");
    expect(await queue.getActiveCount(), "jobs left active by the stopped worker").to.equal(0);

    // Requested while no coprocessor runs: only the chain knows about them.
    const whileDown: Requested[] = [];
    for (const record of records.slice(3)) whileDown.push(await request(record));
    // Nothing enqueued them: the restarted listener must find them from its cursor.
    for (const job of whileDown) expect(await queue.getJobState(queueIdOf(job.jobId)), "queue job requested while down").to.equal("unknown");

    await startAgain();
    await expectEachProcessedOnce([...before, ...whileDown], since);
    await expectDecryptsCorrectly(whileDown.at(-1)!);
  });

  it("votes once for a job handed out again while its first run is still going (process frozen past its lock, then resumed), and keeps serving", async function () {
    this.timeout(120_000);
    // This coprocessor reads and writes blobs through a proxy that can hold a result upload back: a job in flight.
    proxy = await startBlobProxy(`http://127.0.0.1:${env.PMHE_API_PORT}`);
    await running().stop();
    coprocessor = undefined;
    await startAgain({ PMHE_BLOB_URL: proxy.url });
    const since = await mark();
    const records = await submitRecords(3);

    const held = proxy.holdNextResultUpload();
    const first = await request(records[0]!);
    await within(held.arrived, 30_000, "the first run's result upload", logs);
    // Freeze the whole process (as a VM pause or a long GC pause would) until its claim on the job has lapsed.
    const lockKey = `bull:${QUEUE_NAME}:${queueIdOf(first.jobId)}:lock`;
    const frozen = running().pid;
    process.kill(frozen, "SIGSTOP");
    try {
      await waitFor("the frozen worker's lock to lapse", async () => ((await probe.exists(lockKey)) === 0 ? true : undefined), { timeoutMs: 15_000 });
    } finally {
      process.kill(frozen, "SIGCONT");
    }
    // Resumed, the worker's own stalled-job check puts the job back in the queue and the worker takes it again,
    // while the first run still waits on its upload.
    await waitFor(
      "the job handed out again",
      async () => (((await queue.getJob(queueIdOf(first.jobId)))?.stalledCounter ?? 0) >= 1 && (await probe.exists(lockKey)) === 1 ? true : undefined),
      { timeoutMs: 15_000, describe: logs },
    );
    // Let the first run vote, and hold back any second run's result until that vote is in: a second run would
    // then vote on a job already settled.
    const secondUpload = proxy.holdNextResultUpload();
    held.release();
    await waitFor("the first run's vote", async () => ((await status(first.jobId)) === JobStatus.Finalized ? true : undefined), {
      timeoutMs: 30_000,
      describe: logs,
    });
    secondUpload.release();

    const later = [await request(records[1]!), await request(records[2]!)];
    await expectEachProcessedOnce([first, ...later], since);
    await expectDecryptsCorrectly(first);
  });

  it("rides out the chain's RPC going away: backs off, answers /readyz 503, and after it returns processes every job requested meanwhile once", async function () {
    this.timeout(120_000);
    // This coprocessor reaches the chain only through a relay the test can cut; patients still reach it directly.
    await running().stop();
    const relay = await startTcpProxy(stack.chain.rpcUrl);
    coprocessor = undefined;
    try {
      // Two attempts would once have been all a job got: the one in flight during the outage outlives them.
      await startAgain({ PMHE_RPC_URL: relay.url, PMHE_LISTENER_MAX_BACKOFF_MS: "1000", PMHE_JOB_ATTEMPTS: "2", PMHE_RETRY_MAX_DELAY_MS: "1000" });
      const since = await mark();
      const records = await submitRecords(6);
      const before = [await request(records[0]!), await request(records[1]!)];
      await expectEachProcessedOnce(before, since);

      const caught = await request(records[2]!);
      await inFlightJob();
      await relay.cut();
      const during = [await request(records[3]!), await request(records[4]!), await request(records[5]!)];
      await waitFor(
        "the listener to report its failed polls",
        async () => (running().process.output().includes("request listener poll failed; backing off") ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 100, describe: logs },
      );
      await waitFor(
        "the job caught by the outage to be retried past its blob budget",
        async () => ((await queue.getJob(queueIdOf(caught.jobId)))?.attemptsMade ?? 0) >= 3 || (await status(caught.jobId)) === JobStatus.Finalized ? true : undefined,
        { timeoutMs: 30_000, intervalMs: 100, describe: logs },
      );
      const readyz = `http://127.0.0.1:${env.PMHE_OPERATOR_PORT}/readyz`;
      const ready = await fetch(readyz);
      expect(ready.status, "/readyz while the chain is unreachable").to.equal(503);
      expect(JSON.stringify(await ready.json())).to.contain("chain");
      for (const job of during) expect(await status(job.jobId), "a job requested during the outage").to.equal(JobStatus.Requested);

      await relay.restore();
      await expectEachProcessedOnce([...before, caught, ...during], since);
      expect((await fetch(readyz)).status, "/readyz once the chain is back").to.equal(200);
      await expectDecryptsCorrectly(during[0]!);
    } finally {
      await running().stop();
      coprocessor = undefined;
      await relay.close();
    }
  });
});
