import { SaxesParser, type SaxesTagPlain } from "saxes";
import { DuplicateFilter } from "./dedupe.js";
import { IntakeFormatError } from "./errors.js";
import type { IntakeIssue, IntakeIssueReason, IntakeResult, IntakeSummary, Observation, ProfileFacts } from "./observation.js";
import { isIssue, takeIn } from "./take-in.js";

/**
 * Apple Health's export (`export.xml` in the zip the Health app writes), read as a stream: the caller feeds text in
 * chunks of any size, cut anywhere, and gets each measurement as it is read. Browser-safe (it runs in a Web Worker on
 * a File's stream); memory stays flat whatever the size of the export, since nothing is kept per record but the keys
 * of blood-pressure readings (see below) and a count per record type.
 *
 * What is read:
 * - `<Record type=… unit=… value=… startDate=…>` of the types in APPLE_TYPES, each passed through takeIn (the unit
 *   conversion and the plausible range are take-in.ts's). The time is `startDate`, `2024-03-05 08:15:00 -0500`.
 *   Oxygen saturation is written by Apple as a fraction with unit "%" (value="0.97" is 97 %): it is multiplied by
 *   100 here, so 1.2 is 120 % and refused as impossible. Glucose may be in mg/dL or in Apple's molar spelling
 *   `mmol<180.1558800000541>/L` (converted by take-in.ts).
 * - Blood pressure sits in `<Correlation type="HKCorrelationTypeIdentifierBloodPressure">` as nested Records and is
 *   often written top-level as well: a systolic or diastolic reading with the code, time and value of one already
 *   taken (dedupe.ts's key) is counted as `duplicate` and not emitted again, nor reported one by one (it is how Apple
 *   writes the export, not a fault of the reading). Only blood pressure is checked: the keys seen are kept for the
 *   whole file (a few a day of readings), so minute-resolution heart rate costs no memory.
 * - `<Me HKCharacteristicTypeIdentifierDateOfBirth=… HKCharacteristicTypeIdentifierBiologicalSex=…>`: the profile.
 * - `<ExportDate value=…>`: when the export was made.
 *
 * What is counted without an object per reading: Records of every other type (step counts, energy, sleep, … a real
 * export has dozens) are `unknown_code`, counted per Apple type in `unknownTypes`; duplicates are counted in
 * `skipped.duplicate`. An IntakeIssue is emitted only for a reading of a type PMHE takes in that cannot be used:
 * a value or date that does not parse, a unit that does not convert, an impossible value; its origin is
 * `<source>:<line>`. XML that is not well-formed, bytes that are not UTF-8, or a document that is not a HealthData
 * export throw AppleHealthFormatError (an IntakeFormatError) naming the source and line.
 *
 * API:
 * - `createAppleHealthParser({ source, onObservation, onIssue })` → `{ write(text), close() }`: write text chunks in
 *   order, then close() for the summary. Callbacks run synchronously inside write().
 * - `parseAppleHealth(chunks, options)`: the same over an async iterable (or a ReadableStream, e.g. `file.stream()`)
 *   of strings or bytes; bytes are decoded as UTF-8 by a streaming TextDecoder.
 * - `parseAppleHealthText(text, { source })`: the whole result collected in memory, for small files and tests.
 */

/** Apple Health quantity types PMHE takes in, to LOINC. */
export const APPLE_TYPES: Readonly<Record<string, string>> = {
  HKQuantityTypeIdentifierHeartRate: "8867-4",
  HKQuantityTypeIdentifierRestingHeartRate: "40443-4",
  HKQuantityTypeIdentifierBloodPressureSystolic: "8480-6",
  HKQuantityTypeIdentifierBloodPressureDiastolic: "8462-4",
  HKQuantityTypeIdentifierOxygenSaturation: "59408-5",
  HKQuantityTypeIdentifierBodyTemperature: "8310-5",
  HKQuantityTypeIdentifierBloodGlucose: "2339-0",
};

const CODES = new Map<string, string>(Object.entries(APPLE_TYPES));
/** Codes that Apple writes both inside a blood-pressure Correlation and top-level: deduplicated. */
const DEDUPLICATED = new Set(["8480-6", "8462-4"]);
const OXYGEN_SATURATION = "59408-5";

const SEXES: Readonly<Record<string, ProfileFacts["sex"]>> = {
  HKBiologicalSexMale: "male",
  HKBiologicalSexFemale: "female",
  HKBiologicalSexOther: "other",
};
const SEX_NOT_SET = "HKBiologicalSexNotSet";

/**
 * The input is not an Apple Health export that can be read: XML not well-formed, bytes not UTF-8, another root. An
 * IntakeFormatError (errors.ts) that also gives the line; the message reads `export.xml: line 12: …`.
 */
export class AppleHealthFormatError extends IntakeFormatError {
  constructor(
    source: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(source, `line ${line}: not a readable Apple Health export: ${detail}`);
  }
}

export interface AppleHealthOptions {
  /** Name of the input, for origins and errors: "export.xml". */
  source: string;
  /** Each measurement taken in, in document order. */
  onObservation?: (observation: Observation) => void;
  /** Each reading of a type PMHE takes in that was refused (malformed, wrong_unit, impossible_value). */
  onIssue?: (issue: IntakeIssue) => void;
}

/** Counts for the whole export, kept whatever the callbacks do with the data. */
export interface AppleHealthSummary extends IntakeSummary {
  /** Record elements read, of every type, nested in Correlations or not. */
  records: number;
  /** Records of types PMHE does not take in, by Apple type (their total is `skipped.unknown_code`). */
  unknownTypes: Record<string, number>;
  profile: ProfileFacts;
  /** When the export was made (ExportDate), ms since the epoch, if given and valid. */
  exportDate?: number;
}

export interface AppleHealthParser {
  /** Feeds the next piece of the document (cut anywhere). Throws AppleHealthFormatError on XML not well-formed. */
  write(chunk: string): void;
  /** Ends the document (throws if it is incomplete) and returns the counts. */
  close(): AppleHealthSummary;
  /** The line the parser has reached (1-based). */
  readonly line: number;
}

export function createAppleHealthParser(options: AppleHealthOptions): AppleHealthParser {
  const { source, onObservation, onIssue } = options;
  const parser = new SaxesParser({ xmlns: false, position: true });
  const skipped: Partial<Record<IntakeIssueReason, number>> = {};
  const byCode: Record<string, number> = {};
  const unknown = new Map<string, number>();
  const duplicateFilter = new DuplicateFilter();
  const profile: ProfileFacts = {};
  let exportDate: number | undefined;
  let records = 0;
  let used = 0;
  let unknownCount = 0;
  let duplicates = 0;
  let rootSeen = false;
  let failure: Error | undefined;
  let closed = false;

  const fail = (detail: string): never => {
    failure = new AppleHealthFormatError(source, parser.line, detail);
    throw failure;
  };
  const issue = (reason: IntakeIssueReason, origin: string, message: string) => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
    onIssue?.({ reason, origin, message });
  };

  const record = (attributes: Record<string, string>) => {
    records++;
    const type = attributes.type;
    const code = type === undefined ? undefined : CODES.get(type);
    if (code === undefined) {
      if (type === undefined) return issue("malformed", `${source}:${parser.line}`, `${source}:${parser.line}: Record without a type`);
      unknown.set(type, (unknown.get(type) ?? 0) + 1);
      unknownCount++;
      return;
    }
    const origin = `${source}:${parser.line}`;
    const text = attributes.value;
    let value = parseDecimal(text);
    if (Number.isNaN(value)) return issue("malformed", origin, `${origin}: ${type} value ${quote(text)} is not a number`);
    const time = parseAppleHealthDate(attributes.startDate);
    if (Number.isNaN(time)) return issue("malformed", origin, `${origin}: ${type} startDate ${quote(attributes.startDate)} is not a date like 2024-03-05 08:15:00 -0500`);
    const unit = attributes.unit ?? "";
    // HealthKit's percent is a fraction: 0.97 "%" is 97 %.
    if (code === OXYGEN_SATURATION && unit.trim() === "%") value = Number((value * 100).toPrecision(12));
    const taken = takeIn({ code, value, unit, time, origin });
    if (isIssue(taken)) return issue(taken.reason, origin, taken.message);
    if (DEDUPLICATED.has(code) && duplicateFilter.check(taken) !== undefined) {
      duplicates++;
      return;
    }
    used++;
    byCode[code] = (byCode[code] ?? 0) + 1;
    onObservation?.(taken);
  };

  const me = (attributes: Record<string, string>) => {
    const origin = `${source}:${parser.line}`;
    const birth = attributes.HKCharacteristicTypeIdentifierDateOfBirth;
    if (birth !== undefined && birth !== "") {
      if (isCalendarDate(birth)) profile.birthDate = birth;
      else issue("malformed", origin, `${origin}: date of birth ${quote(birth)} is not a date like 1970-01-31`);
    }
    const sex = attributes.HKCharacteristicTypeIdentifierBiologicalSex;
    if (sex !== undefined && sex !== "" && sex !== SEX_NOT_SET) {
      const known = Object.hasOwn(SEXES, sex) ? SEXES[sex] : undefined;
      if (known) profile.sex = known;
      else issue("malformed", origin, `${origin}: biological sex ${quote(sex)} is not one Apple Health writes`);
    }
  };

  parser.on("opentag", (tag: SaxesTagPlain) => {
    const name = tag.name;
    if (name === "Record" && rootSeen) return record(tag.attributes);
    if (!rootSeen) {
      if (name !== "HealthData") fail(`the root element is <${name}>, an Apple Health export's is <HealthData>`);
      rootSeen = true;
      return;
    }
    if (name === "Me") me(tag.attributes);
    else if (name === "ExportDate") {
      const date = parseAppleHealthDate(tag.attributes.value);
      if (!Number.isNaN(date)) exportDate = date;
    }
  });
  parser.on("error", (error: Error) => {
    // saxes writes "line:column: message"; AppleHealthFormatError gives the line itself.
    fail(error.message.replace(/^\d+:\d+: /, ""));
  });

  const check = () => {
    if (failure) throw failure;
    if (closed) throw new Error(`${source}: the Apple Health parser is closed`);
  };

  return {
    write(chunk: string) {
      check();
      parser.write(chunk);
    },
    close(): AppleHealthSummary {
      check();
      parser.close(); // saxes refuses a document without a root element
      closed = true;
      if (unknownCount > 0) skipped.unknown_code = (skipped.unknown_code ?? 0) + unknownCount;
      if (duplicates > 0) skipped.duplicate = (skipped.duplicate ?? 0) + duplicates;
      const unknownTypes: Record<string, number> = {};
      for (const [type, count] of [...unknown].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) unknownTypes[type] = count;
      return { used, skipped, byCode, records, unknownTypes, profile, ...(exportDate === undefined ? {} : { exportDate }) };
    },
    get line() {
      return parser.line;
    },
  };
}

export interface AppleHealthStreamOptions extends AppleHealthOptions {
  /** Called after each chunk with the bytes (or characters, for string chunks) read so far. */
  onProgress?: (read: number) => void;
}

/** Parses an export given as chunks of bytes (UTF-8) or text: an async iterable, or a ReadableStream such as `file.stream()`. */
export async function parseAppleHealth(
  chunks: AsyncIterable<string | Uint8Array> | ReadableStream<Uint8Array | string>,
  options: AppleHealthStreamOptions,
): Promise<AppleHealthSummary> {
  const parser = createAppleHealthParser(options);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let read = 0;
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
    } catch {
      throw new AppleHealthFormatError(options.source, parser.line, "the bytes are not UTF-8");
    }
  };
  for await (const chunk of iterate(chunks)) {
    if (typeof chunk === "string") {
      const pending = decode();
      if (pending) parser.write(pending);
      parser.write(chunk);
      read += chunk.length;
    } else {
      const text = decode(chunk);
      if (text) parser.write(text);
      read += chunk.byteLength;
    }
    options.onProgress?.(read);
  }
  const rest = decode();
  if (rest) parser.write(rest);
  return parser.close();
}

async function* iterate<T>(chunks: AsyncIterable<T> | ReadableStream<T>): AsyncGenerator<T> {
  if (Symbol.asyncIterator in chunks) {
    yield* chunks as AsyncIterable<T>;
    return;
  }
  const reader = (chunks as ReadableStream<T>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** The whole result of a (small) export held in memory, with the summary's counts. */
export interface AppleHealthResult extends IntakeResult {
  summary: AppleHealthSummary;
}

export function parseAppleHealthText(text: string, options: { source: string }): AppleHealthResult {
  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  const parser = createAppleHealthParser({ source: options.source, onObservation: (o) => observations.push(o), onIssue: (i) => issues.push(i) });
  parser.write(text);
  const summary = parser.close();
  return { observations, issues, profile: summary.profile, summary };
}

/**
 * Apple Health's date `YYYY-MM-DD HH:MM:SS ±HHMM` to milliseconds since the epoch (UTC), or NaN if it is not exactly
 * that or not a real date. Computed from the fields (no Date.parse, whose reading of this form is not specified).
 */
export function parseAppleHealthDate(text: string | undefined): number {
  if (text === undefined || text.length !== 25) return NaN;
  if (
    text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32 || text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 32
  ) return NaN;
  const sign = text.charCodeAt(20);
  if (sign !== 43 && sign !== 45) return NaN;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const offsetHours = digits(text, 21, 2);
  const offsetMinutes = digits(text, 23, 2);
  // A failed field is -1, which every lower bound below refuses.
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  if (offsetHours < 0 || offsetHours > 14 || offsetMinutes < 0 || offsetMinutes > 59) return NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * (sign === 45 ? -1 : 1);
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - offset) * 60_000 + second * 1000;
}

/** A calendar date YYYY-MM-DD that exists. */
function isCalendarDate(text: string): boolean {
  if (text.length !== 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  return year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** The decimal number of `count` ASCII digits at `at`, or -1. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * A decimal number as Apple writes it (`72`, `0.97`, `-1.5`, `1e-3`), or NaN for anything else: empty, spaces, hex,
 * `Infinity`, trailing text, or a number too large to be finite.
 */
export function parseDecimal(text: string | undefined): number {
  if (text === undefined) return NaN;
  const n = text.length;
  let i = 0;
  let c = text.charCodeAt(0);
  if (c === 43 || c === 45) c = text.charCodeAt(++i);
  let mantissa = 0;
  while (c >= 48 && c <= 57) {
    mantissa++;
    c = text.charCodeAt(++i);
  }
  if (c === 46) {
    c = text.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      mantissa++;
      c = text.charCodeAt(++i);
    }
  }
  if (mantissa === 0) return NaN;
  if (c === 101 || c === 69) {
    c = text.charCodeAt(++i);
    if (c === 43 || c === 45) c = text.charCodeAt(++i);
    let exponent = 0;
    while (c >= 48 && c <= 57) {
      exponent++;
      c = text.charCodeAt(++i);
    }
    if (exponent === 0) return NaN;
  }
  if (i !== n) return NaN;
  const value = Number(text);
  return Number.isFinite(value) ? value : NaN;
}

const quote = (text: string | undefined) => (text === undefined ? "(missing)" : JSON.stringify(text));
