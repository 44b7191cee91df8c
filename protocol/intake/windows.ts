import type { Model, ModelInput, Reading } from "../model.js";
import type { Aggregate, InputSource } from "./input-source.js";
import type { Observation, ProfileFacts } from "./observation.js";

/**
 * Readings to prediction windows (browser-safe): for each window end t (every `stepHours`), each input with a
 * `source` takes its value from the observations before t (wearable series aggregated over its lookback, the latest
 * lab value, the profile), the others from the values the person gave; a window where an input has no value is
 * skipped, with the reason per input. The result is one complete Reading per window, ready for `buildTuple`.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface WindowOptions {
  /** The first window's end and the last one's bound (ms); by default the observations' own span. */
  from?: number;
  to?: number;
  /** Hours between window ends. */
  stepHours: number;
  /** Values of inputs without a source, or fallbacks for `gap: "form"` sources: the person's own entries. */
  given?: Partial<Reading>;
}

export interface PredictionWindow {
  /** The window's end (ms): every value is computed from what was measured before it. */
  end: number;
  /** stepHours before `end`. */
  start: number;
  reading: Reading;
  /** How many readings each wearable input aggregated. */
  counts: Record<string, number>;
}

export interface SkippedWindow {
  end: number;
  /** Per input that had no value: why (e.g. "trestbps: 2 readings of 8480-6 in the 24 h before, 3 needed"). */
  missing: string[];
}

export interface WindowedReadings {
  windows: PredictionWindow[];
  skipped: SkippedWindow[];
}

/** The inputs a model takes from observations or the profile, and those the person must give. */
export function inputsBySource(model: Model): { sourced: ModelInput[]; given: ModelInput[] } {
  const inputs = model.inputs ?? [];
  return { sourced: inputs.filter((i) => i.source), given: inputs.filter((i) => !i.source) };
}

/** Age in whole years on `at` (ms) of someone born on `birthDate` (YYYY-MM-DD), by the UTC calendar. */
export function ageOn(birthDate: string, at: number): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  if (!match) return undefined;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const now = new Date(at);
  let age = now.getUTCFullYear() - y;
  if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d)) age--;
  return age;
}

/** The aggregate of `values` (non-empty; `sorted` is the same values ascending, for percentile). */
export function aggregate(kind: Aggregate, values: readonly number[], percentile?: number): number {
  switch (kind) {
    case "mean":
      return values.reduce((a, b) => a + b, 0) / values.length;
    case "min":
      return Math.min(...values);
    case "max":
      return Math.max(...values);
    case "last":
      return values[values.length - 1]!;
    case "std": {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    }
    case "percentile": {
      // Linear interpolation between closest ranks (the method of NumPy's default and Excel's PERCENTILE.INC).
      const sorted = [...values].sort((a, b) => a - b);
      const rank = ((percentile ?? 50) / 100) * (sorted.length - 1);
      const low = Math.floor(rank);
      const high = Math.ceil(rank);
      return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
    }
  }
}

/** Observations of one code, by time, with a moving lookback [t - window, t). */
class Series {
  private lo = 0;
  private hi = 0;
  constructor(private readonly points: readonly Observation[]) {}

  /** Values measured in [from, to), oldest first; `to` must not decrease between calls. */
  between(from: number, to: number): number[] {
    while (this.hi < this.points.length && this.points[this.hi]!.time < to) this.hi++;
    while (this.lo < this.hi && this.points[this.lo]!.time < from) this.lo++;
    const out: number[] = [];
    for (let i = this.lo; i < this.hi; i++) out.push(this.points[i]!.value);
    return out;
  }

  /** The latest observation before `to`, if any (needs no monotonic calls). */
  latestBefore(to: number): Observation | undefined {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid]!.time < to) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.points[lo - 1] : undefined;
  }
}

function round(value: number, input: ModelInput): number {
  if (input.kind === "integer") return Math.round(value);
  // The form's step, when it has one, is the precision a person would type: a value is not made more exact than that.
  return input.kind === "number" && input.step ? Number((Math.round(value / input.step) * input.step).toFixed(10)) : value;
}

/**
 * The prediction windows of `observations` (any order) for `model`: one Reading per window end, or the reasons it
 * could not be made. Inputs without a source take `options.given`; a missing given value is an error up front (the
 * person must supply it, for every window), named by the input.
 */
export function windowReadings(model: Model, observations: readonly Observation[], profile: ProfileFacts, options: WindowOptions): WindowedReadings {
  if (!(options.stepHours > 0)) throw new RangeError(`stepHours must be positive, not ${options.stepHours}`);
  const inputs = model.inputs;
  if (!inputs) throw new Error(`model ${model.name} does not describe its inputs: it cannot take readings from devices`);
  const given = options.given ?? {};
  const missingGiven = inputs.filter((i) => !i.source && typeof given[i.name] !== "number").map((i) => `${i.name} (${i.label})`);
  if (missingGiven.length) throw new Error(`no value for ${missingGiven.join(", ")}: these inputs come from no device or record, so give them`);

  const byCode = new Map<string, Observation[]>();
  for (const o of observations) {
    let list = byCode.get(o.code);
    if (!list) byCode.set(o.code, (list = []));
    list.push(o);
  }
  for (const list of byCode.values()) list.sort((a, b) => a.time - b.time);
  const labs = new Map<string, Observation[]>(byCode);
  for (const o of Object.values(profile.latest ?? {})) {
    const list = labs.get(o.code) ?? [];
    if (!list.some((x) => x.time === o.time && x.value === o.value)) labs.set(o.code, [...list, o].sort((a, b) => a.time - b.time));
  }
  const series = new Map<string, Series>();
  const seriesOf = (name: string, code: string, pool: Map<string, Observation[]>) => {
    let s = series.get(name);
    if (!s) series.set(name, (s = new Series(pool.get(code) ?? [])));
    return s;
  };

  const step = options.stepHours * HOUR_MS;
  // A loop, not Math.min(...times): an export of a few hundred thousand readings would overflow the call stack.
  let earliest = Infinity;
  let latest = -Infinity;
  for (const o of observations) {
    if (o.time < earliest) earliest = o.time;
    if (o.time > latest) latest = o.time;
  }
  const any = observations.length > 0;
  const first = options.from ?? (any ? Math.ceil(earliest / step) * step + step : undefined);
  const last = options.to ?? (any ? latest + 1 : undefined);
  const out: WindowedReadings = { windows: [], skipped: [] };
  if (first === undefined || last === undefined) return out;

  for (let end = first; end <= last; end += step) {
    const reading: Record<string, number> = {};
    const counts: Record<string, number> = {};
    const missing: string[] = [];
    for (const input of inputs) {
      const source: InputSource | undefined = input.source;
      const fallback = given[input.name];
      if (!source) {
        reading[input.name] = fallback as number;
        continue;
      }
      let value: number | undefined;
      let why = "";
      if (source.from === "wearable") {
        const values = seriesOf(input.name, source.code, byCode).between(end - source.windowHours * HOUR_MS, end);
        counts[input.name] = values.length;
        if (values.length >= source.minReadings) value = aggregate(source.aggregate, values, source.percentile);
        else why = `${values.length} reading(s) of ${source.code} in the ${source.windowHours} h before, ${source.minReadings} needed`;
        if (value === undefined && source.gap === "form" && typeof fallback === "number") value = fallback;
      } else if (source.from === "lab") {
        const latest = seriesOf(input.name, source.code, labs).latestBefore(end);
        if (latest && end - latest.time <= source.maxAgeDays * DAY_MS) value = latest.value;
        else why = latest ? `the latest ${source.code} is older than ${source.maxAgeDays} days` : `no ${source.code} value before this window`;
        if (value === undefined && typeof fallback === "number") value = fallback;
      } else if (source.field === "age") {
        value = profile.birthDate ? ageOn(profile.birthDate, end) : typeof fallback === "number" ? fallback : undefined;
        if (value === undefined) why = "no birth date in the profile";
      } else {
        const label = profile.sex;
        const choice = input.kind === "choice" ? input.choices.find((c) => c.label === label) : undefined;
        value = choice?.value ?? (typeof fallback === "number" ? fallback : undefined);
        if (value === undefined) why = label ? `sex "${label}" is none of ${input.label}'s choices` : "no sex in the profile";
      }
      if (value !== undefined && input.kind !== "choice") {
        value = round(value, input);
        if (value < input.min || value > input.max) {
          why = `${value} ${input.unit} is outside the model's range ${input.min} to ${input.max}`;
          value = undefined;
        }
      }
      if (value === undefined) missing.push(`${input.name}: ${why}`);
      else reading[input.name] = value;
    }
    if (missing.length) out.skipped.push({ end, missing });
    else out.windows.push({ end, start: end - step, reading, counts });
  }
  return out;
}
