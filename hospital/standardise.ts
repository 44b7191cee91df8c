/**
 * Standardisation constants x' = (x - mean) / std, fitted on the training rows only so nothing about the
 * held-out rows leaks into the model. std is the population standard deviation (divide by n, ddof = 0), as
 * scikit-learn's StandardScaler computes it.
 */

import { DatasetError } from "./csv.js";

export interface Standardiser {
  mean: number[];
  std: number[];
}

export class ZeroVarianceError extends DatasetError {
  constructor(column: string) {
    super(`column "${column}" is constant on the training rows, so it cannot be standardised`, { column });
    this.name = "ZeroVarianceError";
  }
}

/** @param columns names used in error messages, one per column of `rows` */
export function fitStandardiser(rows: readonly (readonly number[])[], columns: readonly string[]): Standardiser {
  const n = rows.length;
  if (n === 0) throw new RangeError("cannot standardise zero rows");
  const d = columns.length;
  rows.forEach((row, i) => {
    if (row.length !== d) throw new RangeError(`row ${i} has ${row.length} values, expected ${d}`);
  });
  const mean = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j]! += row[j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  // Two-pass variance: no cancellation from subtracting large sums of squares.
  const variance = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j++) variance[j]! += (row[j]! - mean[j]!) ** 2;
  const std = variance.map((v, j) => {
    const s = Math.sqrt(v / n);
    // A constant column can leave a rounding-size residue instead of exactly 0.
    if (!(s > 1e-12 * Math.max(1, Math.abs(mean[j]!)))) throw new ZeroVarianceError(columns[j]!);
    return s;
  });
  return { mean, std };
}

export function standardiseRow(standardiser: Standardiser, row: readonly number[]): number[] {
  if (row.length !== standardiser.mean.length) {
    throw new RangeError(`row has ${row.length} values, expected ${standardiser.mean.length}`);
  }
  return row.map((x, j) => (x - standardiser.mean[j]!) / standardiser.std[j]!);
}
