import { expect } from "chai";
import { connectAsync, type MqttClient } from "mqtt";
import { SequenceMemory, subscribeReadings, type ReadingsResult, type SubscribeReadingsOptions } from "../../client/node/mqtt-readings.js";
import { startLocalMosquitto, type LocalMosquitto } from "../../local/mosquitto.js";
import type { Observation } from "../../protocol/intake/observation.js";
import { MAX_FUTURE_SKEW_MS, parseWearableMessage, parseWearableTopic, wearableTopic, type WearableMessage } from "../../protocol/intake/wearable-message.js";
import { mulberry32, publishWearableMessages } from "../../scripts/lib/synthetic-wearable.js";
import { sleep, waitFor, within } from "../helpers/wait.js";

const T0 = Date.UTC(2025, 0, 6, 8);
let patientCounter = 0;
/** A fresh patient address per test, so that sessions and queues never mix. */
const freshPatient = () => `0x${(0xabc000 + ++patientCounter).toString(16).padStart(40, "0")}`;
let clientCounter = 0;
const freshClientId = (what: string) => `pmhe-test-${what}-${process.pid}-${++clientCounter}`;

/** Heart-rate readings `watch-1-<from>` ... one a minute, values that are plainly fake (173.25 and up, by 0.01). */
function heartRates(device: string, from: number, count: number): WearableMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${device}-${from + i}`,
    device,
    time: new Date(T0 + (from + i) * 60_000).toISOString(),
    code: "8867-4",
    value: Math.round((173.25 + (from + i) * 0.01) * 100) / 100,
    unit: "/min",
    synthetic: true,
  }));
}

/** The message id an origin names (`mqtt <topic> <id>`). */
const idOf = (origin: string) => origin.split(" ")[2]!;
const key = (o: Observation) => `${o.code}|${o.time}|${o.value}|${idOf(o.origin)}`;

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("MQTT readings (client/node/mqtt-readings.ts, against a private mosquitto)", function () {
  this.timeout(120_000);
  let broker: LocalMosquitto;
  let publisher: MqttClient;

  before(async function () {
    broker = await startLocalMosquitto();
    publisher = await connectAsync(broker.url, { clientId: freshClientId("publisher"), protocolVersion: 5, reconnectPeriod: 200 });
    publisher.on("error", () => undefined);
  });
  after(async function () {
    await publisher?.endAsync(true);
    await broker?.stop();
  });

  const publishRaw = (topic: string, payloads: Array<string | WearableMessage>) => publishWearableMessages({ client: publisher, topic, messages: payloads, rate: 0 });

  /** Subscribes, publishes, and waits until the subscriber has handled `expected` messages; then stops it. */
  async function exchange(topic: string, payloads: Array<string | WearableMessage>, options: Partial<SubscribeReadingsOptions> = {}): Promise<ReadingsResult & { log: string[] }> {
    const place = parseWearableTopic(topic)!;
    const log: string[] = [];
    const subscription = await subscribeReadings({ url: broker.url, patient: place.patient, clientId: freshClientId("sub"), log: (l) => log.push(l), ...options });
    await publishRaw(topic, payloads);
    const handled = () => {
      const s = subscription.summary();
      return s.used + Object.values(s.skipped).reduce((a, b) => a + b, 0);
    };
    await waitFor("every message handled", async () => (handled() >= payloads.length ? true : undefined), { timeoutMs: 20_000, describe: () => `handled ${handled()} of ${payloads.length}` });
    await sleep(200); // nothing more arrives
    return { ...(await subscription.stop()), log };
  }

  describe("the payload and topic (protocol/intake/wearable-message.ts)", function () {
    it("builds and parses pmhe/<patient>/<device>, and refuses what does not follow it", function () {
      const patient = freshPatient();
      expect(wearableTopic(patient, "watch-1")).to.equal(`pmhe/${patient}/watch-1`);
      expect(parseWearableTopic(`pmhe/${patient}/watch-1`)).to.deep.equal({ patient, device: "watch-1" });
      for (const bad of [`pmhe/${patient.toUpperCase()}/w`, `pmhe/${patient}/`, `pmhe/${patient}/a/b`, `other/${patient}/w`, `pmhe/0x12/w`]) {
        expect(parseWearableTopic(bad), bad).to.equal(undefined);
      }
      expect(() => wearableTopic(patient, "a/b")).to.throw(/device id/);
      expect(() => wearableTopic(patient, "+")).to.throw(/device id/);
    });

    it("accepts the documented payload and names the field of each malformed one", function () {
      const good = { id: "watch-1-42", device: "watch-1", time: "2025-01-06T07:31:00.000Z", code: "8867-4", value: 72, unit: "/min", synthetic: true };
      const parsed = parseWearableMessage(JSON.stringify(good), "watch-1");
      expect(parsed).to.deep.equal({ ok: true, message: good, seq: 42, time: Date.parse(good.time) });
      const problem = (payload: unknown, device = "watch-1") => {
        const p = parseWearableMessage(typeof payload === "string" ? payload : JSON.stringify(payload), device);
        return p.ok ? "accepted" : p.problem;
      };
      expect(problem("{not json")).to.match(/not UTF-8 JSON/);
      expect(problem({ ...good, value: undefined })).to.match(/^value: /);
      expect(problem({ ...good, value: "72" })).to.match(/^value: /);
      expect(problem({ ...good, time: "2025-01-06T07:31:00+01:00" })).to.match(/^time: /);
      expect(problem({ ...good, time: "2025-02-30T07:31:00Z" })).to.match(/^time: /);
      expect(problem({ ...good, id: "watch-2-42" })).to.match(/^id: not <device>-<sequence number>/);
      expect(problem({ ...good, id: "watch-1-042" })).to.match(/^id: /);
      expect(problem({ ...good, extra: 1 })).to.match(/extra/);
      expect(problem(good, "watch-2")).to.match(/not the topic's device/);
      expect(problem([good])).to.match(/^payload: /);
      expect(problem(JSON.stringify({ ...good, unit: "x".repeat(2000) }))).to.match(/exceeds 1024/);
      expect(parseWearableMessage(new Uint8Array([0x7b, 0xff, 0x7d]))).to.deep.equal({ ok: false, problem: "payload is not UTF-8 JSON" });
    });
  });

  it("reports malformed messages, impossible values and unknown codes with their reason, and counts only good readings", async function () {
    const patient = freshPatient();
    const topic = wearableTopic(patient, "watch-1");
    const good = heartRates("watch-1", 0, 2);
    const base = heartRates("watch-1", 10, 1)[0]!;
    const now = T0 + 60 * 60_000;
    const payloads: Array<string | WearableMessage> = [
      good[0]!,
      "{ this is not json",
      JSON.stringify({ id: "watch-1-11", device: "watch-1", code: "8867-4", value: 70, unit: "/min" }), // no time
      JSON.stringify({ ...base, id: "watch-1-12", value: "seventy" }),
      { ...base, id: "watch-1-13", value: 400 }, // impossible heart rate
      { ...base, id: "watch-1-14", code: "1234-5" }, // a code PMHE does not take in
      { ...base, id: "watch-1-15", unit: "kg" }, // a unit that is not a rate
      { ...base, id: "watch-1-16", time: new Date(now + MAX_FUTURE_SKEW_MS + 60_000).toISOString() }, // far in the future
      { ...base, id: "watch-2-17", device: "watch-2" }, // another device than the topic's
      good[1]!,
    ];
    const result = await exchange(topic, payloads, { now: () => now });
    expect(result.observations.map(key)).to.deep.equal(good.map((m) => `8867-4|${Date.parse(m.time)}|${m.value}|${m.id}`));
    expect(result.summary).to.deep.equal({ used: 2, skipped: { malformed: 5, impossible_value: 1, unknown_code: 1, wrong_unit: 1 }, byCode: { "8867-4": 2 } });
    const byOrigin = Object.fromEntries(result.issues.map((i) => [i.origin, i.reason]));
    expect(byOrigin).to.deep.equal({
      [`mqtt ${topic} #2`]: "malformed",
      [`mqtt ${topic} watch-1-11`]: "malformed",
      [`mqtt ${topic} watch-1-12`]: "malformed",
      [`mqtt ${topic} watch-1-13`]: "impossible_value",
      [`mqtt ${topic} watch-1-14`]: "unknown_code",
      [`mqtt ${topic} watch-1-15`]: "wrong_unit",
      [`mqtt ${topic} watch-1-16`]: "malformed",
      [`mqtt ${topic} watch-2-17`]: "malformed",
    });
    expect(result.issues.find((i) => i.origin.endsWith("watch-1-16"))!.message).to.match(/in the future/);
    expect(result.endedBy).to.equal("stopped");
    // Counts only in the log, never a value.
    expect(result.log.join("\n")).to.match(/10 messages, 2 readings taken in/);
    expect(result.log.join("\n")).to.not.match(/173\.2|400|seventy/);
  });

  it("counts a message published twice with the same id once, and reports the repeat as a duplicate", async function () {
    const patient = freshPatient();
    const topic = wearableTopic(patient, "band");
    const readings = heartRates("band", 0, 10);
    const payloads = [...readings.slice(0, 5), readings[3]!, ...readings.slice(5), readings[3]!, readings[9]!, readings[0]!];
    const result = await exchange(topic, payloads);
    expect(result.observations.map((o) => idOf(o.origin))).to.deep.equal(readings.map((m) => m.id));
    expect(result.summary.used).to.equal(10);
    expect(result.summary.skipped).to.deep.equal({ duplicate: 4 });
    expect(result.issues.map((i) => idOf(i.origin))).to.deep.equal(["band-3", "band-3", "band-9", "band-0"]);
  });

  it("gives the same observations whether the readings are published in order or shuffled", async function () {
    const readings = heartRates("watch-1", 0, 300);
    const inOrder = await exchange(wearableTopic(freshPatient(), "watch-1"), readings);
    const outOfOrder = await exchange(wearableTopic(freshPatient(), "watch-1"), shuffled(readings, 7));
    expect(outOfOrder.summary).to.deep.equal({ used: 300, skipped: {}, byCode: { "8867-4": 300 } });
    const strip = (r: ReadingsResult) => r.observations.map((o) => ({ code: o.code, time: o.time, value: o.value, id: idOf(o.origin) })).sort((a, b) => a.time - b.time);
    expect(strip(outOfOrder)).to.deep.equal(strip(inOrder));
    // Arrival order really was different.
    expect(outOfOrder.observations.map((o) => o.time)).to.not.deep.equal(inOrder.observations.map((o) => o.time));
  });

  it("ends after N readings and leaves the rest queued in the persistent session, for the next subscription", async function () {
    const patient = freshPatient();
    const topic = wearableTopic(patient, "watch-1");
    const clientId = freshClientId("resume");
    const readings = heartRates("watch-1", 0, 40);
    const first = await subscribeReadings({ url: broker.url, patient, clientId, maxReadings: 5 });
    await publishRaw(topic, readings);
    const one = await within(first.done, 10_000, "the first subscription to end");
    expect(one.endedBy).to.equal("readings");
    expect(one.summary.used).to.equal(5);
    // The same client id resumes the session: the other 35, none of the first 5 again.
    const second = await subscribeReadings({ url: broker.url, patient, clientId, idleMs: 1_000 });
    const two = await within(second.done, 20_000, "the second subscription to go idle");
    expect(two.endedBy).to.equal("idle");
    const ids = [...one.observations, ...two.observations].map((o) => idOf(o.origin)).sort();
    expect(ids).to.deep.equal(readings.map((m) => m.id).sort());
    expect(two.summary.skipped).to.deep.equal({});
  });

  it("ends on the abort signal, and refuses to start on an already aborted one", async function () {
    const controller = new AbortController();
    const subscription = await subscribeReadings({ url: broker.url, patient: freshPatient(), clientId: freshClientId("abort"), signal: controller.signal });
    controller.abort();
    const result = await within(subscription.done, 5_000, "the subscription to end on abort");
    expect(result.endedBy).to.equal("signal");
    let refused: unknown;
    await subscribeReadings({ url: broker.url, patient: freshPatient(), clientId: freshClientId("abort"), signal: controller.signal }).catch((err) => (refused = err));
    expect(refused).to.be.instanceOf(Error);
  });

  it("rejects when no broker answers within the connect timeout", async function () {
    let failure: Error | undefined;
    await subscribeReadings({ url: "mqtt://127.0.0.1:1", patient: freshPatient(), clientId: freshClientId("nobroker"), connectTimeoutMs: 1_500, reconnectPeriodMs: 200 }).catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/no subscription to mqtt:\/\/127\.0\.0\.1:1 within 1500 ms/);
  });

  it("takes every one of N readings exactly once across a broker restart in the middle of the stream", async function () {
    const N = 3_000;
    const patient = freshPatient();
    const topic = wearableTopic(patient, "watch-1");
    const readings = heartRates("watch-1", 0, N);
    const log: string[] = [];
    // The subscriber comes back well after the publisher: what the publisher sends meanwhile (its unacknowledged
    // messages again, and new ones) can only reach the subscriber through its session, restored from disk.
    const subscription = await subscribeReadings({ url: broker.url, patient, clientId: freshClientId("restart"), maxReadings: N, reconnectPeriodMs: 1_500, log: (l) => log.push(l) });
    const sender = await connectAsync(broker.url, { clientId: freshClientId("restart-pub"), protocolVersion: 5, reconnectPeriod: 100 });
    sender.on("error", () => undefined);
    try {
      let acknowledged = 0;
      const publishing = publishWearableMessages({ client: sender, topic, messages: readings, rate: 1_000, onAcknowledged: (n) => (acknowledged = n) });
      await waitFor("a third of the stream acknowledged", async () => (acknowledged >= N / 3 ? true : undefined), { timeoutMs: 20_000 });
      const before = subscription.summary().used;
      let during = -1;
      await broker.restart({
        whileDown: async () => {
          await sleep(500);
          during = acknowledged;
        },
      });
      const { published } = await within(publishing, 60_000, "the publisher to finish");
      expect(published).to.equal(N);
      const result = await within(subscription.done, 60_000, "every reading to arrive", () => JSON.stringify(subscription.summary()));

      // The restart really fell mid-stream, with the subscriber connected on both sides of it.
      expect(before).to.be.above(0);
      expect(during).to.be.below(N);
      expect(result.reconnects).to.be.at.least(1);
      expect(log.some((l) => /reconnected \(session resumed\)/.test(l)), log.join("\n")).to.equal(true);

      // Every id once: none lost, none twice.
      const ids = result.observations.map((o) => idOf(o.origin));
      expect(ids).to.have.length(N);
      expect(new Set(ids)).to.deep.equal(new Set(readings.map((m) => m.id)));
      expect(result.summary.used).to.equal(N);
      expect(result.endedBy).to.equal("readings");
      // Redeliveries (if any) were reported, not counted.
      expect(Object.keys(result.summary.skipped).filter((r) => r !== "duplicate")).to.deep.equal([]);
    } finally {
      await sender.endAsync(true);
    }
  });

  it("keeps its dedupe memory within its bound over MQTT, with a small bound and readings out of order", async function () {
    const memory = new SequenceMemory({ maxPendingPerDevice: 16, maxDevices: 2 });
    const peaks: number[] = [];
    const readings = [...heartRates("a", 0, 200), ...heartRates("b", 0, 200), ...heartRates("c", 0, 200)];
    const result = await exchange(wearableTopic(freshPatient(), "a"), readings.filter((m) => m.device === "a").filter((_, i) => i % 2 === 0), {
      dedupe: memory,
      onObservation: () => peaks.push(memory.size),
    });
    expect(result.summary.used).to.equal(100);
    expect(Math.max(...peaks)).to.be.at.most(memory.bound);
    expect(memory.bound).to.equal(2 * 17);
  });
});

describe("SequenceMemory: the bounded memory of message ids", function () {
  it("tells new ids from repeats, in any order", function () {
    const memory = new SequenceMemory();
    for (const seq of [5, 3, 4, 0, 1, 2]) expect(memory.remember("w", seq), `first ${seq}`).to.equal(true);
    for (const seq of [0, 1, 2, 3, 4, 5]) expect(memory.remember("w", seq), `again ${seq}`).to.equal(false);
    expect(memory.remember("other", 0)).to.equal(true);
    expect(memory.size).to.equal(2); // 0..5 contiguous: only the floor is kept
  });

  it("stays within its bound over 100,000 distinct ids with gaps everywhere, and still catches recent repeats", function () {
    const memory = new SequenceMemory({ maxPendingPerDevice: 1_000, maxDevices: 4 });
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      // Only odd numbers: the contiguous floor never moves by itself.
      expect(memory.remember("w", 2 * i + 1)).to.equal(true);
      peak = Math.max(peak, memory.size);
    }
    expect(peak).to.be.at.most(memory.bound);
    expect(peak).to.be.at.most(1 + 1_000);
    for (let i = 99_000; i < 100_000; i += 37) expect(memory.remember("w", 2 * i + 1), `repeat of ${2 * i + 1}`).to.equal(false);
    // Numbers far below the window are taken as seen (a redelivery that late is not counted twice).
    expect(memory.remember("w", 1)).to.equal(false);
  });

  it("stays within its bound over 100,000 devices, forgetting the least recently heard from", function () {
    const memory = new SequenceMemory({ maxPendingPerDevice: 8, maxDevices: 100 });
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      expect(memory.remember(`d${i}`, 3)).to.equal(true);
      // One device keeps talking, so it is never the least recent.
      memory.remember("steady", i);
      peak = Math.max(peak, memory.size);
    }
    expect(peak).to.be.at.most(memory.bound);
    expect(memory.remember("steady", 5)).to.equal(false);
    expect(memory.remember("d99999", 3)).to.equal(false);
    expect(memory.remember("d0", 3)).to.equal(true); // forgotten long ago
  });

  it("an in-order stream of 100,000 keeps nothing but the floor; reordering within the window loses nothing", function () {
    const inOrder = new SequenceMemory({ maxPendingPerDevice: 4_096 });
    for (let i = 0; i < 100_000; i++) inOrder.remember("w", i);
    expect(inOrder.size).to.equal(1);

    const memory = new SequenceMemory({ maxPendingPerDevice: 4_096 });
    const random = mulberry32(3);
    let peak = 0;
    for (let block = 0; block < 100; block++) {
      const seqs = Array.from({ length: 1_000 }, (_, i) => block * 1_000 + i);
      for (let i = seqs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
      }
      for (const seq of seqs) expect(memory.remember("w", seq)).to.equal(true);
      peak = Math.max(peak, memory.size);
    }
    expect(peak).to.be.at.most(1 + 1_000);
    expect(memory.size).to.equal(1);
    for (let seq = 0; seq < 100_000; seq += 997) expect(memory.remember("w", seq)).to.equal(false);
  });
});
