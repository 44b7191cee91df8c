import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { chooseLayout } from "../../protocol/fhe/layouts.js";
import { parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { windowReadings } from "../../protocol/intake/windows.js";
import { buildTuple, parseModelBytes, type Model } from "../../protocol/model.js";
import { groupByDay } from "../../client/window-predictions.js";
import { generateWearable, readHeartProfiles, toCsv } from "./synthetic-wearable.js";

/**
 * What `npm run bench:ingest` measures on one core: device readings (synthetic, at one-minute resolution) parsed from
 * CSV, taken in (UCUM, ranges, duplicates), windowed for the heart model and encrypted into packed ciphertexts (one
 * record per day of hourly windows), with the bytes a patient would upload per reading.
 */

const ROOT = join(import.meta.dirname, "..", "..");
/** What a person gives for the heart model's inputs no device measures (a plausible patient). */
export const GIVEN = { cp: 4, fbs: 0, restecg: 2, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 };

export interface PipelineMeasure {
  days: number;
  readings: number;
  csvBytes: number;
  windows: number;
  records: number;
  layout: string;
  recordBytes: number;
  /** Seconds per stage and in all (the engine's start and key generation are not counted: a patient has keys). */
  seconds: { parse: number; window: number; encrypt: number; total: number };
  readingsPerSecond: number;
  bytesPerReading: number;
}

export async function loadHeartModel(): Promise<Model> {
  return parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
}

/** Parses, windows and encrypts `days` of one synthetic patient's readings, best of `repeats` runs. */
export async function measurePipeline(options: { days: number; repeats: number; seed?: number }): Promise<PipelineMeasure> {
  const model = await loadHeartModel();
  const profiles = readHeartProfiles(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"));
  const data = generateWearable({ profile: profiles[0]!, seed: options.seed ?? 1, days: options.days });
  const csv = toCsv(data);
  const engine = await CkksEngine.create(model.fhe.parameterSet);
  const keys = engine.generateKeySet({ patient: "0x0000000000000000000000000000000000000001" });
  const cipher = engine.openSecretKey(keys.secretKey, { patient: "0x0000000000000000000000000000000000000001", keyBundleHash: `0x${"11".repeat(32)}` });
  try {
    let best: PipelineMeasure | undefined;
    for (let run = 0; run < options.repeats; run++) {
      const t0 = performance.now();
      const parsed = parseDeviceCsv(csv, { source: "bench.csv" });
      const t1 = performance.now();
      const profile = { ...data.facts, latest: { "2093-3": { code: "2093-3", time: Date.parse(data.cholesterol.time), value: data.cholesterol.value, origin: "lab" } } };
      const { windows } = windowReadings(model, parsed.observations, profile, { stepHours: 1, given: GIVEN });
      const t2 = performance.now();
      let recordBytes = 0;
      let records = 0;
      let layout = "";
      for (const dayWindows of groupByDay(windows).values()) {
        const tuples = dayWindows.map((w) => buildTuple(model, w.reading));
        const chosen = chooseLayout(tuples.length, tuples[0]!.length, engine.parameterSetName);
        layout = chosen;
        recordBytes += cipher.encryptRecords(chosen, tuples).length;
        records++;
      }
      const t3 = performance.now();
      const readings = parsed.observations.length + parsed.issues.length;
      const total = (t3 - t0) / 1000;
      const measure: PipelineMeasure = {
        days: options.days,
        readings,
        csvBytes: csv.length,
        windows: windows.length,
        records,
        layout,
        recordBytes,
        seconds: { parse: (t1 - t0) / 1000, window: (t2 - t1) / 1000, encrypt: (t3 - t2) / 1000, total },
        readingsPerSecond: readings / total,
        bytesPerReading: recordBytes / readings,
      };
      if (!best || measure.seconds.total < best.seconds.total) best = measure;
    }
    return best!;
  } finally {
    cipher.dispose();
    engine.dispose();
  }
}
