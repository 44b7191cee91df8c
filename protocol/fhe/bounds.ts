/**
 * Value bounds that keep the result exact. The result is saved at the last level, one 49-bit prime over a 2^40
 * scale: measured, |T| up to 1e4 decrypts exactly and 1e5 wraps around silently. Tuple values are standardised
 * (a few units in practice), so clients refuse |x| > 32 and models must keep sum|w|*32 + |b| <= 1000, a tenfold margin.
 */
export const MAX_ABS_TUPLE_VALUE = 32;
export const MAX_ABS_RESULT_VALUE = 1_000;

/** Largest |T| a linear stage can produce from in-bound tuples. */
export function linearResultBound(weights: readonly number[], bias: number): number {
  return weights.reduce((sum, w) => sum + Math.abs(w), 0) * MAX_ABS_TUPLE_VALUE + Math.abs(bias);
}
