import { parseCsv } from "../../hospital/csv.js";
import { ageOn } from "../../protocol/intake/windows.js";
import { connect, type MqttClient } from "mqtt";
import type { ProfileFacts } from "../../protocol/intake/observation.js";
import { BLOOD_PRESSURE_PANEL, VITAL_SIGNS } from "../../protocol/intake/vital-signs.js";
import { wearableMessageId, type WearableMessage } from "../../protocol/intake/wearable-message.js";

/**
 * Synthetic wearable data, realistic enough to exercise the intake and the models: from one person's profile in
 * data/statlog_heart.csv (age, sex, resting blood pressure, maximum heart rate, cholesterol), `days` days of
 *
 * - heart rate (8867-4) every minute: a circadian rhythm (highest in the late afternoon), sleep at night (about 7
 *   below the resting rate at its lowest, and less variable), workouts and walks that climb toward the profile's
 *   maximum heart rate and recover over minutes;
 * - a resting heart rate (40443-4) each morning at waking;
 * - blood pressure (systolic 8480-6, diastolic 8462-4) every four hours or so while awake, around the profile's
 *   resting systolic value, a little higher in the first hours after waking;
 * - oxygen saturation (59408-5) hourly, 95 to 99 %, a little lower asleep;
 *
 * plus the profile facts (a birth date that gives the profile's age throughout the days generated, the sex) and one
 * total cholesterol lab value (2093-3) on the first morning. Deterministic: the same profile, seed, start and days
 * give the same data (mulberry32). Every output says it is synthetic: the MQTT payload's `synthetic: true`, a `#`
 * comment line in CSV, a `meta.tag` on every FHIR resource (HL7 ActReason HTEST, "test health data", and
 * `synthetic`).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A Monday: the default first day, so that a seed alone reproduces a data set. */
export const DEFAULT_START = Date.UTC(2025, 0, 6);

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform source (Box-Muller). */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** One person of data/statlog_heart.csv, as far as the generator uses them. */
export interface HeartProfile {
  /** 1-based data row (the header is row 0). */
  row: number;
  age: number;
  sex: "male" | "female";
  /** Resting blood pressure, mm[Hg] (`trestbps`): the systolic value on admission. */
  restingSystolic: number;
  /** Maximum heart rate achieved, /min (`thalach`). */
  maxHeartRate: number;
  /** Serum cholesterol, mg/dL (`chol`). */
  cholesterol: number;
}

/** The profiles of a statlog_heart.csv text, columns found by their header names. */
export function readHeartProfiles(csv: string): HeartProfile[] {
  // The trainer's reader: the same checks the data set passes when a model is trained on it.
  const { columns, rows } = parseCsv(csv);
  const column = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`the heart data set has no column ${name} (header: ${columns.join(",")})`);
    return i;
  };
  const at = { age: column("age"), sex: column("sex"), trestbps: column("trestbps"), thalach: column("thalach"), chol: column("chol") };
  return rows.map((cells, i) => ({
    row: i + 1,
    age: cells[at.age]!,
    sex: cells[at.sex] === 1 ? "male" : "female",
    restingSystolic: cells[at.trestbps]!,
    maxHeartRate: cells[at.thalach]!,
    cholesterol: cells[at.chol]!,
  }));
}

/** One generated reading: the same fields every output carries. */
export interface WearableReading {
  /** ISO 8601, UTC, ending in Z. */
  time: string;
  /** LOINC code. */
  code: string;
  value: number;
  /** UCUM unit (the code's unit in VITAL_SIGNS). */
  unit: string;
}

export interface SyntheticWearable {
  profile: HeartProfile;
  seed: number;
  /** First minute, ms since the epoch, and the number of days. */
  start: number;
  days: number;
  /** Birth date and sex (FHIR's administrative gender). */
  facts: Required<Pick<ProfileFacts, "birthDate" | "sex">>;
  /** The device's readings in time order (then code): heart rate, resting heart rate, blood pressure, SpO2. */
  readings: WearableReading[];
  /** The total cholesterol lab value (not a device reading). */
  cholesterol: WearableReading;
  /** Local sleep, as [start, end) ms intervals, for checking the rhythm. */
  sleep: Array<[number, number]>;
}

export interface GenerateOptions {
  profile: HeartProfile;
  seed: number;
  /** Days of data (default 7). */
  days?: number;
  /** First minute, ms since the epoch, rounded down to a whole minute (default DEFAULT_START). */
  start?: number;
  /** The person's local time as an offset from UTC, minutes (default 0): sleep and the rhythm follow local time. */
  utcOffsetMinutes?: number;
}

/** Whole years from `birthDate` (YYYY-MM-DD) to `time` (ms), the way ages are counted (the windows' own rule). */
export function ageAt(birthDate: string, time: number): number {
  const age = ageOn(birthDate, time);
  if (age === undefined) throw new Error(`birth date ${birthDate} is not YYYY-MM-DD`);
  return age;
}

const iso = (ms: number) => new Date(ms).toISOString();
const unit = (code: string) => VITAL_SIGNS[code]!.unit;

interface Burst {
  /** Minutes of the local day. */
  from: number;
  to: number;
  /** Fraction of the heart-rate reserve (from the resting to the maximum heart rate) it climbs to. */
  intensity: number;
}

/** A synthetic week (or `days`) of one profile's wearable data. */
export function generateWearable(options: GenerateOptions): SyntheticWearable {
  const { profile, seed } = options;
  const days = options.days ?? 7;
  if (!(Number.isSafeInteger(days) && days >= 1)) throw new Error("days must be an integer >= 1");
  const start = Math.floor((options.start ?? DEFAULT_START) / MINUTE) * MINUTE;
  const offset = (options.utcOffsetMinutes ?? 0) * MINUTE;
  const end = start + days * DAY;
  const random = mulberry32(seed);
  const normal = gaussian(random);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();

  // The person: resting heart rate from fitness (a higher maximum, a lower resting rate), below the maximum.
  const maxHr = profile.maxHeartRate;
  const rest = Math.round(clamp(68 - (maxHr - 150) * 0.08 + normal() * 3, 50, 82));
  const restHr = Math.min(rest, maxHr - 20);

  // The days: local day numbers (days since the epoch in local time) from the day before the first to the last.
  const firstDay = Math.floor((start + offset) / DAY) - 1;
  const lastDay = Math.floor((end - 1 + offset) / DAY);
  const schedule = new Map<number, { wake: number; bed: number; shift: number; bursts: Burst[] }>();
  for (let day = firstDay; day <= lastDay; day++) {
    const wake = Math.round(clamp(6.75 + normal() * 0.4, 5.5, 8.5) * 60);
    const bed = Math.round(clamp(22.75 + normal() * 0.5, 21.5, 23.9) * 60);
    const bursts: Burst[] = [];
    const workouts = 1 + Math.floor(random() * 2);
    for (let i = 0; i < workouts; i++) {
      const length = Math.round(uniform(20, 50));
      const from = Math.round(uniform(wake + 60, bed - 120 - length));
      bursts.push({ from, to: from + length, intensity: uniform(0.65, 0.92) });
    }
    const walks = 3 + Math.floor(random() * 4);
    for (let i = 0; i < walks; i++) {
      const length = Math.round(uniform(5, 15));
      const from = Math.round(uniform(wake + 15, bed - 30 - length));
      bursts.push({ from, to: from + length, intensity: uniform(0.25, 0.45) });
    }
    schedule.set(day, { wake, bed, shift: normal() * 2, bursts });
  }
  const dayOf = (t: number) => {
    const local = t + offset;
    const day = Math.floor(local / DAY);
    return { day, minute: (local - day * DAY) / MINUTE, plan: schedule.get(day)! };
  };
  const asleepAt = (t: number) => {
    const { minute, plan } = dayOf(t);
    return minute < plan.wake || minute >= plan.bed;
  };

  const readings: WearableReading[] = [];

  // Heart rate, every minute.
  let base: number | undefined;
  let noise = 0;
  let effort = 0;
  for (let t = start; t < end; t += MINUTE) {
    const { minute, plan } = dayOf(t);
    const asleep = minute < plan.wake || minute >= plan.bed;
    const hour = minute / 60;
    const target = asleep
      ? restHr - 6 - 2 * Math.cos((2 * Math.PI * (hour - 4)) / 24) + plan.shift
      : restHr + 10 + 4 * Math.cos((2 * Math.PI * (hour - 16)) / 24) + plan.shift;
    base = base === undefined ? target : base + (target - base) * 0.2;
    noise = 0.85 * noise + normal() * (asleep ? 0.6 : 1.8);
    let intensity = 0;
    for (const burst of plan.bursts) if (minute >= burst.from && minute < burst.to) intensity = Math.max(intensity, burst.intensity);
    // Heart rate climbs within a few minutes and recovers more slowly.
    effort += (intensity - effort) * (intensity > effort ? 0.45 : 0.22);
    const exertion = effort * (maxHr - base) * (1 + normal() * 0.03);
    const value = Math.round(clamp(base + noise + exertion, 35, maxHr));
    readings.push({ time: iso(t), code: "8867-4", value, unit: unit("8867-4") });
  }

  for (let day = firstDay; day <= lastDay; day++) {
    const plan = schedule.get(day)!;
    const midnight = day * DAY - offset;
    // Resting heart rate, at waking.
    const wakeTime = midnight + plan.wake * MINUTE;
    if (wakeTime >= start && wakeTime < end) {
      readings.push({ time: iso(wakeTime), code: "40443-4", value: Math.round(restHr + plan.shift + normal()), unit: unit("40443-4") });
    }
    // Blood pressure, every four hours or so while awake.
    for (let at = plan.wake + 30; at < plan.bed - 30; at += 240) {
      const t = midnight + Math.round(at + uniform(-20, 20)) * MINUTE;
      if (t < start || t >= end) continue;
      const morning = at - plan.wake < 180 ? 4 : 0;
      const systolic = Math.round(clamp(profile.restingSystolic + morning + plan.shift * 0.5 + normal() * 5, profile.restingSystolic - 30, profile.restingSystolic + 30));
      const diastolic = Math.round(clamp(systolic * 0.55 + 10 + normal() * 3, 40, systolic - 20));
      readings.push({ time: iso(t), code: "8480-6", value: systolic, unit: unit("8480-6") });
      readings.push({ time: iso(t), code: "8462-4", value: diastolic, unit: unit("8462-4") });
    }
  }

  // Oxygen saturation, on the hour.
  for (let t = Math.ceil(start / HOUR) * HOUR; t < end; t += HOUR) {
    const value = Math.round(clamp((asleepAt(t) ? 96.4 : 97.6) + normal() * 0.8, 95, 99));
    readings.push({ time: iso(t), code: "59408-5", value, unit: unit("59408-5") });
  }

  readings.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.code < b.code ? -1 : a.code > b.code ? 1 : 0));

  // Cholesterol on the first morning, fasting, at 08:30 local time (or at the start, if that is later).
  const firstMorning = Math.floor((start + offset) / DAY) * DAY - offset + 8.5 * HOUR;
  const cholesterol = { time: iso(Math.max(start, firstMorning)), code: "2093-3", value: profile.cholesterol, unit: unit("2093-3") };

  // Born so that the profile's age holds from the start to the end: the next birthday comes after the last day.
  const startDate = new Date(start + offset);
  const earliest = Math.min(days + 1, 364);
  const k = earliest + Math.floor(random() * (364 - earliest + 1));
  const birth = new Date(Date.UTC(startDate.getUTCFullYear() - profile.age - 1, startDate.getUTCMonth(), startDate.getUTCDate() + k));
  const birthDate = birth.toISOString().slice(0, 10);

  const sleep: Array<[number, number]> = [];
  for (let day = firstDay; day <= lastDay; day++) {
    const plan = schedule.get(day)!;
    const midnight = day * DAY - offset;
    const next = schedule.get(day + 1);
    sleep.push([midnight + plan.bed * MINUTE, midnight + DAY + (next?.wake ?? plan.wake) * MINUTE]);
  }

  return { profile, seed, start, days, facts: { birthDate, sex: profile.sex }, readings, cholesterol, sleep };
}

/** A patient address for synthetic data: 20 bytes from the seed, so a seed's data set always goes to one address. */
export function syntheticPatientAddress(seed: number): string {
  const random = mulberry32(seed ^ 0x5eed);
  let hex = "";
  for (let i = 0; i < 20; i++) hex += Math.floor(random() * 256).toString(16).padStart(2, "0");
  return `0x${hex}`;
}

const SYNTHETIC_NOTE = "synthetic: generated wearable readings, not measured from a person";

/** Metric names written to CSV (the device CSV intake reads them, and LOINC codes, alike). */
const CSV_METRICS: Readonly<Record<string, string>> = {
  "8867-4": "heart_rate",
  "40443-4": "resting_heart_rate",
  "8480-6": "systolic",
  "8462-4": "diastolic",
  "59408-5": "spo2",
  "2093-3": "cholesterol",
};

/** The device readings as CSV: `#` lines saying they are synthetic, then timestamp,metric,value,unit. */
export function toCsv(data: SyntheticWearable): string {
  const lines = [
    `# ${SYNTHETIC_NOTE} (seed ${data.seed}, profile row ${data.profile.row} of statlog_heart.csv, ${data.days} days)`,
    "timestamp,metric,value,unit",
    ...data.readings.map((r) => `${r.time},${CSV_METRICS[r.code] ?? r.code},${r.value},${r.unit}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** FHIR's tags that mark a resource as synthetic: HL7's "test health data" and a plain `synthetic`. */
export const SYNTHETIC_TAGS = [
  { system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: "HTEST", display: "test health data" },
  { system: "urn:pmhe:tag", code: "synthetic", display: "synthetic data, not measured from a person" },
] as const;

type FhirResource = Record<string, unknown> & { resourceType: string; id: string };
export interface FhirBundle {
  resourceType: "Bundle";
  id: string;
  meta: { tag: typeof SYNTHETIC_TAGS };
  type: "collection";
  timestamp: string;
  entry: Array<{ fullUrl: string; resource: FhirResource }>;
}

const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";
const CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";
const DISPLAY: Readonly<Record<string, string>> = {
  "8867-4": "Heart rate",
  "40443-4": "Heart rate --resting",
  "8480-6": "Systolic blood pressure",
  "8462-4": "Diastolic blood pressure",
  "59408-5": "Oxygen saturation in Arterial blood by Pulse oximetry",
  "2708-6": "Oxygen saturation in Arterial blood",
  "2093-3": "Cholesterol [Mass/volume] in Serum or Plasma",
  [BLOOD_PRESSURE_PANEL]: "Blood pressure panel with all children optional",
};
const UNIT_TEXT: Readonly<Record<string, string>> = { "/min": "beats/minute", "mm[Hg]": "mmHg", "%": "%", "mg/dL": "mg/dL" };

/**
 * A FHIR R4 collection Bundle: the Patient (gender, birth date), one Observation per reading, blood pressure as an
 * 85354-9 panel with systolic and diastolic components, SpO2 coded 59408-5 with FHIR's 2708-6 beside it, and the
 * cholesterol lab value. Every resource, and the Bundle, carries SYNTHETIC_TAGS.
 */
export function toFhirBundle(data: SyntheticWearable): FhirBundle {
  const prefix = `synthetic-${data.seed}-${data.profile.row}`;
  const meta = { tag: SYNTHETIC_TAGS };
  const patientId = `${prefix}-patient`;
  const entry: FhirBundle["entry"] = [];
  const add = (resource: FhirResource) => entry.push({ fullUrl: `urn:pmhe:${resource.resourceType}/${resource.id}`, resource });
  add({ resourceType: "Patient", id: patientId, meta, gender: data.facts.sex, birthDate: data.facts.birthDate });
  const subject = { reference: `urn:pmhe:Patient/${patientId}` };
  const coding = (code: string) => ({ system: LOINC, code, display: DISPLAY[code] ?? code });
  const quantity = (r: Pick<WearableReading, "value" | "unit">) => ({ value: r.value, unit: UNIT_TEXT[r.unit] ?? r.unit, system: UCUM, code: r.unit });
  const category = (code: "vital-signs" | "laboratory") => [{ coding: [{ system: CATEGORY, code, display: code === "vital-signs" ? "Vital Signs" : "Laboratory" }] }];
  let n = 0;
  const observation = (fields: Record<string, unknown>, effective: string, kind: "vital-signs" | "laboratory" = "vital-signs") =>
    add({ resourceType: "Observation", id: `${prefix}-obs-${++n}`, meta, status: "final", category: category(kind), ...fields, subject, effectiveDateTime: effective });

  // Systolic and diastolic of one time go into one panel.
  const pressure = new Map<string, { systolic?: WearableReading; diastolic?: WearableReading }>();
  for (const r of data.readings) {
    if (r.code === "8480-6" || r.code === "8462-4") {
      const at = pressure.get(r.time) ?? {};
      if (r.code === "8480-6") at.systolic = r;
      else at.diastolic = r;
      pressure.set(r.time, at);
    }
  }
  for (const r of data.readings) {
    if (r.code === "8480-6") {
      const { systolic, diastolic } = pressure.get(r.time)!;
      const component = [systolic, diastolic].filter((c): c is WearableReading => c !== undefined).map((c) => ({ code: { coding: [coding(c.code)] }, valueQuantity: quantity(c) }));
      observation({ code: { coding: [coding(BLOOD_PRESSURE_PANEL)], text: "Blood pressure" }, component }, r.time);
    } else if (r.code === "8462-4") {
      if (pressure.get(r.time)?.systolic === undefined) observation({ code: { coding: [coding(r.code)] }, valueQuantity: quantity(r) }, r.time);
    } else if (r.code === "59408-5") {
      observation({ code: { coding: [coding("59408-5"), coding("2708-6")], text: "Oxygen saturation" }, valueQuantity: quantity(r) }, r.time);
    } else {
      observation({ code: { coding: [coding(r.code)], text: DISPLAY[r.code] }, valueQuantity: quantity(r) }, r.time);
    }
  }
  observation({ code: { coding: [coding("2093-3")], text: "Total cholesterol" }, valueQuantity: quantity(data.cholesterol) }, data.cholesterol.time, "laboratory");

  return { resourceType: "Bundle", id: `${prefix}-bundle`, meta, type: "collection", timestamp: iso(data.start + data.days * DAY), entry };
}

/** The readings as MQTT payloads of `device`, ids `<device>-<seq>` from `firstSeq` (default 0), all `synthetic`. */
export function toWearableMessages(readings: readonly WearableReading[], device: string, firstSeq = 0): WearableMessage[] {
  return readings.map((r, i) => ({ id: wearableMessageId(device, firstSeq + i), device, time: r.time, code: r.code, value: r.value, unit: r.unit, synthetic: true }));
}

export interface PublishOptions {
  /** A connected (or connecting) client, or a broker URL to connect to (and disconnect from at the end). */
  client: MqttClient | string;
  topic: string;
  /** Payloads, published in this order as JSON. */
  messages: ReadonlyArray<WearableMessage | string>;
  /** Messages per second offered; 0 publishes as fast as the client takes them. */
  rate: number;
  signal?: AbortSignal;
  /** Called as each message is acknowledged by the broker (PUBACK), with the count so far. */
  onAcknowledged?: (count: number) => void;
  /** Wait between reconnection attempts when given a URL, ms (default 1000). */
  reconnectPeriodMs?: number;
}

/**
 * Publishes with QoS 1 at `rate` messages per second; resolves once the broker acknowledged every one. A message not
 * acknowledged when the connection drops stays in MQTT.js's outgoing store and is sent again after reconnecting (the
 * broker may then pass it on twice: the subscriber counts its id once). Rejects if `signal` aborts.
 */
export async function publishWearableMessages(options: PublishOptions): Promise<{ published: number; seconds: number }> {
  const own = typeof options.client === "string";
  const client = typeof options.client === "string"
    ? connect(options.client, { clientId: `pmhe-synth-${Math.random().toString(16).slice(2, 10)}`, protocolVersion: 5, reconnectPeriod: options.reconnectPeriodMs ?? 1_000, connectTimeout: 10_000 })
    : options.client;
  // Errors while reconnecting are expected; a publish that fails for good rejects through its callback.
  const ignore = () => undefined;
  if (own) client.on("error", ignore);
  const began = Date.now();
  let acknowledged = 0;
  try {
    options.signal?.throwIfAborted();
    const pending: Array<Promise<void>> = [];
    let aborted: (reason: unknown) => void = () => undefined;
    const abort = new Promise<never>((_, reject) => (aborted = reject));
    abort.catch(() => undefined);
    const onAbort = () => aborted(options.signal!.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (let i = 0; i < options.messages.length; i++) {
        if (options.rate > 0) {
          const due = began + (i * 1000) / options.rate;
          const wait = due - Date.now();
          if (wait > 1) await Promise.race([new Promise((r) => setTimeout(r, wait)), abort]);
        } else if (i % 1000 === 999) {
          await Promise.race([new Promise((r) => setImmediate(r)), abort]);
        }
        const message = options.messages[i]!;
        const payload = typeof message === "string" ? message : JSON.stringify(message);
        pending.push(
          new Promise<void>((resolve, reject) =>
            client.publish(options.topic, payload, { qos: 1 }, (err) => {
              if (err) return reject(err);
              options.onAcknowledged?.(++acknowledged);
              resolve();
            }),
          ),
        );
      }
      await Promise.race([Promise.all(pending), abort]);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    return { published: acknowledged, seconds: (Date.now() - began) / 1000 };
  } finally {
    if (own) await client.endAsync(options.signal?.aborted === true).catch(ignore);
  }
}
