import { readFile } from "node:fs/promises";
import { Option } from "commander";
import { z } from "zod";
import type { Hash } from "../../protocol/hash.js";
import { parseModelBytes, ReadingError, type Model, type Reading } from "../../protocol/model.js";
import { modelRef, type ModelRef } from "../model-ref.js";
import { defaultPublisher, SettingsError } from "./cli-settings.js";

/** What the patient CLI's commands share: output, common options, reading and model files. */

export const DEFAULT_KEYS = ".pmhe/keys";

/** Prints a result: one JSON document with --json, lines for a person otherwise. */
export function output(json: boolean | undefined, document: unknown, lines: string[]): void {
  console.log(json ? JSON.stringify(document, null, 2) : lines.join("\n"));
}

export const keysOption = () => new Option("--keys <dir>", "key directory (the secret key never leaves it)").default(DEFAULT_KEYS);
export const jsonOption = () => new Option("--json", "print one JSON document");

const ReadingSchema = z.record(z.string(), z.number().finite());
const ReadingsSchema = z.union([ReadingSchema, z.array(ReadingSchema).min(1)]);

export async function readReadings(file: string): Promise<Reading | Reading[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new ReadingError(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const parsed = ReadingsSchema.safeParse(value);
  if (!parsed.success) throw new ReadingError(`${file} must hold an object of numbers keyed by feature name, or an array of such objects:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The model as the patient names it: the file, plus its id (given) or its publisher (given, or PMHE_MODEL_PUBLISHER). */
export async function modelOf(opts: { model: string; publisher?: string; modelId?: Hash }): Promise<ModelRef> {
  const model: Model = parseModelBytes(await readFile(opts.model));
  if (opts.modelId) return { model, id: opts.modelId };
  const publisher = opts.publisher ?? defaultPublisher();
  if (!publisher) throw new SettingsError("name the model's publisher: --publisher <address> or PMHE_MODEL_PUBLISHER (or give --model-id)");
  return modelRef(model, publisher);
}
