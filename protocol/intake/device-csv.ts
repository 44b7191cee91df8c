import Papa from "papaparse";
import { DuplicateFilter } from "./dedupe.js";
import { IntakeFormatError } from "./errors.js";
import type { IntakeIssue, IntakeResult, Observation } from "./observation.js";
import { isIssue, takeIn } from "./take-in.js";
import { fractionMillis, isTimeZone, utcMillis, type WallTime, zonedTimeToEpoch } from "./time.js";
import { vitalSign } from "./vital-signs.js";

/**
 * A wearable's or a device's CSV export in: one reading a row. Browser-safe (papaparse: about ten times csv-parse's speed on device exports, which are mostly rows of four short cells).
 *
 * - A header row names the columns timestamp, metric, value and unit, in any order and any case; other columns are
 *   ignored, a missing one throws IntakeFormatError. Blank lines are skipped; a line starting with `#` is a comment.
 *   A row with fewer or more cells than the header is malformed (more cells is most often a decimal comma).
 * - metric: a LOINC code of VITAL_SIGNS, or a name of METRIC_ALIASES (any case; "-" and spaces read as "_").
 * - value: a decimal number with a point; unit: as the device writes it, converted by takeIn (take-in.ts).
 * - timestamp, one of:
 *     ISO 8601 with Z or an offset (+01:00, +0100, +01), "T" or a space between date and time, seconds optional:
 *       exact;
 *     ISO 8601 without a zone: the wall-clock time in `options.timeZone` (IANA, DST as the zone has it); a time that
 *       zone's clocks skip or show twice is refused, and without `timeZone` every such row is refused (never guessed);
 *     Unix epoch time as a plain integer: exactly 10 digits are seconds, exactly 13 digits milliseconds (both cover
 *       2001-09-09 to 2286-11-20); any other digit count is refused as ambiguous.
 *   A date without a time of day is refused.
 * Every refused row is an IntakeIssue with origin `<source>:<line>`; rows may come in any order (observations come
 * out sorted by time) and the same measurement twice is one observation and `duplicate` issues.
 */

export interface DeviceCsvOptions {
  /** Names the input in messages and origins: a file name, "upload", ... */
  source: string;
  /** IANA time zone for timestamps written without Z or an offset, e.g. "Europe/Berlin". */
  timeZone?: string;
}

/** Metric names devices write, to LOINC codes. Keys are lower case with "_" between words. */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  heart_rate: "8867-4",
  resting_heart_rate: "40443-4",
  systolic: "8480-6",
  diastolic: "8462-4",
  spo2: "59408-5",
  temperature: "8310-5",
  glucose: "2339-0",
  cholesterol: "2093-3",
};

const COLUMNS = ["timestamp", "metric", "value", "unit"] as const;
type Column = (typeof COLUMNS)[number];

/** The LOINC code a metric cell names, or undefined. */
export function metricCode(metric: string): string | undefined {
  const trimmed = metric.trim();
  if (vitalSign(trimmed)) return trimmed;
  const alias = trimmed.toLowerCase().replace(/[\s-]+/g, "_");
  return Object.hasOwn(METRIC_ALIASES, alias) ? METRIC_ALIASES[alias] : undefined;
}

/** Parses a device CSV export into observations and the issues of the rows not used. */
export function parseDeviceCsv(text: string, options: DeviceCsvOptions): IntakeResult {
  const { source, timeZone } = options;
  if (timeZone !== undefined && !isTimeZone(timeZone)) throw new IntakeFormatError(source, `time zone "${timeZone}" is not an IANA time zone`);

  const rows: { cells: string[]; line: number }[] = [];
  // Line numbers from the parser's cursor: newlines are counted once, up to the end of each row.
  let scanned = 0;
  let newlines = 0;
  const lineOfRowEndingAt = (cursor: number) => {
    let end = cursor;
    while (end > 0 && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
    for (; scanned < end; scanned++) if (text.charCodeAt(scanned) === 10) newlines++;
    return newlines + 1;
  };
  const errors: string[] = [];
  Papa.parse<string[]>(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, {
    comments: "#",
    skipEmptyLines: true,
    step: (result) => {
      if (result.errors.length) errors.push(...result.errors.filter((e) => e.type === "Quotes").map((e) => `${e.message} near line ${lineOfRowEndingAt(result.meta.cursor)}`));
      const cells = result.data.map((c) => c.trim());
      const line = lineOfRowEndingAt(result.meta.cursor);
      if (!cells.every((c) => c === "")) rows.push({ cells, line }); // a line of blanks is blank
    },
  });
  if (errors.length) throw new IntakeFormatError(source, `is not readable as CSV (${errors[0]})`);

  const header = rows.shift();
  if (!header) throw new IntakeFormatError(source, `has no header row (columns ${COLUMNS.join(", ")})`);
  const names = header.cells.map((c) => c.toLowerCase());
  const missing = COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new IntakeFormatError(source, `header lacks column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (header: ${header.cells.join(", ")})`);
  }
  const twice = COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (twice.length > 0) throw new IntakeFormatError(source, `header names column${twice.length > 1 ? "s" : ""} ${twice.join(", ")} twice`);
  const at = Object.fromEntries(COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<Column, number>;

  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  const duplicates = new DuplicateFilter();
  const refuse = (reason: IntakeIssue["reason"], origin: string, message: string) => issues.push({ reason, origin, message: `${origin}: ${message}` });

  for (const { cells, line } of rows) {
    const origin = `${source}:${line}`;
    if (cells.length !== names.length) {
      refuse("malformed", origin, `has ${cells.length} cell${cells.length === 1 ? "" : "s"}, the header has ${names.length}`);
      continue;
    }
    const cell = (c: Column) => cells[at[c]]!;
    const metric = cell("metric");
    const code = metricCode(metric);
    if (code === undefined) {
      refuse("unknown_code", origin, `metric "${metric}" is not one PMHE takes in`);
      continue;
    }
    const time = deviceTimestamp(cell("timestamp"), timeZone);
    if (typeof time === "string") {
      refuse("malformed", origin, time);
      continue;
    }
    const valueText = cell("value");
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(valueText)) {
      refuse("malformed", origin, `${vitalSign(code)!.name} value "${valueText}" is not a number`);
      continue;
    }
    const unit = cell("unit");
    if (unit === "") {
      refuse("malformed", origin, `${vitalSign(code)!.name} ${valueText} has no unit`);
      continue;
    }
    const taken = takeIn({ code, value: Number(valueText), unit, time, origin });
    const issue = isIssue(taken) ? taken : duplicates.check(taken);
    if (issue) issues.push(issue);
    else observations.push(taken as Observation);
  }
  observations.sort((a, b) => a.time - b.time);
  return { observations, profile: {}, issues };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)? ?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A device timestamp (see the rules above) as milliseconds since the epoch, or a sentence saying why it is refused.
 * `timeZone` must be one Intl knows (parseDeviceCsv checks it once).
 */
export function deviceTimestamp(text: string, timeZone: string | undefined): number | string {
  if (/^\d+$/.test(text)) {
    if (text.length === 10) return Number(text) * 1000;
    if (text.length === 13) return Number(text);
    return `timestamp "${text}" is an integer of ${text.length} digits: Unix time must be 10 digits (seconds) or 13 (milliseconds)`;
  }
  const m = ISO.exec(text);
  if (!m) return `timestamp "${text}" is neither ISO 8601 (e.g. 2024-03-15T08:30:00+01:00) nor Unix time in seconds or milliseconds`;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  if (h === undefined) return `timestamp "${text}" has no time of day`;
  const wall: WallTime = { year: +y!, month: +mo!, day: +d!, hour: +h, minute: +mi!, second: s ? +s : 0, millisecond: fractionMillis(fraction) };
  if (zone !== undefined) {
    const utc = utcMillis(wall);
    if (utc === undefined) return `timestamp "${text}" is not a date and time of the calendar`;
    if (zone.toUpperCase() === "Z") return utc;
    const digits = zone.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (hours > 14 || minutes > 59 || (hours === 14 && minutes > 0)) return `timestamp "${text}" has an offset beyond ±14:00`;
    return utc - (zone.startsWith("-") ? -1 : 1) * (hours * 60 + minutes) * 60_000;
  }
  if (timeZone === undefined) {
    return `timestamp "${text}" has no time zone: write it with Z or an offset, or give the file's time zone (e.g. Europe/Berlin)`;
  }
  const zoned = zonedTimeToEpoch(wall, timeZone);
  if ("time" in zoned) return zoned.time;
  if (zoned.refused === "invalid") return `timestamp "${text}" is not a date and time of the calendar`;
  return zoned.refused === "skipped"
    ? `timestamp "${text}" does not exist in ${timeZone} (clocks skip it when daylight saving time starts): write it with an offset`
    : `timestamp "${text}" happens twice in ${timeZone} (clocks repeat it when daylight saving time ends): write it with an offset`;
}
