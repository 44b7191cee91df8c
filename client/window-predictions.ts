import { chooseLayout, type Layout } from "../protocol/fhe/layouts.js";
import { contentHash, type Hash } from "../protocol/hash.js";
import { buildTuple, finalResultStage, roundCount, type Prediction } from "../protocol/model.js";
import type { PredictionWindow } from "../protocol/intake/windows.js";
import { ResultVerificationError } from "./errors.js";
import type { ModelRef } from "./model-ref.js";
import type { PatientClient } from "./patient-client.js";
import type { ResultVerdict } from "./verdict.js";

/**
 * Prediction windows to encrypted predictions, a day at a time (browser-safe): each UTC day's windows are packed
 * into records of at most `windowsPerRecord` tuples (the engine's batch layouts), uploaded, anchored as ONE Merkle root
 * (`anchorBatch`), and each record is requested with its proof (`requestBatchPrediction`); the results are verified
 * against the chain and decrypted into one prediction per window. Any window's inclusion can later be shown with its
 * record's proof under the day's root (`batchIncludes`).
 */

const DAY_MS = 86_400_000;

export interface WindowPredictionOptions {
  /** Windows per encrypted record (1 to the layout's capacity). Default 6: four records, a tree of depth 2, per day of hourly windows. */
  windowsPerRecord?: number;
  /** Longest wait for one job, ms. */
  timeoutMs?: number;
  onProgress?(event: WindowProgress): void;
}

export type WindowProgress =
  | { step: "encrypted"; day: string; records: number; windows: number }
  | { step: "anchored"; day: string; root: Hash; txHash: string }
  | { step: "requested"; day: string; jobId: Hash; recordHash: Hash }
  | { step: "decrypted"; day: string; jobId: Hash; windows: number };

export interface WindowPrediction {
  /** The window's end (ms) and the prediction of the reading computed for it. */
  end: number;
  prediction: Prediction;
  day: string;
  root: Hash;
  recordHash: Hash;
  /** The window's place among the record's tuples. */
  index: number;
  jobId: Hash;
}

export interface DayBatch {
  day: string;
  root: Hash;
  layout: Layout;
  records: Array<{ recordHash: Hash; proof: Hash[]; jobId: Hash; windows: number; verdict: ResultVerdict }>;
}

export interface WindowPredictionResult {
  predictions: WindowPrediction[];
  days: DayBatch[];
}

/** The UTC calendar day (YYYY-MM-DD) a window belongs to: the day of the instant just before its end. */
export function dayOf(end: number): string {
  return new Date(Math.floor((end - 1) / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export function groupByDay<T extends { end: number }>(windows: readonly T[]): Map<string, T[]> {
  const days = new Map<string, T[]>();
  for (const w of [...windows].sort((a, b) => a.end - b.end)) {
    const day = dayOf(w.end);
    const list = days.get(day) ?? [];
    list.push(w);
    days.set(day, list);
  }
  return days;
}

export async function predictWindows(client: PatientClient, ref: ModelRef, windows: readonly PredictionWindow[], options: WindowPredictionOptions = {}): Promise<WindowPredictionResult> {
  if (roundCount(ref.model) !== 1) throw new Error(`${ref.model.name} has ${roundCount(ref.model)} rounds: windows are predicted with one-round models`);
  const perRecord = options.windowsPerRecord ?? 6;
  if (!Number.isInteger(perRecord) || perRecord < 1) throw new RangeError(`windowsPerRecord must be a positive whole number, not ${perRecord}`);
  const result: WindowPredictionResult = { predictions: [], days: [] };

  for (const [day, dayWindows] of groupByDay(windows)) {
    // Encrypt and upload the day's records.
    const groups: PredictionWindow[][] = [];
    for (let i = 0; i < dayWindows.length; i += perRecord) groups.push(dayWindows.slice(i, i + perRecord));
    const width = buildTuple(ref.model, groups[0]![0]!.reading).length;
    const layout = chooseLayout(Math.max(...groups.map((g) => g.length)), width, client.crypto.parameterSet);
    const records: Array<{ hash: Hash; windows: PredictionWindow[] }> = [];
    for (const group of groups) {
      const bytes = await client.crypto.encryptRecords(layout, group.map((w) => buildTuple(ref.model, w.reading)), { stage: finalResultStage(ref.model) });
      const hash = contentHash(bytes);
      if (records.some((r) => r.hash === hash)) continue; // cannot happen with fresh encryption randomness; a batch anchors each record once
      await client.uploadRecord(bytes);
      records.push({ hash, windows: group });
    }
    options.onProgress?.({ step: "encrypted", day, records: records.length, windows: dayWindows.length });

    // One root for the day, then one request per record with its proof.
    const { tree, txHash } = await client.anchorBatch(records.map((r) => r.hash));
    options.onProgress?.({ step: "anchored", day, root: tree.root, txHash });
    const batch: DayBatch = { day, root: tree.root, layout, records: [] };
    const jobs: Array<{ jobId: Hash; record: (typeof records)[number]; proof: Hash[] }> = [];
    for (const record of records) {
      const proof = tree.proofOf(record.hash);
      const { jobId } = await client.requestBatchPrediction(tree.root, record.hash, proof, ref.id);
      options.onProgress?.({ step: "requested", day, jobId, recordHash: record.hash });
      jobs.push({ jobId, record, proof });
    }

    // Results: verified against the chain, decrypted here, one prediction per window.
    for (const { jobId, record, proof } of jobs) {
      await client.waitForResult(jobId, options.timeoutMs);
      const { bytes, verdict } = await client.fetchVerifiedResult(jobId);
      const predictions = await client.decryptPredictions(ref.model, bytes);
      if (predictions.length !== record.windows.length) {
        throw new ResultVerificationError(jobId, `the result holds ${predictions.length} values for ${record.windows.length} windows`);
      }
      record.windows.forEach((w, index) => result.predictions.push({ end: w.end, prediction: predictions[index]!, day, root: tree.root, recordHash: record.hash, index, jobId }));
      batch.records.push({ recordHash: record.hash, proof, jobId, windows: record.windows.length, verdict });
      options.onProgress?.({ step: "decrypted", day, jobId, windows: record.windows.length });
    }
    result.days.push(batch);
  }
  return result;
}
