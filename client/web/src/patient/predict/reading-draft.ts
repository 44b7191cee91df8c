import { unitLabel } from "../../app/format.js";
import { checkInputValue, displayUnit, featureInput, modelInputs, ReadingError, buildTuple, type Feature, type Model, type ModelInput, type Reading } from "../../../../../protocol/model.js";

/** What the person typed, by input name (strings: an empty field is "", not 0). */
export type ReadingDraft = Record<string, string>;

/** The fields a model's form shows, in order: its declared inputs, or (pmhe-model/1) plain numbers per column. */
export function formInputs(model: Model): ModelInput[] {
  if (model.inputs) return model.inputs;
  return modelInputs(model).map((name) => ({ name, label: name, kind: "number", unit: "1", min: -1e9, max: 1e9 }));
}

export function emptyDraft(model: Model): ReadingDraft {
  return Object.fromEntries(formInputs(model).map((input) => [input.name, ""]));
}

/** The raw value whose transform is the feature's training mean: roughly a typical reading. */
function typicalValue(feature: Feature): number | undefined {
  switch (feature.transform) {
    case "identity":
      return feature.mean;
    case "log":
      return Math.exp(feature.mean);
    case "log1p":
      return Math.expm1(feature.mean);
    case "sqrt":
      return feature.mean ** 2;
    case "exp":
      return feature.mean > 0 ? Math.log(feature.mean) : undefined;
    case "reciprocal":
      return feature.mean !== 0 ? 1 / feature.mean : undefined;
    case "power":
      return Math.sign(feature.mean) * Math.abs(feature.mean) ** (1 / feature.exponent);
    case "one-hot":
      return undefined;
  }
}

/** A value for each field from the training data's averages (a demonstration, not anybody's reading). */
export function exampleDraft(model: Model): ReadingDraft {
  const draft: ReadingDraft = {};
  for (const input of formInputs(model)) {
    const features = model.features.filter((f) => featureInput(f) === input.name);
    if (input.kind === "choice") {
      // One-hot: the most common category (the largest mean of its indicator); coded: the code nearest the mean.
      const oneHot = features.filter((f) => f.transform === "one-hot");
      const common = oneHot.sort((a, b) => b.mean - a.mean)[0];
      const mean = common?.transform === "one-hot" ? common.category : (features.map(typicalValue).find((v) => v !== undefined) ?? input.choices[0]!.value);
      const nearest = input.choices.reduce((best, c) => (Math.abs(c.value - mean) < Math.abs(best.value - mean) ? c : best));
      draft[input.name] = String(nearest.value);
      continue;
    }
    const raw = features.map(typicalValue).find((v) => v !== undefined && Number.isFinite(v)) ?? (input.min + input.max) / 2;
    const step = input.step ?? (input.kind === "integer" ? 1 : undefined);
    const rounded = step ? Math.round(raw / step) * step : Number(raw.toPrecision(3));
    const clamped = Math.min(input.max, Math.max(input.min, rounded));
    draft[input.name] = String(Number(clamped.toFixed(6)));
  }
  return draft;
}

/** A field's allowed values, as its hint says them: "18 to 110 a", "whole number". */
export function fieldHint(input: ModelInput): string {
  if (input.kind === "choice") return "";
  const unit = unitLabel(input.unit, displayUnit);
  return `${input.min} to ${input.max}${unit ? ` ${unit}` : ""}${input.kind === "integer" ? ", whole number" : ""}`;
}

/** What a field accepts, in a person's words (the model's describeAllowed, with everyday units and choice labels). */
export function allowedText(input: ModelInput): string {
  if (input.kind === "choice") return `one of: ${input.choices.map((c) => c.label).join(", ")}`;
  const unit = unitLabel(input.unit, displayUnit);
  const range = `from ${input.min} to ${input.max}${unit ? ` ${unit}` : ""}`;
  return input.kind === "integer" ? `a whole number ${range}` : range;
}

function parseField(value: string): number | undefined {
  const text = value.trim().replace(",", ".");
  if (text === "") return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : Number.NaN;
}

/**
 * The draft as a reading the model accepts, or an error per field (under the field the ReadingError names): each
 * declared input is checked (range, whole number, choice), then the tuple is built, which also refuses readings too
 * far from the training data to encrypt.
 */
export function readDraft(model: Model, draft: ReadingDraft): { reading?: Reading; errors: Record<string, string>; general?: string } {
  const errors: Record<string, string> = {};
  const reading: Record<string, number> = {};
  for (const input of formInputs(model)) {
    const value = parseField(draft[input.name] ?? "");
    if (value === undefined) {
      errors[input.name] = input.kind === "choice" ? "Choose one." : `Enter a value ${allowedText(input)}.`;
      continue;
    }
    try {
      reading[input.name] = model.inputs ? checkInputValue(input, value) : value;
    } catch (err) {
      if (!(err instanceof ReadingError)) throw err;
      errors[err.input ?? input.name] = Number.isNaN(value) ? `Not a number: enter ${allowedText(input)}.` : `Must be ${allowedText(input)}.`;
    }
  }
  if (Object.keys(errors).length > 0) return { errors };
  try {
    buildTuple(model, reading);
  } catch (err) {
    if (!(err instanceof ReadingError)) throw err;
    // A value too far from the training data names its feature, not its input: find the input it comes from.
    const input = err.input ?? model.features.find((f) => err.message.startsWith(`"${f.name}"`))?.input;
    const field = input ?? model.features.find((f) => err.message.startsWith(`"${f.name}"`))?.name;
    if (field && formInputs(model).some((i) => i.name === field)) return { errors: { [field]: err.message } };
    return { errors, general: err.message };
  }
  return { reading, errors };
}
