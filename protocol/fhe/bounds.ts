/**
 * Value bounds that keep the result exact. A linear result is saved at the last level, one prime, at the scale
 * `batchResultScaleBits` (params.ts); a result with T in every slot (single-record, a full feature-major job) puts
 * scale*T into a polynomial coefficient, which must stay below half that prime. Measured (T in every slot):
 * ckks-n8192-d3 (2^36 on a 49-bit prime) decrypts |T| up to 4000 exactly and wraps around silently at 5000;
 * ckks-n4096-linear (2^30 on a 45-bit prime) up to 1e4, and wraps at 1e5. Tuple values are standardised (a few
 * units in practice), so clients refuse |x| > 32 and models must keep sum|w|*32 + |b| <= 1000: a fourfold margin.
 */
export const MAX_ABS_TUPLE_VALUE = 32;
export const MAX_ABS_RESULT_VALUE = 1_000;

/** Largest |T| a linear stage can produce from in-bound tuples. */
export function linearResultBound(weights: readonly number[], bias: number): number {
  return weights.reduce((sum, w) => sum + Math.abs(w), 0) * MAX_ABS_TUPLE_VALUE + Math.abs(bias);
}
