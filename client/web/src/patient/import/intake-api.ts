import type { IntakeIssue, IntakeIssueReason, ProfileFacts } from "../../../../../protocol/intake/observation.js";
import type { PredictionWindow, SkippedWindow } from "../../../../../protocol/intake/windows.js";
import type { Model, Reading } from "../../../../../protocol/model.js";

/**
 * The intake worker (src/worker/intake.worker.ts) as the page sees it, over comlink: a file of readings read and kept
 * off the page's thread (an Apple Health export is hundreds of megabytes, streamed), and the prediction windows made
 * from it there. Only counts, a few messages and the windows' readings come back to the page. Every argument and
 * answer is structured-clonable.
 */

export type IntakeFormat = "fhir" | "apple-health" | "device-csv";

export const FORMAT_NAMES: Record<IntakeFormat, string> = {
  "fhir": "FHIR R4 (JSON)",
  "apple-health": "Apple Health export (XML)",
  "device-csv": "device CSV",
};

/** What a file gave: counts per measurement and per reason, the first messages of each reason, the profile, the span. */
export interface ParsedFile {
  name: string;
  bytes: number;
  format: IntakeFormat;
  /** Readings used, in total and per LOINC code. */
  used: number;
  byCode: Record<string, number>;
  /** Readings not used, per reason. */
  skipped: Partial<Record<IntakeIssueReason, number>>;
  /** The first few issues of each reason, in file order (each message names the reading). */
  examples: IntakeIssue[];
  /** Apple Health: record types PMHE does not take in, by type (the largest first, at most 8). */
  unknownTypes?: Array<[string, number]>;
  profile: ProfileFacts;
  /** First and last measurement, ms since the epoch. */
  first?: number;
  last?: number;
  /** Device CSV: the time zone timestamps written without Z or an offset were read in. */
  timeZone?: string;
  /** Time the worker took, ms. */
  ms: number;
}

export interface WindowRequest {
  model: Model;
  stepHours: number;
  /** The person's values: every input without a source, and any fallbacks they gave. */
  given: Partial<Reading>;
}

export interface WindowAnswer {
  /** Complete readings, one per window end, in time order. */
  windows: PredictionWindow[];
  /** Windows not made, and the first few of them with their reasons. */
  skipped: number;
  skippedExamples: SkippedWindow[];
  /** How many skipped windows lacked each input. */
  missingByInput: Record<string, number>;
  ms: number;
}

export interface IntakeWorkerApi {
  /**
   * Reads `file` (its format from its name, else its first character), keeps its observations in the worker for
   * `windows`, and answers the counts. `timeZone` reads CSV timestamps written without a zone; `onProgress` (a
   * comlink proxy) hears the bytes read so far. Throws IntakeFormatError when the file cannot be read at all.
   */
  parse(file: File, timeZone: string | undefined, onProgress?: (read: number) => void): Promise<ParsedFile>;
  /** The prediction windows of the last file parsed, for `model`. */
  windows(request: WindowRequest): Promise<WindowAnswer>;
  /** Drops what the worker keeps of the last file. */
  forget(): Promise<void>;
}

/** What the worker posts once it listens (its modules await at the top level, like the FHE worker's). */
export const INTAKE_WORKER_READY = "pmhe-intake-worker-ready";

/** Issues kept per reason for the summary. */
export const EXAMPLES_PER_REASON = 3;
