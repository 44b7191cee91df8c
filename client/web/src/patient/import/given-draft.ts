import type { InputSource } from "../../../../../protocol/intake/input-source.js";
import { vitalSign } from "../../../../../protocol/intake/vital-signs.js";
import { checkInputValue, ReadingError, type Model, type ModelInput } from "../../../../../protocol/model.js";
import { allowedText, type ReadingDraft } from "../predict/reading-draft.js";

/**
 * The import view's form: the model's inputs no device or record gives (the person must give them, once, for every
 * window), and the optional values used when a window's data has none (an input whose source falls back to the form).
 */
export interface GivenInputs {
  /** Inputs without a source: required. */
  required: ModelInput[];
  /** Inputs with a source that may fall back to a value the person gives: optional. */
  fallbacks: ModelInput[];
  /** Every input with a source, for saying where each value comes from. */
  sourced: ModelInput[];
}

/** Whether a sourced input takes the person's value when its data gives none (windows.ts's rules). */
function fallsBack(source: InputSource): boolean {
  return source.from === "wearable" ? source.gap === "form" : true;
}

export function givenInputs(model: Model): GivenInputs {
  // As windows.ts's inputsBySource (not imported: windows.ts runs in the intake worker, not on the page).
  const inputs = model.inputs ?? [];
  const sourced = inputs.filter((i) => i.source);
  const given = inputs.filter((i) => !i.source);
  return { required: given, fallbacks: sourced.filter((i) => i.source && fallsBack(i.source)), sourced };
}

const AGGREGATE_WORDS: Record<string, string> = { mean: "the mean", min: "the lowest", max: "the highest", last: "the last", std: "the spread (standard deviation)" };

/** Where a sourced input's value comes from, in a person's words. */
export function sourceText(input: ModelInput): string {
  const source = input.source;
  if (!source) return "you give it";
  if (source.from === "profile") return source.field === "age" ? "your age at each window, from the birth date in your file" : "the sex recorded in your file";
  const name = vitalSign(source.code)?.name ?? source.code;
  if (source.from === "lab") return `the latest ${name} in your file, at most ${source.maxAgeDays} days before each window`;
  const how = source.aggregate === "percentile" ? `the ${ordinal(source.percentile ?? 50)} percentile` : (AGGREGATE_WORDS[source.aggregate] ?? source.aggregate);
  return `${how} of your ${name} readings in the ${source.windowHours} h before each window (at least ${source.minReadings} readings)`;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

function parseField(value: string): number | undefined {
  const text = value.trim().replace(",", ".");
  if (text === "") return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : Number.NaN;
}

/**
 * The draft as values: every required input checked (range, whole number, choice), each fallback checked when given.
 * Errors by input name, worded as the reading form words them.
 */
export function readGiven(inputs: GivenInputs, draft: ReadingDraft): { values?: Record<string, number>; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const values: Record<string, number> = {};
  const check = (input: ModelInput, required: boolean) => {
    const value = parseField(draft[input.name] ?? "");
    if (value === undefined) {
      if (required) errors[input.name] = input.kind === "choice" ? "Choose one." : `Enter a value ${allowedText(input)}.`;
      return;
    }
    try {
      values[input.name] = checkInputValue(input, value);
    } catch (err) {
      if (!(err instanceof ReadingError)) throw err;
      errors[input.name] = Number.isNaN(value) ? `Not a number: enter ${allowedText(input)}.` : `Must be ${allowedText(input)}.`;
    }
  };
  for (const input of inputs.required) check(input, true);
  for (const input of inputs.fallbacks) check(input, false);
  return Object.keys(errors).length ? { errors } : { values, errors };
}
