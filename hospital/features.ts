/**
 * From data-set columns to the model's round-0 tuple: which columns go in, in which order, through which client
 * transforms. Each transform of a column is one tuple entry; a one-hot column gives one entry per category.
 * The raw values are computed with the protocol's own `transformReading`, so training sees exactly what the
 * patient's client will compute.
 */
import { MAX_TUPLE_VALUES } from "../protocol/fhe/layouts.js";
import { ReadingError, transformReading, type Feature } from "../protocol/model.js";
import { DatasetError } from "./csv.js";
import { readingFromRow, type Dataset } from "./dataset.js";

/** Transforms as written on the command line: the format's simple transforms, and power2 / power3 for x^2, x^3. */
export const TRANSFORM_NAMES = ["identity", "log", "log1p", "sqrt", "exp", "reciprocal", "power2", "power3"] as const;
export type TransformName = (typeof TRANSFORM_NAMES)[number];

export interface FeatureSpec {
  /** Input columns in tuple order; default every column except the target, in file order. */
  columns?: readonly string[];
  /** Per column, its transforms in tuple order, one entry each; a column not listed is ["identity"]. */
  transforms?: Readonly<Record<string, readonly TransformName[]>>;
  /** Per categorical column, its categories: one entry per category, in the listed order, instead of transforms. */
  oneHot?: Readonly<Record<string, readonly number[]>>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A tuple entry before its standardisation constants are fitted. */
export type FeatureDraft = DistributiveOmit<Feature, "mean" | "std">;

export function isTransformName(value: string): value is TransformName {
  return (TRANSFORM_NAMES as readonly string[]).includes(value);
}

/** The tuple entry's name: "chol", "log(chol)", "log1p(oldpeak)", "sqrt(x)", "exp(x)", "1/x", "x^2", "x^3". */
export function transformedName(column: string, transform: TransformName): string {
  switch (transform) {
    case "identity":
      return column;
    case "reciprocal":
      return `1/${column}`;
    case "power2":
      return `${column}^2`;
    case "power3":
      return `${column}^3`;
    default:
      return `${transform}(${column})`;
  }
}

function draftOf(column: string, transform: TransformName): FeatureDraft {
  const name = transformedName(column, transform);
  if (transform === "power2" || transform === "power3") {
    return { name, input: column, transform: "power", exponent: transform === "power2" ? 2 : 3 };
  }
  return { name, input: column, transform };
}

/** The round-0 tuple entries for `spec`, checked against the data set's columns and the tuple size limit. */
export function planFeatures(dataset: Pick<Dataset, "columns" | "target">, spec: FeatureSpec = {}): FeatureDraft[] {
  const available = dataset.columns.filter((c) => c !== dataset.target);
  const columns = spec.columns ? [...spec.columns] : available;
  if (columns.length === 0) throw new RangeError("no feature columns selected");
  const seen = new Set<string>();
  for (const column of columns) {
    if (column === dataset.target) throw new RangeError(`"${column}" is the target column and cannot be a feature`);
    if (!dataset.columns.includes(column)) throw new RangeError(`feature column "${column}" is not in the data (${available.join(", ")})`);
    if (seen.has(column)) throw new RangeError(`feature column "${column}" is listed twice`);
    seen.add(column);
  }
  const transforms = spec.transforms ?? {};
  const oneHot = spec.oneHot ?? {};
  for (const column of [...Object.keys(transforms), ...Object.keys(oneHot)]) {
    if (!seen.has(column)) throw new RangeError(`column "${column}" has a transform but is not among the selected features (${columns.join(", ")})`);
  }

  const drafts: FeatureDraft[] = [];
  for (const column of columns) {
    const categories = oneHot[column];
    const listed = transforms[column];
    if (categories !== undefined) {
      if (listed !== undefined) throw new RangeError(`column "${column}" is either one-hot or transformed, not both`);
      if (categories.length < 2) throw new RangeError(`one-hot column "${column}" needs at least two categories`);
      if (!categories.every(Number.isFinite)) throw new RangeError(`one-hot column "${column}" has a category that is not a finite number`);
      if (new Set(categories).size !== categories.length) throw new RangeError(`one-hot column "${column}" lists a category twice`);
      for (const category of categories) {
        drafts.push({ name: `${column}=${category}`, input: column, transform: "one-hot", categories: [...categories], category });
      }
      continue;
    }
    const list = listed ?? ["identity"];
    if (list.length === 0) throw new RangeError(`column "${column}" has an empty list of transforms`);
    for (const transform of list) {
      if (!isTransformName(transform)) throw new RangeError(`unknown transform "${String(transform)}" for "${column}" (one of ${TRANSFORM_NAMES.join(", ")})`);
      drafts.push(draftOf(column, transform));
    }
  }
  const names = drafts.map((d) => d.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new RangeError(`tuple entry "${duplicate}" appears twice`);
  // The widest any parameter set takes; the model's own set is checked when the model is assembled (protocol/model.ts).
  if (drafts.length > MAX_TUPLE_VALUES) {
    const shown = names.length > 20 ? `${names.slice(0, 20).join(", ")}, ..` : names.join(", ");
    throw new RangeError(`the tuple has ${drafts.length} entries (${shown}); a tuple holds at most ${MAX_TUPLE_VALUES}`);
  }
  return drafts;
}

/**
 * The transformed, not yet standardised, value of every entry for every row, computed exactly as the client does.
 * A value outside a transform's domain (log of 0, an unlisted category) is a DatasetError naming row and column.
 */
export function transformRows(dataset: Dataset, drafts: readonly FeatureDraft[]): number[][] {
  return dataset.rows.map((row, i) => {
    const reading = readingFromRow(dataset.columns, row, [dataset.target]);
    return drafts.map((draft) => {
      try {
        return transformReading({ ...draft, mean: 0, std: 1 } as Feature, reading);
      } catch (err) {
        if (err instanceof ReadingError) throw new DatasetError(`row ${i + 1}: ${err.message}`, { row: i + 1, column: draft.input });
        throw err;
      }
    });
  });
}
