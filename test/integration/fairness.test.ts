import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import { pino } from "pino";
import { CoprocessorConfigSchema } from "../../coprocessor/config.js";
import { startCoprocessor, type RunningCoprocessor } from "../../coprocessor/service.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { jobIdFromReceipt, JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import type { Model } from "../../protocol/model.js";
import { waitFor } from "../helpers/wait.js";
import {
  coprocessorEnv,
  deploy,
  expectedLogit,
  loadTestModel,
  lower,
  publishTestModel,
  tempBlobDir,
  TestPatient,
  testTuple,
  type Deployed,
} from "./coprocessor-fixture.js";
import { expectClose } from "../helpers/close.js";

/** Patient A's flood. */
const FLOOD = 200;

/**
 * One patient's flood of failing jobs must not hold back another patient's job. Patient A requests FLOOD
 * predictions on a record the model cannot evaluate (a tuple of the wrong width: each fails on-chain with
 * ParameterMismatch), then patient B requests one good prediction; only then does the coprocessor (a child process)
 * start, so its listener finds all of them at once, B's last: the worst case for a first-come queue.
 */
describe("fairness between patients: a flood from one patient does not delay another's job (hardhat node, coprocessor process)", function () {
  let chain: LocalChain;
  let redis: LocalRedis;
  let deployed: Deployed;
  let engine: CkksEngine;
  let model: Model;
  let modelId: Hash;
  let store: RunningCoprocessor;
  let worker: CoprocessorProcess | undefined;
  let blobDir: { dir: string; remove(): Promise<void> };
  const patients: TestPatient[] = [];

  before(async function () {
    this.timeout(240_000);
    model = await loadTestModel();
    const engineReady = CkksEngine.create(model.fhe.parameterSet);
    [chain, redis] = await Promise.all([startLocalChain(), startLocalRedis()]);
    engine = await engineReady;
    deployed = await deploy(chain, { operators: 2 });
    blobDir = await tempBlobDir();
    store = await startCoprocessor(
      CoprocessorConfigSchema.parse({
        ...(await coprocessorEnv(deployed, redis.url, blobDir.dir)),
        PMHE_COPROCESSOR_KEY: deployed.operators[1]!.privateKey,
        PMHE_QUEUE_NAME: "store-only",
        PMHE_START_BLOCK: String(1e9),
        PMHE_EVALUATION_THREADS: "0",
        LOG_LEVEL: "silent",
      }),
      pino({ level: "silent" }),
    );
    ({ modelId } = await publishTestModel(deployed, store.apiUrl, model));
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    await store?.stop();
    patients.forEach((p) => p.dispose());
    engine?.dispose();
    deployed?.provider.destroy();
    await redis?.stop();
    await chain?.stop();
    await blobDir?.remove();
  });

  it(`finalizes patient B's one job before most of patient A's ${FLOOD} failing jobs, although B asked last`, async function () {
    this.timeout(300_000);
    const [a, b] = [0, 1].map((n) => new TestPatient(deployed, engine, TestPatient.account(deployed, n), store.apiUrl));
    patients.push(a!, b!);
    await a!.register();
    await b!.register();
    const badRecord = await a!.submit(testTuple(model, 0).slice(0, 5));
    const values = testTuple(model, 1);
    const goodRecord = await b!.submit(values);

    const sent: ContractTransactionResponse[] = [];
    for (let i = 0; i < FLOOD; i++) sent.push(await a!.contract.requestPrediction(a!.wallet.address, badRecord, modelId));
    const flood = await Promise.all(sent.map(async (tx) => jobIdFromReceipt(deployed.contract, (await tx.wait())!)));
    const single = await b!.request(goodRecord, modelId);
    expect(new Set(flood).size).to.equal(FLOOD);

    const env = await coprocessorEnv(deployed, redis.url, blobDir.dir, { PMHE_BLOB_URL: store.apiUrl, LOG_LEVEL: "warn" });
    const started = performance.now();
    worker = await startCoprocessorProcess(env);
    const ready = performance.now();
    const finalizedAt = await waitFor(
      "patient B's job finalized",
      async () => (Number((await deployed.contract.jobOf(single.jobId)).status) === JobStatus.Finalized ? performance.now() : undefined),
      { timeoutMs: 120_000, intervalMs: 50, describe: () => worker!.process.output() },
    );
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
    expectClose(await b!.decrypt(lower((await contract.jobOf(single.jobId)).resultHash)), expectedLogit(model, values), 1e-4, "B's T");
  });
});
