import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { Readable } from "node:stream";
import { parseAppleHealth } from "../../protocol/intake/apple-health.js";
import { DuplicateFilter } from "../../protocol/intake/dedupe.js";
import { parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { parseFhir } from "../../protocol/intake/fhir.js";
import type { IntakeIssue, IntakeIssueReason, IntakeSummary, Observation, ProfileFacts } from "../../protocol/intake/observation.js";
import { subscribeReadings } from "./mqtt-readings.js";

/**
 * Every input `ingest` takes (FHIR R4 JSON, Apple Health export.xml, device CSV, standard input, an MQTT broker),
 * merged into one set of observations: duplicates across inputs counted once, profile facts from whichever input has
 * them, every reading not used counted by reason and, up to a bound, kept with its origin for the report.
 */

export type InputFormat = "fhir" | "apple" | "csv";

export interface IngestOptions {
  /** Files, or "-" for standard input. */
  inputs: string[];
  format?: InputFormat;
  timeZone?: string;
  /** An MQTT broker URL to take readings from as well. */
  mqtt?: { url: string; patient: string; clientId: string; idleMs: number; maxReadings?: number };
  /** Bytes read so far and the total, when known (for a progress bar). */
  onProgress?: (read: number, total: number | undefined, input: string) => void;
  /** How many individual issues to keep for the report (all are counted). Default 1,000. */
  keepIssues?: number;
}

export interface IngestResult {
  observations: Observation[];
  profile: ProfileFacts;
  summary: IntakeSummary;
  /** The first `keepIssues` readings not used, with where they were and why. */
  issues: IntakeIssue[];
  /** Per input: what it gave. */
  inputs: Array<{ input: string; format: InputFormat | "mqtt"; used: number; skipped: number }>;
}

/** The format of an input, from its extension or, for standard input, its first character. */
export function detectFormat(name: string, head: string): InputFormat {
  const ext = extname(name).toLowerCase();
  if (ext === ".json") return "fhir";
  if (ext === ".xml") return "apple";
  if (ext === ".csv") return "csv";
  const first = head.trimStart()[0];
  return first === "{" ? "fhir" : first === "<" ? "apple" : "csv";
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const keep = options.keepIssues ?? 1_000;
  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  const skipped: Partial<Record<IntakeIssueReason, number>> = {};
  const byCode: Record<string, number> = {};
  const profile: ProfileFacts = {};
  const duplicates = new DuplicateFilter();
  const inputs: IngestResult["inputs"] = [];
  let current = { used: 0, skipped: 0 };

  const onIssue = (issue: IntakeIssue) => {
    skipped[issue.reason] = (skipped[issue.reason] ?? 0) + 1;
    current.skipped++;
    if (issues.length < keep) issues.push(issue);
  };
  const onObservation = (o: Observation) => {
    // A reading given by two inputs (an export and the stream it came from) is one reading.
    const duplicate = duplicates.check(o);
    if (duplicate) return onIssue(duplicate);
    observations.push(o);
    byCode[o.code] = (byCode[o.code] ?? 0) + 1;
    current.used++;
  };
  const mergeProfile = (found: ProfileFacts) => {
    profile.birthDate ??= found.birthDate;
    profile.sex ??= found.sex;
    for (const [code, o] of Object.entries(found.latest ?? {})) {
      const latest = (profile.latest ??= {});
      if (!latest[code] || latest[code].time < o.time) latest[code] = o;
    }
  };

  for (const input of options.inputs) {
    current = { used: 0, skipped: 0 };
    const fromStdin = input === "-";
    const source = fromStdin ? "stdin" : input;
    const format = options.format;
    let format_: InputFormat;
    if (!fromStdin && (format ?? detectFormat(input, "")) === "apple") {
      // Streamed: real exports are hundreds of MB.
      format_ = "apple";
      const total = (await stat(input)).size;
      const summary = await parseAppleHealth(Readable.toWeb(createReadStream(input)) as ReadableStream<Uint8Array>, {
        source,
        onObservation,
        onIssue,
        onProgress: (read) => options.onProgress?.(read, total, input),
      });
      mergeProfile(summary.profile);
      // Blood pressure Apple writes twice (in a correlation and at the top level) is counted, not reported one by one.
      const twice = summary.skipped.duplicate ?? 0;
      if (twice) {
        skipped.duplicate = (skipped.duplicate ?? 0) + twice;
        current.skipped += twice;
      }
      // Types PMHE does not take in are counted per type by the parser, not reported one by one.
      const unknown = Object.values(summary.unknownTypes).reduce((a, b) => a + b, 0);
      if (unknown) {
        skipped.unknown_code = (skipped.unknown_code ?? 0) + unknown;
        current.skipped += unknown;
        const types = Object.entries(summary.unknownTypes).sort((a, b) => b[1] - a[1]);
        if (issues.length < keep) issues.push({ reason: "unknown_code", origin: source, message: `${source}: ${unknown} record(s) of types PMHE does not take in: ${types.map(([t, n]) => `${t} ${n}`).join(", ")}` });
      }
    } else {
      const bytes = fromStdin ? await readStdin() : await readFile(input);
      const text = bytes.toString("utf8");
      format_ = format ?? detectFormat(fromStdin ? "" : input, text.slice(0, 64));
      options.onProgress?.(bytes.length, bytes.length, input);
      if (format_ === "apple") {
        const summary = await parseAppleHealth((async function* () {
          yield text;
        })(), { source, onObservation, onIssue });
        mergeProfile(summary.profile);
      } else {
        const result = format_ === "fhir" ? parseFhir(text, { source }) : parseDeviceCsv(text, { source, ...(options.timeZone ? { timeZone: options.timeZone } : {}) });
        mergeProfile(result.profile);
        result.issues.forEach(onIssue);
        result.observations.forEach(onObservation);
      }
    }
    inputs.push({ input: source, format: format_, ...current });
  }

  if (options.mqtt) {
    current = { used: 0, skipped: 0 };
    const subscription = await subscribeReadings({
      url: options.mqtt.url,
      patient: options.mqtt.patient,
      clientId: options.mqtt.clientId,
      idleMs: options.mqtt.idleMs,
      collect: false,
      onObservation,
      onIssue,
      ...(options.mqtt.maxReadings ? { maxReadings: options.mqtt.maxReadings } : {}),
    });
    await subscription.done;
    inputs.push({ input: options.mqtt.url, format: "mqtt", ...current });
  }

  observations.sort((a, b) => a.time - b.time);
  return { observations, profile, summary: { used: observations.length, skipped, byCode }, issues, inputs };
}
