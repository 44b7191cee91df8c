/**
 * Input metadata of a data set: how a person enters each column (label, UCUM unit, kind, plausible range or
 * labelled choices), kept in a file next to the CSV (`data/<name>.inputs.json`) and written from the data set's
 * documentation. The trainer embeds the entries of the columns a model reads as the model's `inputs`, in the
 * file's order, and refuses training rows outside a declared range.
 */
import { z } from "zod";
import { checkInputValue, ModelInputSchema, ReadingError, type ModelInput } from "../protocol/model.js";
import { DatasetError } from "./csv.js";
import type { Dataset } from "./dataset.js";
import type { FeatureDraft } from "./features.js";

export const INPUTS_FILE_FORMAT = "pmhe-inputs/1";

export const InputsFileSchema = z
  .strictObject({
    format: z.literal(INPUTS_FILE_FORMAT),
    /** The CSV the file describes, relative to the file. */
    dataset: z.string().min(1),
    /** Where the labels, units, codes and ranges come from. */
    source: z.string().min(1),
    /** One entry per column a patient could provide (not the target), in the order a form shows them. */
    inputs: z.array(ModelInputSchema).min(1),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.inputs.forEach((input, k) => {
      if (seen.has(input.name)) ctx.addIssue({ code: "custom", path: ["inputs", k, "name"], message: `"${input.name}" is described twice` });
      seen.add(input.name);
    });
  });
export type InputsFile = z.infer<typeof InputsFileSchema>;

/** Input metadata from the text of an inputs file; `where` names it in errors. */
export function parseInputsFile(text: string, where: string): InputsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(`${where} is not JSON: ${(err as Error).message}`);
  }
  const result = InputsFileSchema.safeParse(json);
  if (!result.success) throw new DatasetError(`${where} is not a ${INPUTS_FILE_FORMAT} file: ${z.prettifyError(result.error)}`);
  return result.data;
}

/**
 * The entries a model embeds: those of the columns its features read, in the metadata's order. Every described
 * column must be in the data (and not the target), and every column the features read must be described.
 */
export function selectInputs(metadata: readonly ModelInput[], dataset: Pick<Dataset, "columns" | "target">, drafts: readonly FeatureDraft[]): ModelInput[] {
  for (const input of metadata) {
    if (input.name === dataset.target) throw new DatasetError(`the input metadata describes "${input.name}", the target column`, { column: input.name });
    if (!dataset.columns.includes(input.name)) {
      throw new DatasetError(`the input metadata describes "${input.name}", which is not a column of the data (${dataset.columns.join(", ")})`, { column: input.name });
    }
  }
  const used = new Set(drafts.map((d) => d.input ?? d.name));
  const described = new Set(metadata.map((input) => input.name));
  const missing = [...used].filter((column) => !described.has(column));
  if (missing.length > 0) {
    throw new DatasetError(`the input metadata has no entry for ${missing.map((c) => `"${c}"`).join(", ")}`, { column: missing[0] });
  }
  return metadata.filter((input) => used.has(input.name));
}

/** Every row's value of every described input lies in its range or choices; else a DatasetError naming row and input. */
export function checkRows(dataset: Dataset, inputs: readonly ModelInput[]): void {
  const columns = inputs.map((input) => dataset.columns.indexOf(input.name));
  dataset.rows.forEach((row, i) => {
    inputs.forEach((input, k) => {
      try {
        checkInputValue(input, row[columns[k]!]);
      } catch (err) {
        if (err instanceof ReadingError) throw new DatasetError(`row ${i + 1}: ${err.message}`, { row: i + 1, column: input.name });
        throw err;
      }
    });
  });
}
