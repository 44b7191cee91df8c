import { APPLE_TYPES } from "../../protocol/intake/apple-health.js";
import { mulberry32 } from "./synthetic-wearable.js";
import { once } from "node:events";
import { createWriteStream } from "node:fs";

/**
 * A synthetic Apple Health `export.xml` of a requested size, for the parser's tests and benchmark: Apple's prologue
 * (DOCTYPE with its internal subset, HealthData root, ExportDate, Me), then minute by minute from `start`:
 * - heart rate every minute (a few gaps) with a circadian pattern (lower at night, an evening workout every other
 *   day), each with its motion-context MetadataEntry as the Watch writes it; resting heart rate once a day;
 * - blood pressure at 07:30 and 19:30 as HKCorrelationTypeIdentifierBloodPressure with nested systolic and diastolic
 *   Records, and the same two Records top-level (Apple writes both);
 * - oxygen saturation as Apple writes it (a fraction with unit "%"), mostly at night;
 * - body temperature most mornings (alternately degC and degF), blood glucose most mornings (alternately mg/dL and
 *   Apple's mmol<180.1558800000541>/L);
 * - types PMHE does not take in, in a realistic share: step counts and active energy through the waking day.
 * Every value is inside its plausible range, so a parser should take in every Record of a type PMHE takes in.
 *
 * Marked synthetic twice: an XML comment before the DOCTYPE and "(synthetic)" in every sourceName. Deterministic
 * for a seed and start; written with backpressure in chunks of about 1 MiB, never the whole file in memory.
 */

export interface SyntheticAppleHealthOptions {
  /** Stop after the first whole minute at which the file reaches this many bytes (the file ends a little above it). */
  targetBytes: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** First minute of data (default 2024-01-01T00:00:00Z). */
  start?: Date | string | number;
  /** The wearer's UTC offset in minutes, written in every date (default -300, i.e. -0500). */
  utcOffsetMinutes?: number;
  /** Minutes between heart-rate samples (default 1). */
  heartRateEveryMinutes?: number;
}

export interface SyntheticAppleHealthStats {
  bytes: number;
  /** Record elements written, nested in Correlations or not. */
  records: number;
  /** Record elements by Apple type, nested or not. */
  recordsByType: Record<string, number>;
  /** Blood-pressure Correlations written (each also written as two top-level Records). */
  correlations: number;
  /** Readings a parser should take in, by LOINC code, each blood-pressure reading once. */
  expectedByCode: Record<string, number>;
  /** First and last minute written, ms since the epoch. */
  first: number;
  last: number;
}

const SOURCE_WATCH = "Synthetic Person’s Apple Watch (synthetic)";
const SOURCE_PHONE = "Synthetic iPhone (synthetic)";
const SOURCE_CUFF = "Synthetic BP Cuff (synthetic)";
const WATCH =
  ' sourceVersion="10.1" device="&lt;&lt;HKDevice: 0x283f6c2d0&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.1&gt;"';
const PHONE =
  ' sourceVersion="17.2" device="&lt;&lt;HKDevice: 0x283f6c4b0&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.2&gt;"';
const CUFF = ' sourceVersion="4"';
/** Apple's molar glucose unit, mmol<180.1558800000541>/L, escaped as it must be in an attribute. */
const MMOL_GLUCOSE = "mmol&lt;180.1558800000541&gt;/L";


const PROLOGUE = `<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth                 CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex               CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType                   CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType         CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ATTLIST Correlation
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
]>
`;

/** Roughly how many bytes a day of data takes: heart rate at one sample a minute, and the rest (for the ExportDate only). */
const HEART_RATE_BYTES_PER_DAY = 670_000;
const OTHER_BYTES_PER_DAY = 430_000;
const MINUTE = 60_000;
const DAY = 86_400_000;


const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** Formats times as Apple does, `2024-03-05 08:15:00 -0500`, in a fixed UTC offset; the date part is cached per day. */
function appleDates(offsetMinutes: number): (ms: number) => string {
  const abs = Math.abs(offsetMinutes);
  const suffix = ` ${offsetMinutes < 0 ? "-" : "+"}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  let cachedDay = NaN;
  let prefix = "";
  return (ms) => {
    const local = ms + offsetMinutes * MINUTE;
    const day = Math.floor(local / DAY);
    if (day !== cachedDay) {
      cachedDay = day;
      prefix = `${new Date(day * DAY).toISOString().slice(0, 10)} `;
    }
    const seconds = Math.floor((local - day * DAY) / 1000);
    return `${prefix}${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}${suffix}`;
  };
}

export async function writeSyntheticAppleHealthExport(file: string, options: SyntheticAppleHealthOptions): Promise<SyntheticAppleHealthStats> {
  const seed = options.seed ?? 1;
  const offset = options.utcOffsetMinutes ?? -300;
  const every = Math.max(1, Math.floor(options.heartRateEveryMinutes ?? 1));
  const first = Math.floor(new Date(options.start ?? "2024-01-01T00:00:00Z").getTime() / MINUTE) * MINUTE;
  if (!Number.isFinite(first)) throw new Error(`start ${String(options.start)} is not a date`);
  if (!(options.targetBytes > 0)) throw new Error(`targetBytes must be positive, got ${options.targetBytes}`);
  const random = mulberry32(seed);
  const date = appleDates(offset);
  const recordsByType: Record<string, number> = {};
  const expectedByCode: Record<string, number> = {};
  let records = 0;
  let correlations = 0;

  const out = createWriteStream(file);
  const failed = new Promise<never>((_, reject) => out.once("error", reject));
  failed.catch(() => {});
  let written = 0;
  let parts: string[] = [];
  let pending = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    const chunk = parts.join("");
    parts = [];
    pending = 0;
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await Promise.race([once(out, "drain"), failed]);
  };
  const emit = (text: string) => {
    parts.push(text);
    pending += text.length;
  };

  /** One Record line, with `children` inside it; nested Records (in a Correlation) are indented by two spaces. */
  const record = (type: string, source: string, device: string, unit: string, value: string, start: number, end: number, children = "", indent = " ") => {
    records++;
    recordsByType[type] = (recordsByType[type] ?? 0) + 1;
    const created = date(end + Math.floor(random() * 300_000));
    const head = `${indent}<Record type="${type}" sourceName="${source}"${device} unit="${unit}" creationDate="${created}" startDate="${date(start)}" endDate="${date(end)}" value="${value}"`;
    emit(children === "" ? `${head}/>\n` : `${head}>\n${children}${indent}</Record>\n`);
  };
  const expect = (type: string) => {
    const code = APPLE_TYPES[type]!;
    expectedByCode[code] = (expectedByCode[code] ?? 0) + 1;
  };

  const years = 1940 + Math.floor(random() * 60);
  const birth = `${years}-${pad2(1 + Math.floor(random() * 12))}-${pad2(1 + Math.floor(random() * 28))}`;
  const sex = random() < 0.5 ? "HKBiologicalSexFemale" : "HKBiologicalSexMale";
  const estimatedDays = Math.ceil(options.targetBytes / (OTHER_BYTES_PER_DAY + HEART_RATE_BYTES_PER_DAY / every));
  emit(`<?xml version="1.0" encoding="UTF-8"?>\n`);
  emit(`<!-- SYNTHETIC DATA, not a real person's: a generated Apple Health export for PMHE's tests and benchmarks (seed ${seed}). -->\n`);
  emit(PROLOGUE);
  emit(`<HealthData locale="en_US">\n <ExportDate value="${date(first + (estimatedDays + 1) * DAY)}"/>\n`);
  emit(
    ` <Me HKCharacteristicTypeIdentifierDateOfBirth="${birth}" HKCharacteristicTypeIdentifierBiologicalSex="${sex}" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n`,
  );

  let t = first;
  let drift = 0;
  for (;; t += MINUTE) {
    const local = t + offset * MINUTE;
    const minuteOfDay = Math.floor((local - Math.floor(local / DAY) * DAY) / MINUTE);
    const dayIndex = Math.floor(local / DAY);
    const hour = minuteOfDay / 60;
    const awake = hour >= 7 && hour < 22.5;
    const workout = dayIndex % 2 === 0 && minuteOfDay >= 18 * 60 && minuteOfDay < 18 * 60 + 45;

    if (minuteOfDay === 0) {
      record("HKQuantityTypeIdentifierRestingHeartRate", SOURCE_WATCH, WATCH, "count/min", `${52 + Math.floor(random() * 14)}`, t, t + DAY - MINUTE);
      expect("HKQuantityTypeIdentifierRestingHeartRate");
    }
    if (t % (every * MINUTE) === 0 && random() >= 0.03) {
      // Circadian: about 56/min asleep, rising to about 76/min in the afternoon, a slow random drift, a workout.
      drift = Math.max(-6, Math.min(6, drift + (random() - 0.5) * 1.5));
      const circadian = 56 + 20 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 17));
      const bpm = Math.round(circadian + drift + (random() - 0.5) * 8 + (workout ? 55 + random() * 20 : 0));
      const motion = workout ? "2" : awake ? "1" : "0";
      record(
        "HKQuantityTypeIdentifierHeartRate", SOURCE_WATCH, WATCH, "count/min", `${bpm}`, t, t,
        `  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="${motion}"/>\n`,
      );
      expect("HKQuantityTypeIdentifierHeartRate");
    }
    if (awake && random() < 0.45) {
      const steps = workout ? 120 + Math.floor(random() * 60) : 5 + Math.floor(random() * 90);
      record("HKQuantityTypeIdentifierStepCount", SOURCE_PHONE, PHONE, "count", `${steps}`, t, t + MINUTE);
    }
    if (awake && random() < 0.7) {
      const kcal = (workout ? 8 + random() * 4 : 0.2 + random() * 2.5).toFixed(3);
      record("HKQuantityTypeIdentifierActiveEnergyBurned", SOURCE_WATCH, WATCH, "Cal", kcal, t, t + MINUTE);
    }
    if (minuteOfDay % 60 === 17 && random() < (awake ? 0.1 : 0.6)) {
      record("HKQuantityTypeIdentifierOxygenSaturation", SOURCE_WATCH, WATCH, "%", (0.93 + Math.floor(random() * 7) / 100).toFixed(2), t, t);
      expect("HKQuantityTypeIdentifierOxygenSaturation");
    }
    if (minuteOfDay === 7 * 60 + 5 && random() < 0.8) {
      const fahrenheit = dayIndex % 2 === 1;
      const celsius = 36.3 + random() * 0.9;
      const value = fahrenheit ? (celsius * 1.8 + 32).toFixed(1) : celsius.toFixed(1);
      record("HKQuantityTypeIdentifierBodyTemperature", SOURCE_PHONE, PHONE, fahrenheit ? "degF" : "degC", value, t, t);
      expect("HKQuantityTypeIdentifierBodyTemperature");
    }
    if (minuteOfDay === 7 * 60 + 15 && random() < 0.7) {
      const mgdl = 78 + random() * 50;
      const molar = dayIndex % 2 === 0;
      record("HKQuantityTypeIdentifierBloodGlucose", SOURCE_PHONE, PHONE, molar ? MMOL_GLUCOSE : "mg/dL", molar ? (mgdl / 18.0156).toFixed(1) : mgdl.toFixed(0), t, t);
      expect("HKQuantityTypeIdentifierBloodGlucose");
    }
    if (minuteOfDay === 7 * 60 + 30 || minuteOfDay === 19 * 60 + 30) {
      const systolic = `${108 + Math.floor(random() * 30)}`;
      const diastolic = `${66 + Math.floor(random() * 20)}`;
      const end = t + MINUTE;
      correlations++;
      emit(` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="${SOURCE_CUFF}"${CUFF} creationDate="${date(end)}" startDate="${date(t)}" endDate="${date(end)}">\n`);
      emit(`  <MetadataEntry key="HKWasUserEntered" value="0"/>\n`);
      record("HKQuantityTypeIdentifierBloodPressureSystolic", SOURCE_CUFF, CUFF, "mmHg", systolic, t, end, "", "  ");
      record("HKQuantityTypeIdentifierBloodPressureDiastolic", SOURCE_CUFF, CUFF, "mmHg", diastolic, t, end, "", "  ");
      emit(` </Correlation>\n`);
      record("HKQuantityTypeIdentifierBloodPressureSystolic", SOURCE_CUFF, CUFF, "mmHg", systolic, t, end);
      record("HKQuantityTypeIdentifierBloodPressureDiastolic", SOURCE_CUFF, CUFF, "mmHg", diastolic, t, end);
      expect("HKQuantityTypeIdentifierBloodPressureSystolic");
      expect("HKQuantityTypeIdentifierBloodPressureDiastolic");
    }
    if (pending >= 1 << 20) await flush();
    // Non-ASCII characters (the ’ in the Watch's name) are 3 bytes: `pending` counts characters, so this stops at or
    // a little after the target.
    if (written + pending >= options.targetBytes) break;
  }
  emit(`</HealthData>\n`);
  await flush();
  out.end();
  await Promise.race([once(out, "finish"), failed]);
  return { bytes: written, records, recordsByType, correlations, expectedByCode, first, last: t };
}
