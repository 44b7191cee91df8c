import { expect } from "chai";
import { connectPmhe } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import type { Observation } from "../../protocol/intake/observation.js";
import { windowReadings } from "../../protocol/intake/windows.js";
import { predictPlaintext } from "../../protocol/model.js";
import { dayOf, predictWindows, type WindowProgress } from "../../client/window-predictions.js";
import { expectClose } from "../helpers/close.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";

/**
 * Prediction windows through the whole system (hardhat node, redis-server, coprocessor process): each UTC day's
 * windows packed into records, anchored as one root, one requestBatchPrediction per record, every window's decrypted
 * risk equal to the plaintext model's on the same reading.
 */
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 2);
const given = { cp: 3, fbs: 0, restecg: 0, exang: 0, oldpeak: 0.6, slope: 1, ca: 0, thal: 3 };

/** Two days: heart rate every 5 minutes varying with the hour, systolic every 2 hours, one cholesterol value. */
function twoDays(): Observation[] {
  const out: Observation[] = [{ code: "2093-3", time: T0 - 10 * 24 * HOUR, value: 231, origin: "lab" }];
  for (let t = T0; t < T0 + 48 * HOUR; t += 5 * 60_000) {
    const hour = new Date(t).getUTCHours();
    out.push({ code: "8867-4", time: t, value: 60 + hour * 3 + ((t / 60_000) % 7), origin: `hr ${t}` });
    if (t % (2 * HOUR) === 0) out.push({ code: "8480-6", time: t, value: 118 + (hour % 5) * 4, origin: `bp ${t}` });
  }
  return out;
}

describe("prediction windows through chain, queue and worker: a day's records under one root (hardhat node, redis-server, coprocessor process)", function () {
  this.timeout(300_000);
  let local: LocalStackWithPatient;

  before(async function () {
    local = await startLocalStackWithPatient({ readings: 1 });
  });
  after(async function () {
    await local?.stop();
  });

  it("decrypts every window's risk like the plaintext model, anchors one root per day, and proves a record under it on-chain", async function () {
    const { windows, skipped } = windowReadings(local.model, twoDays(), { birthDate: "1970-06-01", sex: "female" }, { stepHours: 4, from: T0 + 12 * HOUR, to: T0 + 48 * HOUR, given });
    expect(skipped).to.deep.equal([]);
    expect(windows).to.have.length(10); // 12 h to 48 h every 4 h
    const events: WindowProgress[] = [];
    const result = await predictWindows(local.patient, local.ref, windows, { windowsPerRecord: 2, onProgress: (e) => events.push(e) });

    // One prediction per window, each the plaintext model's on the same reading.
    expect(result.predictions.map((p) => p.end)).to.deep.equal(windows.map((w) => w.end));
    for (const [i, p] of result.predictions.entries()) {
      const expected = predictPlaintext(local.model, windows[i]!.reading);
      expectClose(p.prediction.probability, expected.probability, 1e-4, `window ending ${new Date(p.end).toISOString()}`);
      expect(p.prediction.predictedClass).to.equal(expected.predictedClass);
    }

    // Days: a window belongs to the day it covers, so the one ending at midnight is the first day's.
    expect(result.days.map((d) => d.day)).to.deep.equal(["2026-03-02", "2026-03-03"]);
    expect(result.days.map((d) => d.records.map((r) => r.windows))).to.deep.equal([[2, 2], [2, 2, 2]]);
    expect(windows.filter((w) => dayOf(w.end) === "2026-03-02").map((w) => new Date(w.end).getUTCHours())).to.deep.equal([12, 16, 20, 0]);
    expect(events.filter((e) => e.step === "anchored")).to.have.length(2);

    // On-chain: each root anchored by this patient with its record count, each record proven under it.
    const contract = connectPmhe(local.stack.contractAddress, local.stack.provider);
    const patient = await local.patientSigner.getAddress();
    for (const day of result.days) {
      const batch = await contract.batchOf(patient, day.root);
      expect(Number(batch.count)).to.equal(day.records.length);
      for (const record of day.records) expect(await contract.batchIncludes(patient, day.root, record.recordHash, record.proof)).to.equal(true);
    }
    const [first] = result.days[1]!.records;
    const wrong = [...first!.proof];
    wrong[0] = result.days[1]!.records[1]!.recordHash as Hash;
    expect(await contract.batchIncludes(patient, result.days[1]!.root, first!.recordHash, wrong)).to.equal(false);
    expect(await contract.batchIncludes(patient, result.days[0]!.root, first!.recordHash, first!.proof)).to.equal(false);
  });
});
