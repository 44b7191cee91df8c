import { expect } from "chai";
import { readFile } from "node:fs/promises";
import type { Worker } from "node:worker_threads";
import { InlineEvaluator } from "../../coprocessor/evaluation/inline-evaluator.js";
import type { StageEvaluator, StageTask } from "../../coprocessor/evaluation/stage-evaluator.js";
import { EvaluationThreadDiedError, ThreadPoolEvaluator } from "../../coprocessor/evaluation/thread-pool-evaluator.js";
import { PermanentJobError } from "../../protocol/failure-reasons.js";
import { CkksEngine, type KeySet, type PatientCipher } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { parseModelBytes, serverStage, type Model } from "../../protocol/model.js";
import { openCipher } from "../helpers/fhe.js";
import { rejectionOf } from "../helpers/rejection.js";

interface Patient {
  address: string;
  keys: KeySet;
  cipher: PatientCipher;
  bundleHash: Hash;
}

const tuple = (seed: number) => Array.from({ length: 13 }, (_, i) => Math.sin(seed * 13 + i));
const ADDRESSES = [1, 2, 3, 4].map((n) => `0x${String(n).repeat(40)}`);

describe("evaluation thread pool (worker_threads, node-seal in each thread)", function () {
  let engine: CkksEngine;
  let model: Model;
  let patients: Patient[];
  let pool: ThreadPoolEvaluator;
  let inline: InlineEvaluator;
  const loads = new Map<Hash, number>();

  function task(patient: Patient, record: Uint8Array, n: number, overrides: Partial<StageTask> = {}): StageTask {
    const recordHash = contentHash(record);
    return {
      patient: patient.address,
      keyBundleHash: patient.bundleHash,
      loadKeyBundle: async () => {
        loads.set(patient.bundleHash, (loads.get(patient.bundleHash) ?? 0) + 1);
        return patient.keys.keyBundle;
      },
      recordBytes: record,
      model,
      binding: { jobId: `0x${n.toString(16).padStart(64, "0")}`, recordHash, modelHash: contentHash(new Uint8Array([n])) },
      ...overrides,
    };
  }

  function newPatient(address: string): Patient {
    const keys = engine.generateKeySet({ patient: address });
    return { address, keys, cipher: openCipher(engine, keys), bundleHash: contentHash(keys.keyBundle) };
  }

  before(async function () {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    model = parseModelBytes(await readFile(new URL("../../models/statlog-heart-logreg.v1.json", import.meta.url)));
    patients = ADDRESSES.slice(0, 2).map(newPatient);
    pool = new ThreadPoolEvaluator({ threads: 2, keyCacheSize: 4, warmParameterSets: [DEFAULT_PARAMETER_SET] });
    inline = new InlineEvaluator(4);
  });
  beforeEach(() => loads.clear());
  after(async function () {
    await pool?.close();
    await inline?.close();
    for (const p of patients ?? []) p.cipher.dispose();
    engine?.dispose();
  });

  it("gives byte for byte the result of evaluating in this thread, which the patient decrypts to w·x + b", async function () {
    const jobs = [0, 1, 2, 3, 4, 5].map((n) => ({ patient: patients[n % 2]!, values: tuple(n), n }));
    const records = jobs.map((job) => job.patient.cipher.encryptTuple(job.values));
    const pooled = await Promise.all(jobs.map((job, i) => pool.evaluate(task(job.patient, records[i]!, job.n))));
    for (const [i, job] of jobs.entries()) {
      const local = await inline.evaluate(task(job.patient, records[i]!, job.n));
      expect(Buffer.from(pooled[i]!.resultBytes).equals(Buffer.from(local.resultBytes)), `job ${i}`).to.equal(true);
      const stage = serverStage(model, 0);
      const expected = stage.weights[0]!.reduce((sum, w, j) => sum + w * job.values[j]!, stage.bias[0]!);
      const { value } = job.patient.cipher.decryptResult(pooled[i]!.resultBytes);
      expect(Math.abs(value - expected)).to.be.below(1e-4);
      expect(pooled[i]!.evaluationMs).to.be.above(0);
    }
  });

  it("sends a patient's jobs to the thread that holds its keys, so each bundle is asked for once", async function () {
    const fresh = new ThreadPoolEvaluator({ threads: 2, keyCacheSize: 4 });
    try {
      const [a, b] = patients as [Patient, Patient];
      const recordA = a.cipher.encryptTuple(tuple(7));
      const recordB = b.cipher.encryptTuple(tuple(8));
      // Both threads busy at once: one opens A's keys, the other B's.
      await Promise.all([fresh.evaluate(task(a, recordA, 100)), fresh.evaluate(task(b, recordB, 101))]);
      // One at a time, alternating: any idle thread would do, but only the one holding the keys avoids a load.
      for (let n = 0; n < 6; n++) await fresh.evaluate(n % 2 ? task(a, recordA, 102 + n) : task(b, recordB, 102 + n));
      expect(loads.get(a.bundleHash)).to.equal(1);
      expect(loads.get(b.bundleHash)).to.equal(1);
    } finally {
      await fresh.close();
    }
  });

  it("under a backlog keeps each patient's jobs on one thread, so bundles are not opened in both threads", async function () {
    const fresh = new ThreadPoolEvaluator({ threads: 2, keyCacheSize: 4 });
    const more = ADDRESSES.slice(2).map(newPatient);
    try {
      const four = [...patients, ...more];
      const records = four.map((p, i) => p.cipher.encryptTuple(tuple(20 + i)));
      // Submitted at once, patients in turn: taking jobs in arrival order opens most bundles in both threads.
      const jobs = Array.from({ length: 16 }, (_, n) => fresh.evaluate(task(four[n % 4]!, records[n % 4]!, 200 + n)));
      const results = await Promise.all(jobs);
      expect(results).to.have.length(16);
      const opened = four.map((p) => loads.get(p.bundleHash) ?? 0);
      // Once per patient, and once more at most as the backlog drains (a thread left without its own patients'
      // jobs takes another's rather than stay idle).
      expect(opened.every((n) => n >= 1) && opened.reduce((a, b) => a + b) <= four.length + 1, `bundle openings ${opened.join(", ")}`).to.equal(true);
    } finally {
      await fresh.close();
      for (const p of more) p.cipher.dispose();
    }
  });

  for (const where of ["pool", "inline"] as const) {
    it(`refuses (${where}) a record that names another patient or key bundle than the job's, and a key bundle of another patient, cached or not`, async function () {
      const evaluator: StageEvaluator = where === "pool" ? pool : inline;
      const [victim, mallory] = patients as [Patient, Patient];
      const victimsRecord = victim.cipher.encryptTuple(tuple(20));
      const reason = async (t: StageTask) => {
        const err = await rejectionOf(evaluator.evaluate(t));
        expect(err, err.message).to.be.instanceOf(PermanentJobError);
        return (err as PermanentJobError).reason;
      };
      // Mallory's job on a copy of the victim's record (anchored in Mallory's namespace): the record names the victim.
      expect(await reason(task(mallory, victimsRecord, 600))).to.equal("RecordOwnerMismatch");
      // The record names the job's patient but another key bundle.
      expect(await reason({ ...task(victim, victimsRecord, 601), keyBundleHash: mallory.bundleHash })).to.equal("RecordOwnerMismatch");
      expect(loads.size, "no key bundle fetched for a record refused on its header").to.equal(0);

      // Mallory registered the victim's key bundle as her own and encrypts under it in her own name.
      const malloryUnderVictimsBundle = engine.openSecretKey(mallory.keys.secretKey, { patient: mallory.address, keyBundleHash: victim.bundleHash });
      try {
        const record = malloryUnderVictimsBundle.encryptTuple(tuple(21));
        const job = { ...task(victim, record, 602), patient: mallory.address };
        expect(await reason(job), "bundle fetched and refused before SEAL loads it").to.equal("KeyBundleOwnerMismatch");
        // The victim's own job puts the bundle into the cache; Mallory's next job is checked against the cached owner.
        const own = await evaluator.evaluate(task(victim, victimsRecord, 603));
        expect(own.resultBytes.length).to.be.above(1000);
        const before = loads.get(victim.bundleHash) ?? 0;
        expect(await reason({ ...job, binding: { ...job.binding, jobId: `0x${"0".repeat(61)}604` } })).to.equal("KeyBundleOwnerMismatch");
        if (where === "inline") expect(loads.get(victim.bundleHash) ?? 0, "served from the cache").to.equal(before);
      } finally {
        malloryUnderVictimsBundle.dispose();
      }
    });
  }

  it("hands back FHE and protocol errors from the thread as the same error kinds, and keeps serving", async function () {
    const patient = patients[1]!;
    const garbage = new Uint8Array(4096).fill(7);
    const fhe = await rejectionOf(pool.evaluate(task(patient, garbage, 200)));
    expect(fhe).to.be.instanceOf(FheError);
    expect((fhe as FheError).code).to.equal("MalformedRecord");

    const lateRound = patient.cipher.encryptRecords("packed-records", [tuple(1), tuple(2)], { round: 3 });
    const permanent = await rejectionOf(pool.evaluate(task(patient, lateRound, 201)));
    expect(permanent).to.be.instanceOf(PermanentJobError);
    expect((permanent as PermanentJobError).reason).to.equal("MalformedRecord");

    const good = await pool.evaluate(task(patient, patient.cipher.encryptTuple(tuple(3)), 202));
    expect(good.resultBytes.length).to.be.above(1000);
  });

  it("fails a job with its key loader's own error when the bundle cannot be had, and keeps serving", async function () {
    const stranger = { ...patients[0]!, bundleHash: contentHash(new Uint8Array([1, 2, 3])) };
    const missing = new Error("bundle not in the store");
    // The record names the bundle the job names, so the loader is reached.
    const cipher = engine.openSecretKey(stranger.keys.secretKey, { patient: stranger.address, keyBundleHash: stranger.bundleHash });
    try {
      const record = cipher.encryptTuple(tuple(4));
      const err = await rejectionOf(pool.evaluate(task(stranger, record, 300, { loadKeyBundle: () => Promise.reject(missing) })));
      expect(err).to.equal(missing);
    } finally {
      cipher.dispose();
    }
    const record = patients[0]!.cipher.encryptTuple(tuple(4));
    const after = await Promise.all([0, 1, 2].map((n) => pool.evaluate(task(patients[0]!, record, 301 + n))));
    expect(after).to.have.length(3);
  });

  it("fails only the job of a thread that dies, as retryable, and replaces the thread", async function () {
    const patient = patients[0]!;
    // A bundle no thread holds yet, so the job is known to be inside a thread (waiting for its keys) when stopped.
    const other = newPatient(ADDRESSES[2]!);
    try {
      const record = other.cipher.encryptTuple(tuple(5));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const doomed = pool.evaluate(task(other, record, 400, { loadKeyBundle: async () => (await held, other.keys.keyBundle) }));
      const threads = (pool as unknown as { threads: Array<{ worker: Worker; current?: unknown }> }).threads;
      const busy = threads.find((thread) => thread.current);
      expect(busy, "a thread holds the job").to.not.equal(undefined);
      await busy!.worker.terminate();
      const err = await rejectionOf(doomed);
      expect(err).to.be.instanceOf(EvaluationThreadDiedError);
      release();
      expect(pool.size).to.equal(2);
      const mine = patient.cipher.encryptTuple(tuple(5));
      const results = await Promise.all([0, 1, 2, 3].map((n) => pool.evaluate(task(patient, mine, 401 + n))));
      expect(results.every((r) => r.resultBytes.length > 1000)).to.equal(true);
    } finally {
      other.cipher.dispose();
    }
  });

  it("loses the thread of a task that crashes it (test hook), reports EvaluationThreadDiedError, and serves on a new thread", async function () {
    let deaths = 0;
    const fresh = new ThreadPoolEvaluator({ threads: 1, keyCacheSize: 2, onThreadDied: () => deaths++ });
    try {
      const patient = patients[0]!;
      const record = patient.cipher.encryptTuple(tuple(9));
      const [before] = fresh.threadIds;
      expect(await rejectionOf(fresh.evaluate(task(patient, record, 450, { crashThreadForTest: true })))).to.be.instanceOf(EvaluationThreadDiedError);
      expect(deaths).to.equal(1);
      expect(fresh.threadIds).to.have.length(1);
      expect(fresh.threadIds[0]).to.not.equal(before);
      expect((await fresh.evaluate(task(patient, record, 451))).resultBytes.length).to.be.above(1000);
      // Inline, there is no thread to lose: the hook is reported the same way.
      expect(await rejectionOf(inline.evaluate(task(patient, record, 452, { crashThreadForTest: true })))).to.be.instanceOf(EvaluationThreadDiedError);
    } finally {
      await fresh.close();
    }
  });

  it("replaces a thread whose SEAL heap passed the limit after its job, and keeps one below the limit", async function () {
    const recycled: number[] = [];
    const patient = patients[1]!;
    const record = patient.cipher.encryptTuple(tuple(10));
    const low = new ThreadPoolEvaluator({ threads: 1, keyCacheSize: 2, heapLimitBytes: 16 * 2 ** 20, onThreadRecycled: (bytes) => recycled.push(bytes) });
    const high = new ThreadPoolEvaluator({ threads: 1, keyCacheSize: 2, heapLimitBytes: 4 * 2 ** 30, onThreadRecycled: (bytes) => recycled.push(bytes) });
    try {
      const idsLow = [low.threadIds[0]];
      const idsHigh = [high.threadIds[0]];
      for (let n = 0; n < 3; n++) {
        const [a, b] = await Promise.all([low.evaluate(task(patient, record, 500 + n)), high.evaluate(task(patient, record, 500 + n))]);
        // The job that grew the heap still gets its result, and the same bytes as a thread that is kept.
        expect(Buffer.from(a.resultBytes).equals(Buffer.from(b.resultBytes)), `job ${n}`).to.equal(true);
        idsLow.push(low.threadIds[0]);
        idsHigh.push(high.threadIds[0]);
      }
      expect(new Set(idsLow).size, "a new thread after every job above the limit").to.equal(4);
      expect(new Set(idsHigh).size, "the thread below the limit is kept").to.equal(1);
      expect(recycled).to.have.length(3);
      for (const bytes of recycled) expect(bytes).to.be.above(16 * 2 ** 20);
      console.log(`      SEAL heap of an evaluation thread after one job (N=8192, one key bundle): ${(recycled[0]! / 2 ** 20).toFixed(0)} MiB`);
    } finally {
      await low.close();
      await high.close();
    }
  });

  it("rejects new work once closed", async function () {
    const closing = new ThreadPoolEvaluator({ threads: 1, keyCacheSize: 1 });
    await closing.close();
    expect((await rejectionOf(closing.evaluate(task(patients[0]!, new Uint8Array(1), 500)))).message).to.match(/closed/);
  });
});
