/// <reference lib="webworker" />
/// <reference path="../../../../protocol/intake/ucum-lhc.d.ts" />
import { expose } from "comlink";
import { parseAppleHealth } from "../../../../protocol/intake/apple-health.js";
import { parseDeviceCsv } from "../../../../protocol/intake/device-csv.js";
import { parseFhir } from "../../../../protocol/intake/fhir.js";
import { summarise, type IntakeIssue, type IntakeSummary, type Observation, type ProfileFacts } from "../../../../protocol/intake/observation.js";
import { windowReadings, type SkippedWindow } from "../../../../protocol/intake/windows.js";
import { buildTuple, ReadingError } from "../../../../protocol/model.js";
import {
  EXAMPLES_PER_REASON,
  INTAKE_WORKER_READY,
  type IntakeFormat,
  type IntakeWorkerApi,
  type ParsedFile,
  type WindowAnswer,
  type WindowRequest,
} from "../patient/import/intake-api.js";

/**
 * The intake worker: a patient's file of readings (FHIR R4 JSON, an Apple Health export.xml streamed from the File,
 * a device CSV) is read here, never on the page's thread, and its observations stay here; the page gets counts, the
 * first messages of each reason, and the prediction windows it asks for. UCUM's tables and the parsers load with this
 * worker only. Nothing here talks to the network.
 */

const HOUR_MS = 3_600_000;
const SKIPPED_EXAMPLES = 5;

/** The last file read: one at a time (a new file replaces it). */
let current: { observations: Observation[]; profile: ProfileFacts } | undefined;

function formatOf(name: string, head: string): IntakeFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith(".json")) return "fhir";
  if (lower.endsWith(".xml")) return "apple-health";
  if (lower.endsWith(".csv")) return "device-csv";
  const first = head.trimStart()[0];
  return first === "{" ? "fhir" : first === "<" ? "apple-health" : "device-csv";
}

/** The first issues of each reason, in the order they came. */
function collectExamples(): { add(issue: IntakeIssue): void; list: IntakeIssue[] } {
  const perReason = new Map<string, number>();
  const list: IntakeIssue[] = [];
  return {
    list,
    add(issue) {
      const seen = perReason.get(issue.reason) ?? 0;
      if (seen >= EXAMPLES_PER_REASON) return;
      perReason.set(issue.reason, seen + 1);
      list.push(issue);
    },
  };
}

/** First and last time without spreading (an export holds millions of readings: too many for Math.min(...)). */
function span(observations: readonly Observation[]): { first?: number; last?: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const o of observations) {
    if (o.time < first) first = o.time;
    if (o.time > last) last = o.time;
  }
  return observations.length ? { first, last } : {};
}

async function parse(file: File, timeZone: string | undefined, onProgress?: (read: number) => void): Promise<ParsedFile> {
  const started = performance.now();
  current = undefined;
  const head = await file.slice(0, 64).text();
  const format = formatOf(file.name, head);
  const examples = collectExamples();
  let observations: Observation[];
  let profile: ProfileFacts;
  let summary: IntakeSummary;
  let unknownTypes: Array<[string, number]> | undefined;
  if (format === "apple-health") {
    observations = [];
    let last = 0;
    const result = await parseAppleHealth(file.stream(), {
      source: file.name,
      onObservation: (o) => observations.push(o),
      onIssue: examples.add,
      // A few progress messages per second at most, whatever the chunk size.
      onProgress: (read) => {
        const now = performance.now();
        if (onProgress && now - last > 200) {
          last = now;
          void onProgress(read);
        }
      },
    });
    profile = result.profile;
    summary = result;
    unknownTypes = Object.entries(result.unknownTypes).sort((a, b) => b[1] - a[1]).slice(0, 8);
  } else {
    const text = await file.text();
    const result = format === "fhir" ? parseFhir(text, { source: file.name }) : parseDeviceCsv(text, { source: file.name, ...(timeZone ? { timeZone } : {}) });
    for (const issue of result.issues) examples.add(issue);
    observations = result.observations;
    profile = result.profile;
    summary = summarise(result);
  }
  void onProgress?.(file.size);
  current = { observations, profile };
  return {
    name: file.name,
    bytes: file.size,
    format,
    used: summary.used,
    byCode: summary.byCode,
    skipped: summary.skipped,
    examples: examples.list,
    ...(unknownTypes ? { unknownTypes } : {}),
    profile,
    ...span(observations),
    ...(format === "device-csv" && timeZone ? { timeZone } : {}),
    ms: performance.now() - started,
  };
}

function windows(request: WindowRequest): WindowAnswer {
  const started = performance.now();
  if (!current) throw new Error("no file has been read yet: choose a file of readings first");
  const { model, stepHours, given } = request;
  const { observations, profile } = current;
  // The same bounds windowReadings takes by default (the observations' own span), found without spreading them.
  const step = stepHours * HOUR_MS;
  const { first, last } = span(observations);
  const bounds = first === undefined || last === undefined ? {} : { from: Math.ceil(first / step) * step + step, to: last + 1 };
  const made = windowReadings(model, observations, profile, { stepHours, given, ...bounds });
  // A window whose values the model would refuse to encrypt (too far from its training data) is skipped here, with
  // the model's reason, rather than failing the whole run later.
  const usable = [];
  const skipped: SkippedWindow[] = [...made.skipped];
  for (const window of made.windows) {
    try {
      buildTuple(model, window.reading);
      usable.push(window);
    } catch (err) {
      if (!(err instanceof ReadingError)) throw err;
      skipped.push({ end: window.end, missing: [`${err.input ?? "reading"}: ${err.message}`] });
    }
  }
  skipped.sort((a, b) => a.end - b.end);
  const missingByInput: Record<string, number> = {};
  for (const s of skipped) {
    for (const name of new Set(s.missing.map((m) => m.slice(0, m.indexOf(":"))))) missingByInput[name] = (missingByInput[name] ?? 0) + 1;
  }
  return { windows: usable, skipped: skipped.length, skippedExamples: skipped.slice(0, SKIPPED_EXAMPLES), missingByInput, ms: performance.now() - started };
}

const api: IntakeWorkerApi = {
  parse,
  async windows(request) {
    return windows(request);
  },
  async forget() {
    current = undefined;
  },
};
expose(api);
self.postMessage(INTAKE_WORKER_READY);
