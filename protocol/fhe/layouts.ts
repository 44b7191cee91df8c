import { FheError } from "./errors.js";
import { DEFAULT_PARAMETER_SET, parameterSet, type ParameterSetName } from "./params.js";

/**
 * How a job's tuples sit in CKKS slots.
 *
 *   single-record   one tuple, written into every block of 16 slots (slots 16r..16r+n-1 for every r); the
 *                   rotate-and-sum over 16 slots then sums a whole period in every slot, so every slot holds T
 *                   and nothing else (slot 0 is the one the result header names).
 *   packed-records  up to slots/16 tuples of one patient in one ciphertext, record r in slots 16r..16r+n-1; the
 *                   same rotate-and-sum (same Galois keys) puts record r's T in slot 16r, and partial sums of
 *                   w_i·x_i in the slots between, which a 0/1 mask after the rotations clears (it needs a level
 *                   after the rotations: see `layoutProblem`).
 *   feature-major   one ciphertext per feature, slot r = record r (up to `slots` records); T = Σ w_j ct_j + b
 *                   slot-wise with weights and bias that are 0 beyond the job's records, with no rotation and so
 *                   no Galois keys at all.
 */
export const LAYOUTS = ["single-record", "packed-records", "feature-major"] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Slots reserved per record in the rotation layouts: the rotate-and-sum window, so at most 16 features. */
export const RECORD_STRIDE = 16;
export const MAX_TUPLE_VALUES = RECORD_STRIDE;

const ROTATION_STEPS: readonly number[] = Object.freeze([1, 2, 4, 8]);
const NO_STEPS: readonly number[] = Object.freeze([]);

/** Rotation steps (Galois keys) a layout's evaluation needs. */
export function layoutRotationSteps(layout: Layout): readonly number[] {
  return layout === "feature-major" ? NO_STEPS : ROTATION_STEPS;
}

/** Most records one job of this layout holds under a parameter set. */
export function layoutCapacity(layout: Layout, name: ParameterSetName = DEFAULT_PARAMETER_SET): number {
  const { slots } = parameterSet(name);
  switch (layout) {
    case "single-record":
      return 1;
    case "packed-records":
      return slots / RECORD_STRIDE;
    case "feature-major":
      return slots;
  }
}

/**
 * Why a layout cannot be evaluated under a parameter set, or undefined when it can. Packed records leave partial
 * sums of w_i·x_i next to each result slot; clearing them takes a plaintext multiplication after the rotations,
 * and parameter sets that rotate before their one rescale (depth 1) have no level left for it.
 */
export function layoutProblem(layout: Layout, name: ParameterSetName = DEFAULT_PARAMETER_SET): string | undefined {
  if (layout !== "packed-records" || !parameterSet(name).rotateBeforeRescale) return undefined;
  return (
    `${name} rotates before its one rescale and has no level left to clear the slots around each packed record's ` +
    `result, which would reveal partial sums of w·x; use feature-major for batches (chooseLayout picks it there) ` +
    `or ckks-n8192-d3`
  );
}

/** The slot that holds record r's result. */
export function resultSlot(layout: Layout, record: number): number {
  return layout === "feature-major" ? record : record * RECORD_STRIDE;
}

/**
 * Picks the layout for a job of `recordCount` tuples of `featureCount` values (one patient's records).
 *
 * Measured on one core (ckks-n8192-d3, 13 features, medians of `scripts/bench-fhe.ts`, see docs/fhe.md):
 *   single-record   upload 1 ciphertext (206 KB) per record, server 22 ms, Galois keys (bundle 4.5 MB)
 *   packed-records  upload 1 ciphertext (206 KB) for up to 256 records, server 22 ms whatever the count
 *   feature-major   upload n ciphertexts (13 x 206 KB = 2.7 MB) for up to 4096 records, server 25 ms, no Galois
 *                   keys (bundle 0.26 MB)
 * So from 2 to 256 records packing costs one upload where feature-major costs n, at the same server time; past 256
 * feature-major holds the job in n ciphertexts (654 B per record when full). With a single feature both are one
 * ciphertext and feature-major needs no rotations and no Galois keys, so it wins. One record keeps the
 * single-record layout the protocol started with (and its result format).
 * Parameter sets without a level to mask packed results (`layoutProblem`) take feature-major for every batch.
 * More than `slots` records do not fit one job: split them.
 */
export function chooseLayout(recordCount: number, featureCount: number, name: ParameterSetName = DEFAULT_PARAMETER_SET): Layout {
  if (!Number.isInteger(recordCount) || recordCount < 1) {
    throw new FheError("MalformedRecord", `a job holds at least one record, got ${recordCount}`);
  }
  if (!Number.isInteger(featureCount) || featureCount < 1 || featureCount > MAX_TUPLE_VALUES) {
    throw new FheError("MalformedRecord", `a tuple holds 1..${MAX_TUPLE_VALUES} values, got ${featureCount}`);
  }
  const { slots } = parameterSet(name);
  if (recordCount > slots) {
    throw new FheError("MalformedRecord", `${recordCount} records exceed one ${name} job (${slots}); split the job`);
  }
  if (recordCount === 1) return "single-record";
  if (featureCount > 1 && recordCount <= layoutCapacity("packed-records", name) && !layoutProblem("packed-records", name)) return "packed-records";
  return "feature-major";
}
