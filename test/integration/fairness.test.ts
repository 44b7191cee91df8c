import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import type { RunningCoprocessor } from "../../coprocessor/service.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { jobIdFromReceipt, JobStatus } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { expectClose } from "../helpers/close.js";
import { waitFor } from "../helpers/wait.js";
import { CoprocessorTestStack, expectedLogit, lower, testTuple, waitForJobStatus } from "./coprocessor-fixture.js";

/** Patient A's flood. */
const FLOOD = 200;

/**
 * One patient's flood of failing jobs must not hold back another patient's job. Patient A requests FLOOD
 * predictions on a record the model cannot evaluate (a tuple of the wrong width: each fails on-chain with
 * ParameterMismatch), then patient B requests one good prediction; only then does the coprocessor (a child process)
 * start, so its listener finds all of them at once, B's last: the worst case for a first-come queue.
 */
describe("fairness between patients: a flood from one patient does not delay another's job (hardhat node, coprocessor process)", function () {
  let stack: CoprocessorTestStack;
  let modelId: Hash;
  let store: RunningCoprocessor;
  let worker: CoprocessorProcess | undefined;

  before(async function () {
    this.timeout(240_000);
    stack = await CoprocessorTestStack.start({ deploy: { operators: 2 } });
    store = await stack.startStoreOnlyCoprocessor();
    ({ modelId } = await stack.publishTestModel(store.apiUrl));
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    await stack?.stop();
  });

  it(`finalizes patient B's one job before most of patient A's ${FLOOD} failing jobs, although B asked last`, async function () {
    this.timeout(300_000);
    const { deployed, model } = stack;
    const a = await stack.registeredPatient(0, store.apiUrl);
    const b = await stack.registeredPatient(1, store.apiUrl);
    const badRecord = await a.submit(testTuple(model, 0).slice(0, 5));
    const values = testTuple(model, 1);
    const goodRecord = await b.submit(values);

    const sent: ContractTransactionResponse[] = [];
    for (let i = 0; i < FLOOD; i++) sent.push(await a.contract.requestPrediction(a.wallet.address, badRecord, modelId));
    const flood = await Promise.all(sent.map(async (tx) => jobIdFromReceipt(deployed.contract, (await tx.wait())!)));
    const single = await b.request(goodRecord, modelId);
    expect(new Set(flood).size).to.equal(FLOOD);

    const env = await stack.coprocessorEnv({ PMHE_BLOB_URL: store.apiUrl, LOG_LEVEL: "warn" });
    const started = performance.now();
    worker = await startCoprocessorProcess(env);
    const ready = performance.now();
    await waitForJobStatus(deployed, single.jobId, JobStatus.Finalized, "patient B's job finalized", {
      timeoutMs: 120_000,
      intervalMs: 50,
      describe: () => worker!.process.output(),
    });
    const finalizedAt = performance.now();
    const floodSettledAt = await waitFor(
      "every job of the flood settled",
      async () => {
        const statuses = await Promise.all(flood.map(async (jobId) => Number((await deployed.contract.jobOf(jobId)).status)));
        return statuses.every((s) => s === JobStatus.Failed) ? performance.now() : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500, describe: () => worker!.process.output() },
    );

    // The order in which the chain settled them: B's JobFinalized among A's JobFailed, by block and log position.
    const { contract } = deployed;
    const failed = (await contract.queryFilter(contract.filters.JobFailed(), single.blockNumber)).filter((e) => flood.includes(lower(e.args.jobId)));
    const [finalized] = await contract.queryFilter(contract.filters.JobFinalized(single.jobId));
    expect(failed).to.have.length(FLOOD);
    for (const e of failed) expect(Number(e.args.reason), "flood failure reason").to.equal(10); // ParameterMismatch
    const before = failed.filter((e) => e.blockNumber < finalized!.blockNumber || (e.blockNumber === finalized!.blockNumber && e.index < finalized!.index));
    const blocksBefore = new Set(before.map((e) => e.blockNumber)).size;

    console.log(
      `      B's job settled after ${before.length} of A's ${FLOOD} jobs (in ${blocksBefore} earlier blocks); ` +
        `${((finalizedAt - ready) / 1000).toFixed(2)} s after the coprocessor was up (${((ready - started) / 1000).toFixed(1)} s to start), ` +
        `A's flood all settled after ${((floodSettledAt - ready) / 1000).toFixed(2)} s`,
    );
    // In arrival order B would come after all 200 of A's jobs. With fair priorities B is taken among the first
    // jobs; what can still settle before it is A's jobs in flight with it (up to the worker's concurrency, 16 here)
    // and the ones that take the slots they free while B's evaluation (its key bundle's first load) is still going.
    expect(before.length, "jobs of A settled before B's").to.be.below(FLOOD / 4);
    expectClose(await b.decryptResultOf(single.jobId), expectedLogit(model, values), 1e-4, "B's T");
  });
});
