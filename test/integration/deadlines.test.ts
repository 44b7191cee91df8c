import { expect } from "chai";
import { id, zeroPadValue } from "ethers";
import type { RunningCoprocessor } from "../../coprocessor/service.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { JobStatus } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { CoprocessorTestStack, lower, TestPatient, testTuple, waitForJobStatus, type Requested } from "./coprocessor-fixture.js";

/** Seconds from request to deadline: enough for a vote, short enough to watch the deadline pass. */
const JOB_TIMEOUT = 6;

/**
 * Deadlines against a real hardhat node with quorum 2 and a single operator, so no job can ever be finalized: the
 * operator's vote counts but does not settle it, and only expiry ends it. The coprocessor runs as a child process;
 * an in-process "store" coprocessor (whose listener never takes a job) serves the blob API, so the worker can be
 * stopped while jobs are requested.
 */
describe("job deadlines: overdue jobs are expired by the coprocessor, never voted on late (hardhat node, coprocessor process)", function () {
  let stack: CoprocessorTestStack;
  let modelId: Hash;
  let store: RunningCoprocessor;
  let worker: CoprocessorProcess | undefined;
  let env: Record<string, string>;
  let patient: TestPatient;
  let operator: string;

  before(async function () {
    this.timeout(240_000);
    stack = await CoprocessorTestStack.start({ deploy: { quorum: 2, jobTimeout: JOB_TIMEOUT, operators: 2 } });
    // Only the first operator runs; the second holds the role but never votes (quorum 2 cannot be reached).
    operator = stack.deployed.operators[0]!.address;
    store = await stack.startStoreOnlyCoprocessor();
    ({ modelId } = await stack.publishTestModel(store.apiUrl));
    patient = await stack.registeredPatient(0, store.apiUrl);
    env = await stack.coprocessorEnv({ PMHE_BLOB_URL: store.apiUrl, LOG_LEVEL: "info" });
    worker = await startCoprocessorProcess(env);
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    await stack?.stop();
  });

  const logs = () => (worker ? worker.process.output() : "(worker not running)");

  async function jobOf(job: Requested) {
    return stack.deployed.contract.jobOf(job.jobId);
  }

  /** The operator's votes on `job` (recorded or skipped), each with the timestamp of the block it is in. */
  async function votesOn(job: Requested) {
    const { contract, provider, address } = stack.deployed;
    const timestamped = async (events: Array<{ blockNumber: number; eventName?: string }>) =>
      Promise.all(events.map(async (e) => ({ event: e.eventName, at: (await provider.getBlock(e.blockNumber))!.timestamp })));
    const skipped = await provider.getLogs({
      address,
      topics: [id("VoteSkipped(bytes32,address,uint8)"), job.jobId, zeroPadValue(operator, 32)],
      fromBlock: job.blockNumber,
    });
    return {
      recorded: await timestamped([
        ...(await contract.queryFilter(contract.filters.ResultCommitted(job.jobId, operator), job.blockNumber)),
        ...(await contract.queryFilter(contract.filters.FailureReported(job.jobId, operator), job.blockNumber)),
      ]),
      skipped: skipped.length,
    };
  }

  async function expectExpiredByOperator(job: Requested): Promise<void> {
    await waitForJobStatus(stack.deployed, job.jobId, JobStatus.Expired, "the job expired on-chain", { timeoutMs: 60_000, intervalMs: 200, describe: logs });
    const { contract } = stack.deployed;
    const expired = await contract.queryFilter(contract.filters.JobExpired(job.jobId));
    expect(expired.map((e) => lower(e.args.caller)), "JobExpired callers").to.deep.equal([lower(operator)]);
  }

  it("votes before the deadline, and expires the job it could not settle alone once the deadline has passed", async function () {
    this.timeout(120_000);
    const job = await patient.request(await patient.submit(testTuple(stack.model, 1)), modelId);
    const { deadline } = await jobOf(job);
    await waitFor("the operator's vote", async () => ((await votesOn(job)).recorded.length > 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      describe: logs,
    });
    expect(Number((await jobOf(job)).status), "a vote of one operator at quorum 2 settles nothing").to.equal(JobStatus.Requested);

    await expectExpiredByOperator(job);
    const votes = await votesOn(job);
    expect(votes.recorded.map((v) => v.event)).to.deep.equal(["ResultCommitted"]);
    for (const vote of votes.recorded) expect(vote.at, "vote block timestamp vs deadline").to.be.at.most(Number(deadline));
    expect(votes.skipped, "votes sent after the deadline (skipped on-chain)").to.equal(0);
  });

  it("expires, without voting, a job it first sees after its deadline", async function () {
    this.timeout(120_000);
    await worker!.stop();
    worker = undefined;
    const job = await patient.request(await patient.submit(testTuple(stack.model, 2)), modelId);
    const deadline = Number((await jobOf(job)).deadline);
    // Let the deadline pass while no coprocessor runs.
    while (Date.now() / 1000 <= deadline + 1) await sleep(200);

    worker = await startCoprocessorProcess(env);
    await expectExpiredByOperator(job);
    const votes = await votesOn(job);
    expect(votes.recorded, "votes on the overdue job").to.deep.equal([]);
    expect(votes.skipped, "votes sent after the deadline (skipped on-chain)").to.equal(0);
    // The worker's own account of it: expired, not voted.
    expect(logs()).to.match(new RegExp(`"jobId":"${job.jobId}"[^\n]*"outcome":"expired"`));
  });
});
