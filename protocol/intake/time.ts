/**
 * Calendar arithmetic the input parsers share: a wall-clock time read as UTC or with a fixed offset, and a wall-clock
 * time in an IANA time zone (through Intl, so daylight saving time is the zone's own). Nothing here guesses: an
 * invalid date, a local time a DST change skips, and one it repeats are refused. Browser-safe.
 */

/** A date and time of day as written, without a zone. */
export interface WallTime {
  year: number;
  /** 1-12. */
  month: number;
  /** 1-31. */
  day: number;
  /** 0-23. */
  hour: number;
  minute: number;
  /** 0-60 (60: a leap second, counted as the next minute's first second). */
  second: number;
  millisecond: number;
}

/** Milliseconds since the epoch of `w` read as UTC, or undefined when it is no date or time of the calendar. */
export function utcMillis(w: WallTime): number | undefined {
  const { year, month, day, hour, minute, second, millisecond } = w;
  const whole = [year, month, day, hour, minute, second, millisecond].every(Number.isInteger);
  if (!whole || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60 || millisecond > 999) return undefined;
  if (hour < 0 || minute < 0 || second < 0 || millisecond < 0) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined; // 31 April
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + millisecond;
}

/** Milliseconds of a fraction of a second written as digits after the point ("5" is 500, "123456" is 123). */
export function fractionMillis(digits: string | undefined): number {
  return digits ? Math.floor(Number(`0.${digits}`) * 1000 + 1e-9) : 0;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let made = formatters.get(timeZone);
  if (!made) {
    made = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, made);
  }
  return made;
}

/** Whether Intl knows `timeZone` (an IANA name such as "Europe/Berlin", or "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at instant `t`, in milliseconds (east positive), to the second. */
function offsetAt(timeZone: string, t: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(t)) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const wall = utcMillis({ year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second!, millisecond: 0 });
  return wall! - Math.floor(t / 1000) * 1000;
}

export type ZonedTime = { time: number } | { refused: "invalid" | "skipped" | "repeated" };

/**
 * The instant at which clocks in `timeZone` show `w`. Refused when `w` is no calendar time, when the zone's clocks skip
 * it (a spring-forward gap) or show it twice (the repeated hour of a fall-back): which one was meant cannot be told.
 */
export function zonedTimeToEpoch(w: WallTime, timeZone: string): ZonedTime {
  const wall = utcMillis(w);
  if (wall === undefined) return { refused: "invalid" };
  const DAY = 86_400_000;
  // The offsets a day before and a day after: every zone changes its offset at most once within two days, so the
  // instant is wall minus one of them, and it is that one exactly when the zone has that offset at that instant.
  const offsets = new Set([offsetAt(timeZone, wall - DAY), offsetAt(timeZone, wall + DAY)]);
  const instants = [...offsets].map((o) => wall - o).filter((t) => wall - offsetAt(timeZone, t) === t);
  if (instants.length === 1) return { time: instants[0]! };
  return { refused: instants.length === 0 ? "skipped" : "repeated" };
}
