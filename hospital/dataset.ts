import { DatasetError, parseCsv, type CsvOptions } from "./csv.js";

/** A numeric CSV split into the feature columns and a 0/1 target column. */
export interface Dataset {
  /** All columns of the CSV, in file order. */
  columns: string[];
  target: string;
  /** Every column except the target, in file order: the model's features. */
  featureNames: string[];
  /** Per row, the feature values in `featureNames` order. */
  features: number[][];
  /** Per row, the target value: 0 or 1. */
  labels: number[];
  /** The CSV rows as parsed (all columns), for `readingFromRow`. */
  rows: number[][];
}

/**
 * The CSV as a data set. With `{ emptyCells: true }` an empty feature cell is NaN (missing; see hospital/train.ts
 * for the policies); an empty target cell is refused all the same.
 */
export function loadDataset(csvText: string, target: string, options: CsvOptions = {}): Dataset {
  const { columns, rows } = parseCsv(csvText, options);
  const targetIndex = columns.indexOf(target);
  if (targetIndex < 0) throw new DatasetError(`target column "${target}" is not in the header (${columns.join(", ")})`, { column: target });
  if (columns.length < 2) throw new DatasetError("the CSV has no feature columns besides the target");
  const labels = rows.map((row, i) => {
    const label = row[targetIndex]!;
    if (Number.isNaN(label)) throw new DatasetError(`row ${i + 1}, column "${target}": empty cell: the target cannot be missing`, { row: i + 1, column: target });
    if (label !== 0 && label !== 1) {
      throw new DatasetError(`row ${i + 1}, column "${target}": the target must be 0 or 1, got ${label}`, { row: i + 1, column: target });
    }
    return label;
  });
  return {
    columns,
    target,
    featureNames: columns.filter((_, j) => j !== targetIndex),
    features: rows.map((row) => row.filter((_, j) => j !== targetIndex)),
    labels,
    rows,
  };
}

/**
 * One CSV row as a patient's raw readings keyed by column name, the form `buildTuple` and `predictPlaintext`
 * take. Columns listed in `omit` (typically the target, which a patient would not know) are left out.
 */
export function readingFromRow(columns: readonly string[], row: readonly number[], omit: readonly string[] = []): Record<string, number> {
  if (row.length !== columns.length) throw new RangeError(`row has ${row.length} values, the header has ${columns.length}`);
  const reading: Record<string, number> = {};
  columns.forEach((column, j) => {
    if (!omit.includes(column)) reading[column] = row[j]!;
  });
  return reading;
}
