import { FheError } from "./errors.js";
import { DEFAULT_PARAMETER_SET, PARAMETER_SET_NAMES, parameterSet, type CkksParameterSet, type ParameterSetName } from "./params.js";

/**
 * How a job's tuples sit in CKKS slots.
 *
 *   single-record   one tuple, written into every block of s slots (slots sr..sr+n-1 for every r), s the record
 *                   stride (`recordStride`: n rounded up to a power of two, at least 16); the rotate-and-sum over
 *                   s slots then sums a whole period in every slot, so every slot holds T and nothing else (slot 0
 *                   is the one the result header names).
 *   packed-records  up to slots/s tuples of one patient in one ciphertext, record r in slots sr..sr+n-1; the
 *                   same rotate-and-sum (same Galois keys) puts record r's T in slot sr, and partial sums of
 *                   w_i·x_i in the slots between, which a 0/1 mask after the rotations clears (it needs a level
 *                   after the rotations: see `layoutProblem`).
 *   feature-major   one ciphertext per feature, slot r = record r (up to `slots` records); T = Σ w_j ct_j + b
 *                   slot-wise with weights and bias that are 0 beyond the job's records, with no rotation and so
 *                   no Galois keys at all.
 */
export const LAYOUTS = ["single-record", "packed-records", "feature-major"] as const;
export type Layout = (typeof LAYOUTS)[number];

/**
 * Slots a record takes in the rotation layouts: its tuple's width rounded up to a power of two, at least 16. The
 * rotate-and-sum over a stride of s slots takes log2(s) rotations with the Galois keys for steps 1, 2, .., s/2; the
 * floor of 16 keeps every tuple up to 16 wide on the same four keys, the bundle every patient starts with.
 */
export const MIN_RECORD_STRIDE = 16;

/**
 * The widest tuple a parameter set takes, in every layout: a sixteenth of its slots (256 at N=8192, 128 at N=4096).
 * At that width a packed ciphertext still holds 16 records (a hidden round's 16 rows), a key bundle holds
 * log2(width) Galois keys (8 at N=8192, about 8 MB), and a feature-major record one ciphertext per entry.
 */
export function maxTupleValues(name: ParameterSetName = DEFAULT_PARAMETER_SET): number {
  return parameterSet(name).slots / 16;
}

/** The widest tuple any parameter set takes: what a schema may admit before it knows the set. */
export const MAX_TUPLE_VALUES = Math.max(...PARAMETER_SET_NAMES.map(maxTupleValues));

/** The stride of a tuple of `values` entries: the next power of two, at least MIN_RECORD_STRIDE. */
export function recordStride(values: number): number {
  let stride = MIN_RECORD_STRIDE;
  while (stride < values) stride *= 2;
  return stride;
}

/**
 * The rotate-and-sum over one stride as stages: each stage adds `radix` − 1 copies of the ciphertext rotated by
 * step, 2·step, .., all with the one Galois key for `step` (a rotation by 2·step is two rotations by step). Up to 16
 * slots the stages are binary (steps 8, 4, 2, 1: four keys, the bundle every patient starts with); beyond, each
 * further factor of 4 is one radix-4 stage (3 rotations, one key: 16, then 64, ..) and a last factor of 2 a binary
 * one. So stride 256 takes 10 rotations with 6 keys instead of 8 with 8: each key is about 1 MB at N=8192, a
 * rotation at the level it runs about 2 ms, and the key bundle is uploaded once but held in every worker's cache.
 */
export function strideSumStages(stride: number): { step: number; radix: 2 | 4 }[] {
  const stages: { step: number; radix: 2 | 4 }[] = [];
  let covered = 1;
  while (covered < Math.min(stride, MIN_RECORD_STRIDE)) {
    stages.push({ step: covered, radix: 2 });
    covered *= 2;
  }
  while (covered < stride) {
    const radix = stride / covered >= 4 ? 4 : 2;
    stages.push({ step: covered, radix });
    covered *= radix;
  }
  return stages;
}

/** Rotation steps (Galois keys) of the rotate-and-sum over one stride: 1, 2, 4, 8, then 16, 64, .. below the stride. */
export function strideRotationSteps(stride: number): number[] {
  return strideSumStages(stride).map((stage) => stage.step);
}

/** Every stride a parameter set's tuples can have: 16, 32, .., recordStride(maxTupleValues(name)). */
export function strides(name: ParameterSetName): number[] {
  const out: number[] = [];
  for (let stride = MIN_RECORD_STRIDE; stride <= recordStride(maxTupleValues(name)); stride *= 2) out.push(stride);
  return out;
}

/** The widest tuple a bundle with these rotation steps evaluates in the rotation layouts under a set (0: none). */
export function widestTupleFor(galoisSteps: readonly number[], name: ParameterSetName): number {
  const served = strides(name).filter((stride) => strideRotationSteps(stride).every((step) => galoisSteps.includes(step)));
  return served.length === 0 ? 0 : Math.min(served.at(-1)!, maxTupleValues(name));
}

const NO_STEPS: readonly number[] = Object.freeze([]);

/** Rotation steps (Galois keys) a layout's evaluation of tuples `values` wide needs (16 by default). */
export function layoutRotationSteps(layout: Layout, values: number = MIN_RECORD_STRIDE): readonly number[] {
  return layout === "feature-major" ? NO_STEPS : strideRotationSteps(recordStride(values));
}

/**
 * The coefficient-modulus primes (the special prime not counted) a record must keep for a job of `layout` whose
 * result is `stage`: everything for the sigmoid polynomial; for a linear stage one rescale after the input, two for
 * packed records on sets that rescale before their rotations (the mask after them). A client encrypts at that level
 * (the upload is proportional to the primes: half at N=8192 for a linear single-record job), and the server drops
 * any level above it before it computes.
 */
export function recordPrimes(layout: Layout, stage: "linear" | "sigmoid-poly", params: CkksParameterSet): number {
  const all = params.coeffModulusBits.length - 1;
  if (stage === "sigmoid-poly") return all;
  return Math.min(all, layout === "packed-records" && !params.rotateBeforeRescale ? 3 : 2);
}

/** Why a tuple of `values` entries cannot be taken under a parameter set, or undefined. */
export function tupleWidthProblem(values: number, name: ParameterSetName = DEFAULT_PARAMETER_SET): string | undefined {
  const max = maxTupleValues(name);
  if (Number.isInteger(values) && values >= 1 && values <= max) return undefined;
  return `a tuple under ${name} holds 1..${max} values, got ${values}`;
}

/** Most records one job of this layout holds under a parameter set, for tuples `values` wide (16 by default). */
export function layoutCapacity(layout: Layout, name: ParameterSetName = DEFAULT_PARAMETER_SET, values: number = MIN_RECORD_STRIDE): number {
  const { slots } = parameterSet(name);
  switch (layout) {
    case "single-record":
      return 1;
    case "packed-records":
      return slots / recordStride(values);
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

/** The slot that holds record r's result; `stride` is the record stride of the rotation layouts. */
export function resultSlot(layout: Layout, record: number, stride: number = MIN_RECORD_STRIDE): number {
  return layout === "feature-major" ? record : record * stride;
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
  const wrongWidth = tupleWidthProblem(featureCount, name);
  if (wrongWidth) throw new FheError("MalformedRecord", wrongWidth);
  const { slots } = parameterSet(name);
  if (recordCount > slots) {
    throw new FheError("MalformedRecord", `${recordCount} records exceed one ${name} job (${slots}); split the job`);
  }
  if (recordCount === 1) return "single-record";
  if (featureCount > 1 && recordCount <= layoutCapacity("packed-records", name, featureCount) && !layoutProblem("packed-records", name)) return "packed-records";
  return "feature-major";
}
