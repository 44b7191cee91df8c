import { expect } from "chai";
import { Queue } from "bullmq";
import { id } from "ethers";
import { Redis } from "ioredis";
import type { BlobLifecycle } from "../../coprocessor/blobstore/blob-lifecycle.js";
import { PredictionQueue, queueJobId } from "../../coprocessor/queue/prediction-queue.js";
import type { RunningCoprocessor } from "../../coprocessor/service.js";
import { jobIdFromReceipt, JobStatus } from "../../protocol/chain.js";
import { FailureReason, type FailureReasonName } from "../../protocol/failure-reasons.js";
import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree } from "../../protocol/merkle.js";
import { expectClose } from "../helpers/close.js";
import { waitFor } from "../helpers/wait.js";
import { CoprocessorTestStack, expectedLogit, lower, testTuple, waitForSettledJobs, type Requested, type TestPatient } from "./coprocessor-fixture.js";

const QUEUE = "pmhe-guarantees";

type Reference = Parameters<BlobLifecycle["referenced"]>[0][number];
type Erasure = Parameters<BlobLifecycle["erased"]>[0];

/** Records what the chain listener reports: a recording fake at the BlobLifecycle boundary (the blob store implements it). */
class RecordingBlobLifecycle implements BlobLifecycle {
  readonly references: Reference[] = [];
  readonly erasures: Erasure[] = [];
  async referenced(refs: readonly Reference[]) {
    this.references.push(...refs);
  }
  async erased(erasure: Erasure) {
    this.erasures.push(erasure);
  }
  has(kind: Reference["kind"], hash: Hash): boolean {
    return this.references.some((r) => r.kind === kind && r.hash === hash);
  }
}

interface Scenario {
  name: string;
  job: Requested;
  expect: { status: "Finalized" } | { status: "Failed"; reason: FailureReasonName };
}

/**
 * What the worker must refuse or survive, each ending in a named on-chain outcome, against a real hardhat node and
 * redis-server with the coprocessor in-process (for its crash hook). Every job is requested while no worker runs:
 * a "store" coprocessor serves the blob API (its listener starts beyond the chain's head, so it never takes a job),
 * and the worker coprocessor, reading blobs through that API, starts once every scenario is set up.
 */
describe("coprocessor job guarantees: owners, erasure, crashes (hardhat node, redis-server, in-process coprocessor)", function () {
  let stack: CoprocessorTestStack;
  let modelId: Hash;
  let store: RunningCoprocessor;
  let worker: RunningCoprocessor | undefined;
  let probe: Redis;
  const patients: TestPatient[] = [];
  const scenarios: Scenario[] = [];
  let crashing: Requested;
  let honest: { job: Requested; values: number[]; patient: TestPatient };
  const lifecycle = new RecordingBlobLifecycle();
  /** What the chain came to reference and erase while the scenarios were set up, as the test knows it. */
  const expected = { references: [] as Reference[], erasures: [] as Erasure[] };

  const patient = async (n: number) => {
    const p = stack.testPatient(n, store.apiUrl);
    patients.push(p);
    return p;
  };

  before(async function () {
    this.timeout(240_000);
    stack = await CoprocessorTestStack.start({ deploy: { operators: 2 } });
    const { deployed, model, engine, redis } = stack;
    probe = new Redis(redis.url, { maxRetriesPerRequest: null });
    store = await stack.startStoreOnlyCoprocessor();
    const published = await stack.publishTestModel(store.apiUrl);
    modelId = published.modelId;
    expected.references.push({ kind: "model", hash: published.modelHash });

    // An honest job: finalized with the plaintext model's answer.
    const alice = await patient(0);
    await alice.register();
    const values = testTuple(model, 1);
    const honestRecord = await alice.submit(values);
    honest = { job: await alice.request(honestRecord, modelId), values, patient: alice };
    expected.references.push({ kind: "key-bundle", hash: alice.keyBundleHash }, { kind: "record", hash: honestRecord });
    scenarios.push({ name: "an honest job", job: honest.job, expect: { status: "Finalized" } });

    // Mallory anchors a copy of Alice's record in her own namespace: the record names Alice.
    const mallory = await patient(1);
    await mallory.register();
    const alicesRecord = await alice.submit(testTuple(model, 2));
    await (await mallory.contract.anchorRecord(alicesRecord)).wait();
    scenarios.push({ name: "a record naming another patient", job: await mallory.request(alicesRecord, modelId), expect: { status: "Failed", reason: "RecordOwnerMismatch" } });

    // Trudy registers Alice's key bundle as her own and encrypts under it in her own name: the bundle names Alice.
    const trudy = await patient(2);
    await trudy.register(alice.keyBundleHash);
    const underAlicesBundle = engine.openSecretKey(trudy.keys.secretKey, { patient: trudy.wallet.address, keyBundleHash: alice.keyBundleHash });
    try {
      const record = await trudy.anchor(underAlicesBundle.encryptTuple(testTuple(model, 3)));
      scenarios.push({ name: "a key bundle naming another patient", job: await trudy.request(record, modelId), expect: { status: "Failed", reason: "KeyBundleOwnerMismatch" } });
    } finally {
      underAlicesBundle.dispose();
    }

    // Erin erases a record after requesting a prediction on it.
    const erin = await patient(3);
    await erin.register();
    const erased = await erin.submit(testTuple(model, 4));
    const erasedJob = await erin.request(erased, modelId);
    await (await erin.contract.eraseRecord(erased)).wait();
    expected.erasures.push({ patient: erin.address, hash: erased, kind: "record" });
    scenarios.push({ name: "a record erased after the request", job: erasedJob, expect: { status: "Failed", reason: "RecordErased" } });

    // Bob requests on records of two batches, then erases one whole batch and one leaf of the other.
    const bob = await patient(4);
    await bob.register();
    const batchJob = async (seed: number) => {
      const records = [0, 1].map((i) => bob.cipher.encryptTuple(testTuple(model, seed + i)));
      const hashes = await Promise.all(records.map((r) => bob.upload(r, "record")));
      const tree = buildRecordTree(hashes);
      await (await bob.contract.anchorBatch(tree.root, tree.count)).wait();
      const receipt = await (await bob.contract.requestBatchPrediction(bob.wallet.address, tree.root, hashes[0]!, tree.proofOf(hashes[0]!), modelId)).wait();
      const job = { jobId: jobIdFromReceipt(deployed.contract, receipt!), blockNumber: receipt!.blockNumber, blockHash: receipt!.blockHash.toLowerCase() as Hash };
      return { job, tree, hashes };
    };
    const wholeBatch = await batchJob(10);
    await (await bob.contract.eraseBatch(wholeBatch.tree.root)).wait();
    expected.references.push({ kind: "batch-root", hash: wholeBatch.tree.root });
    expected.erasures.push({ patient: bob.address, hash: wholeBatch.tree.root, kind: "batch-root" });
    scenarios.push({ name: "a batch erased after the request", job: wholeBatch.job, expect: { status: "Failed", reason: "RecordErased" } });
    const oneLeaf = await batchJob(20);
    await (await bob.contract.eraseBatchRecord(oneLeaf.tree.root, oneLeaf.hashes[0]!, oneLeaf.tree.proofOf(oneLeaf.hashes[0]!))).wait();
    expected.erasures.push({ patient: bob.address, hash: oneLeaf.hashes[0]!, kind: "record" });
    scenarios.push({ name: "a batch record erased after the request", job: oneLeaf.job, expect: { status: "Failed", reason: "RecordErased" } });

    // A job whose evaluation kills its thread every time (the test hook).
    crashing = await alice.request(await alice.submit(testTuple(model, 5)), modelId);
    scenarios.push({ name: "a job that kills its evaluation thread", job: crashing, expect: { status: "Failed", reason: "EvaluationCrashed" } });

    // A job whose evaluation took its whole process down twice before (recorded in Redis, where the count survives).
    const crashedTwice = await alice.request(await alice.submit(testTuple(model, 6)), modelId);
    await probe.set(`pmhe:${QUEUE}:evaluations:${queueJobId(crashedTwice)}`, "2");
    scenarios.push({ name: "a job that crashed two processes before", job: crashedTwice, expect: { status: "Failed", reason: "EvaluationCrashed" } });

    // A job BullMQ has given up on as stalled too often (the state its stalled-job check leaves behind).
    const stalled = await alice.request(await alice.submit(testTuple(model, 7)), modelId);
    const queue = new PredictionQueue(QUEUE, { url: redis.url, maxRetriesPerRequest: null });
    try {
      await queue.enqueue([{ jobId: stalled.jobId, patient: alice.address, blockNumber: stalled.blockNumber, blockHash: stalled.blockHash }]);
      await probe.hset(`bull:${QUEUE}:${queueJobId(stalled)}`, "stc", "4", "defa", "job stalled more than allowable limit");
    } finally {
      await queue.close();
    }
    scenarios.push({ name: "a job failed by BullMQ as stalled too often", job: stalled, expect: { status: "Failed", reason: "EvaluationCrashed" } });

    worker = await stack.startCoprocessor(
      { PMHE_QUEUE_NAME: QUEUE, PMHE_BLOB_URL: store.apiUrl, PMHE_EVALUATION_THREADS: "1" },
      { crashEvaluation: (jobId) => jobId === crashing.jobId, blobLifecycle: lifecycle },
    );
  });

  after(async function () {
    this.timeout(60_000);
    probe?.disconnect();
    await stack?.stop();
  });

  it("settles every job with its named outcome", async function () {
    this.timeout(120_000);
    const statuses = await waitForSettledJobs(stack.deployed, scenarios.map((s) => s.job.jobId), "every scenario settled on-chain", { timeoutMs: 90_000, intervalMs: 200 });
    const outcome = (j: (typeof statuses)[number]) =>
      Number(j.status) === JobStatus.Finalized ? { status: "Finalized" } : { status: ["None", "Requested", "Finalized", "Failed", "Expired"][Number(j.status)], reason: Number(j.failureReason) };
    expect(scenarios.map((s, i) => ({ name: s.name, ...outcome(statuses[i]!) }))).to.deep.equal(
      scenarios.map((s) => ({ name: s.name, ...(s.expect.status === "Failed" ? { status: "Failed", reason: FailureReason[s.expect.reason] } : { status: "Finalized" }) })),
    );
    const { resultHash } = statuses[0]!;
    expectClose(await honest.patient.decrypt(lower(resultHash)), expectedLogit(stack.model, honest.values), 1e-4, "the honest T");
  });

  it("reported every blob the chain referenced, and every erasure in chain order, to the blob lifecycle (recording fake of the store's BlobLifecycle)", async function () {
    this.timeout(60_000);
    const { deployed } = stack;
    // Alice shares her result with the hospital: a result-share reference.
    const alice = honest.patient;
    const { resultHash } = await deployed.contract.jobOf(honest.job.jobId);
    const latest = await deployed.provider.getBlock("latest");
    await (await alice.contract.grantConsent(deployed.hospitalAddress, BigInt(latest!.timestamp + 3_600), true)).wait();
    const shared = lower(id("a copy of the result for the hospital"));
    await (await alice.contract.shareResult(honest.job.jobId, deployed.hospitalAddress, shared, "blob://shared")).wait();
    expected.references.push({ kind: "result", hash: lower(resultHash) }, { kind: "result-share", hash: shared });

    await waitFor("the share reported", async () => (lifecycle.has("result-share", shared) ? true : undefined), { timeoutMs: 30_000 });
    for (const ref of expected.references) expect(lifecycle.has(ref.kind, ref.hash), `${ref.kind} ${ref.hash}`).to.equal(true);
    expect(lifecycle.erasures).to.deep.equal(expected.erasures);
    // Every scenario's record is referenced by its request.
    for (const s of scenarios) {
      const job = await deployed.contract.jobOf(s.job.jobId);
      expect(lifecycle.has("record", lower(job.recordHash)), s.name).to.equal(true);
    }
  });

  it("retried the crashing job once, after one thread death, and failed it after the second", async function () {
    const queue = new Queue(QUEUE, { connection: { url: stack.redis.url, maxRetriesPerRequest: null } });
    try {
      const job = await waitFor("the crashing job completed in the queue", async () => {
        const found = await queue.getJob(queueJobId(crashing));
        return found?.finishedOn ? found : undefined;
      }, { timeoutMs: 30_000 });
      // Two runs in all: the first lost its thread and was retried, the second lost it again and settled the job.
      expect(job.attemptsMade, "runs of the job").to.equal(2);
      expect(job.returnvalue).to.deep.include({ outcome: "failed", reason: "EvaluationCrashed" });
      const metrics = await (await fetch(`${worker!.operatorUrl}/metrics`)).text();
      expect(/^pmhe_evaluation_thread_deaths_total (\d+)/m.exec(metrics)?.[1], "thread deaths").to.equal("2");
      // Settled jobs leave no crash count behind.
      expect(await probe.keys(`pmhe:${QUEUE}:evaluations:*`)).to.deep.equal([]);
      // Nor any weight on their patient's priority.
      for (const p of patients) expect(await probe.scard(`pmhe:${QUEUE}:pending:${p.address}`), p.address).to.equal(0);
    } finally {
      await queue.close();
    }
  });
});
