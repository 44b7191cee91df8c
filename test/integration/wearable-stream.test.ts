import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { predictWindows } from "../../client/window-predictions.js";
import { subscribeReadings } from "../../client/node/mqtt-readings.js";
import { startLocalMosquitto, type LocalMosquitto } from "../../local/mosquitto.js";
import { connectPmhe } from "../../protocol/chain.js";
import { VITAL_SIGNS } from "../../protocol/intake/vital-signs.js";
import { wearableTopic } from "../../protocol/intake/wearable-message.js";
import { windowReadings } from "../../protocol/intake/windows.js";
import { predictPlaintext } from "../../protocol/model.js";
import { generateWearable, publishWearableMessages, readHeartProfiles, toWearableMessages } from "../../scripts/lib/synthetic-wearable.js";
import { expectClose } from "../helpers/close.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { ROOT } from "../helpers/test-model.js";

/**
 * The wearable path end to end, with every part real: a synthetic week at one-minute resolution published to a
 * mosquitto broker → the patient's subscription (QoS 1, persistent session) → the gate → prediction windows of the
 * heart model → each day's windows encrypted in packed records, anchored as one root → a requestBatchPrediction per
 * record through chain, queue and worker → every window's risk decrypted equal to the plaintext model's, and one
 * window's record proven under its day's root by the contract.
 */
const given = { cp: 4, fbs: 0, restecg: 2, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 };

describe("a week of wearable readings over MQTT to per-window encrypted predictions (mosquitto, hardhat node, redis-server, coprocessor process)", function () {
  this.timeout(600_000);
  let local: LocalStackWithPatient;
  let broker: LocalMosquitto;

  before(async function () {
    broker = await startLocalMosquitto();
    local = await startLocalStackWithPatient({ readings: 1 });
  });
  after(async function () {
    await local?.stop();
    await broker?.stop();
  });

  it("takes in every reading once, and decrypts each window's risk like the plaintext model; a window's record is proven on-chain", async function () {
    const profiles = readHeartProfiles(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"));
    const week = generateWearable({ profile: profiles[4]!, seed: 7, days: 7 });
    expect(week.readings.length, "readings in the week").to.be.at.least(10_000);
    const patient = (await local.patientSigner.getAddress()).toLowerCase();

    const subscription = await subscribeReadings({ url: broker.url, patient, clientId: "pmhe-test-patient", idleMs: 4_000 });
    const messages = toWearableMessages(week.readings, "watch-1");
    await publishWearableMessages({ client: broker.url, topic: wearableTopic(patient, "watch-1"), messages, rate: 0 });
    const intake = await subscription.done;
    expect(intake.issues, "readings not taken in").to.deep.equal([]);
    expect(intake.observations).to.have.length(week.readings.length);
    // Each reading arrived as sent (times to the millisecond, values in the code's unit).
    const sent = new Map(week.readings.map((r) => [`${r.code}@${Date.parse(r.time)}`, r.value]));
    for (const o of intake.observations) expect(sent.get(`${o.code}@${o.time}`), `${o.code} at ${new Date(o.time).toISOString()}`).to.equal(o.value);
    for (const code of new Set(week.readings.map((r) => r.code))) expect(VITAL_SIGNS[code], code).to.not.equal(undefined);

    const profile = {
      ...week.facts,
      latest: { "2093-3": { code: "2093-3", time: Date.parse(week.cholesterol.time), value: week.cholesterol.value, origin: "lab" } },
    };
    const { windows, skipped } = windowReadings(local.model, intake.observations, profile, { stepHours: 6, given });
    expect(windows.length, "prediction windows").to.be.at.least(24);
    // Only windows before a day of data was gathered may lack a value.
    for (const s of skipped) expect(s.end - week.start, `skipped window ${new Date(s.end).toISOString()}: ${s.missing.join("; ")}`).to.be.at.most(24 * 3_600_000);

    const result = await predictWindows(local.patient, local.ref, windows, { windowsPerRecord: 2 });
    expect(result.predictions).to.have.length(windows.length);
    for (const [i, p] of result.predictions.entries()) {
      const expected = predictPlaintext(local.model, windows[i]!.reading);
      expectClose(p.prediction.probability, expected.probability, 1e-4, `window ending ${new Date(p.end).toISOString()}`);
      expect(p.prediction.predictedClass).to.equal(expected.predictedClass);
    }
    expect(result.days.length, "days anchored").to.be.within(7, 8);

    // One window's inclusion, shown to an auditor: its record under its day's root, checked by the contract.
    const contract = connectPmhe(local.stack.contractAddress, local.stack.provider);
    const shown = result.predictions[Math.floor(result.predictions.length / 2)]!;
    const day = result.days.find((d) => d.root === shown.root)!;
    const record = day.records.find((r) => r.recordHash === shown.recordHash)!;
    expect(record.proof.length, "a proof with siblings").to.be.at.least(1);
    expect(await contract.batchIncludes(patient, day.root, record.recordHash, record.proof)).to.equal(true);
    const other = result.days.find((d) => d.root !== day.root)!;
    expect(await contract.batchIncludes(patient, other.root, record.recordHash, record.proof)).to.equal(false);
  });
});
