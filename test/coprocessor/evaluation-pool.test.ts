import { expect } from "chai";
import { readFile } from "node:fs/promises";
import type { Worker } from "node:worker_threads";
import { InlineEvaluator } from "../../coprocessor/evaluation/inline-evaluator.js";
import type { StageTask } from "../../coprocessor/evaluation/stage-evaluator.js";
import { EvaluationThreadDiedError, ThreadPoolEvaluator } from "../../coprocessor/evaluation/thread-pool-evaluator.js";
import { PermanentJobError } from "../../protocol/failure-reasons.js";
import { CkksEngine, type KeySet, type PatientCipher } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { parseModelBytes, serverStage, type Model } from "../../protocol/model.js";
import { rejectionOf } from "../helpers/rejection.js";

interface Patient {
  keys: KeySet;
  cipher: PatientCipher;
  bundleHash: Hash;
}

const tuple = (seed: number) => Array.from({ length: 13 }, (_, i) => Math.sin(seed * 13 + i));

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

  before(async function () {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    model = parseModelBytes(await readFile(new URL("../../models/statlog-heart-logreg.v1.json", import.meta.url)));
    patients = [0, 1].map(() => {
      const keys = engine.generateKeySet();
      return { keys, cipher: engine.openSecretKey(keys.secretKey), bundleHash: contentHash(keys.keyBundle) };
    });
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
    const record = stranger.cipher.encryptTuple(tuple(4));
    const err = await rejectionOf(pool.evaluate(task(stranger, record, 300, { loadKeyBundle: () => Promise.reject(missing) })));
    expect(err).to.equal(missing);
    const after = await Promise.all([0, 1, 2].map((n) => pool.evaluate(task(patients[0]!, record, 301 + n))));
    expect(after).to.have.length(3);
  });

  it("fails only the job of a thread that dies, as retryable, and replaces the thread", async function () {
    const patient = patients[0]!;
    const record = patient.cipher.encryptTuple(tuple(5));
    // Stall the key load so the job is known to be inside a thread when that thread is stopped.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const fresh = { ...patient, bundleHash: contentHash(new Uint8Array([9])) };
    const doomed = pool.evaluate(task(fresh, record, 400, { loadKeyBundle: async () => (await held, patient.keys.keyBundle) }));
    const threads = (pool as unknown as { threads: Array<{ worker: Worker; current?: unknown }> }).threads;
    const busy = threads.find((thread) => thread.current);
    expect(busy, "a thread holds the job").to.not.equal(undefined);
    await busy!.worker.terminate();
    const err = await rejectionOf(doomed);
    expect(err).to.be.instanceOf(EvaluationThreadDiedError);
    release();
    expect(pool.size).to.equal(2);
    const results = await Promise.all([0, 1, 2, 3].map((n) => pool.evaluate(task(patient, record, 401 + n))));
    expect(results.every((r) => r.resultBytes.length > 1000)).to.equal(true);
  });

  it("rejects new work once closed", async function () {
    const closing = new ThreadPoolEvaluator({ threads: 1, keyCacheSize: 1 });
    await closing.close();
    expect((await rejectionOf(closing.evaluate(task(patients[0]!, new Uint8Array(1), 500)))).message).to.match(/closed/);
  });
});
