/**
 * Polynomial approximations of the logistic sigmoid for the non-interactive variant, where the server evaluates
 * p(T) ≈ σ(T) under encryption and the patient decrypts a probability directly.
 *
 * A polynomial only approximates σ on a bounded interval [a, b]; outside it p(T) diverges (a cubic goes to ±∞),
 * so the interval must cover the logits the model produces: take it from the training data's logit range
 * (see `logitInterval`), with a margin.
 *
 * The fit is a least-squares fit on Chebyshev nodes of the normalised variable u = (2T − a − b) / (b − a) ∈ [−1, 1].
 * On M Chebyshev nodes the Chebyshev polynomials T_0..T_{M−1} are discretely orthogonal, so the least-squares
 * coefficients are plain sums; the result is converted to the power basis in u. Coefficients in u stay O(1) for any
 * interval, and the server folds the map T → u into the model's weights and bias (free: no extra level), so
 * encrypted intermediates such as u² never grow with the interval's width.
 *
 * Default degree 3: the depth budget. ckks-n8192-d3 has three rescales (the 128-bit maximum of 218 bits at N=8192);
 * w·x+b takes one, and a degree-3 polynomial takes the other two (u², then (c3·u)·u²). Degree 5 needs a third
 * polynomial level: a 4th 40-bit prime, 258 bits, which at 128-bit security means N=16384 and doubles every size
 * and time. Degree 1 is a line: far worse than degree 3 (see docs/fhe.md for measured errors per interval).
 */

export interface SigmoidPolynomial {
  /** The interval [a, b] of logits T the fit covers. */
  readonly interval: readonly [number, number];
  /** Power-basis coefficients in u = (2T − a − b) / (b − a), lowest first: p = Σ coefficients[k] u^k. */
  readonly coefficients: readonly number[];
  /** max |p(T) − σ(T)| over the interval (dense grid of 10,001 points). */
  readonly maxError: number;
}

export const DEFAULT_SIGMOID_DEGREE = 3;
/** Degrees the fit accepts; the encrypted evaluation is further limited by the parameter set's depth. */
export const MAX_FIT_DEGREE = 7;
const FIT_NODES = 256;
/** Coefficients (in u, where |u| <= 1 on the interval) smaller than this change p by less than 1e-12 there. */
export const NEGLIGIBLE_COEFFICIENT = 1e-13;
const ERROR_GRID = 10_000;

export function logistic(t: number): number {
  return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
}

/** u = (2t − a − b) / (b − a): the interval mapped onto [−1, 1]. */
export function normalisedLogit(interval: readonly [number, number], t: number): number {
  const [a, b] = interval;
  return (2 * t - a - b) / (b - a);
}

/** Power-basis coefficients of the Chebyshev polynomials T_0..T_d (row k: coefficients of T_k). */
function chebyshevPowerBasis(degree: number): number[][] {
  const rows: number[][] = [[1], [0, 1]];
  for (let k = 2; k <= degree; k++) {
    // T_k = 2u T_{k−1} − T_{k−2}
    const row = new Array<number>(k + 1).fill(0);
    rows[k - 1]!.forEach((c, i) => (row[i + 1]! += 2 * c));
    rows[k - 2]!.forEach((c, i) => (row[i]! -= c));
    rows.push(row);
  }
  return rows.slice(0, degree + 1);
}

function checkInterval(interval: readonly [number, number]): void {
  const [a, b] = interval;
  if (!Number.isFinite(a) || !Number.isFinite(b) || !(a < b)) {
    throw new RangeError(`sigmoid interval must be finite with a < b, got [${a}, ${b}]`);
  }
}

/** Evaluates the polynomial at a logit T (Horner in the normalised variable). */
export function evaluateSigmoidPolynomial(poly: SigmoidPolynomial, t: number): number {
  const u = normalisedLogit(poly.interval, t);
  let acc = 0;
  for (let k = poly.coefficients.length - 1; k >= 0; k--) acc = acc * u + poly.coefficients[k]!;
  return acc;
}

/** Power-basis coefficients of p in T itself (lowest first), for inspection or other evaluators. */
export function coefficientsInLogit(poly: SigmoidPolynomial): number[] {
  const [a, b] = poly.interval;
  // u = α T + β
  const alpha = 2 / (b - a);
  const beta = -(a + b) / (b - a);
  const out = new Array<number>(poly.coefficients.length).fill(0);
  let power = [1]; // coefficients of u^k in T
  poly.coefficients.forEach((c, k) => {
    if (k > 0) {
      const next = new Array<number>(power.length + 1).fill(0);
      power.forEach((p, i) => {
        next[i + 1]! += alpha * p;
        next[i]! += beta * p;
      });
      power = next;
    }
    power.forEach((p, i) => (out[i]! += c * p));
  });
  return out;
}

/**
 * Least-squares fit of σ on [a, b] by a polynomial of the given degree (1..7; default 3, see above).
 * `interval` should come from the training data's logits (`logitInterval`).
 */
export function fitSigmoidPolynomial(interval: readonly [number, number], degree: number = DEFAULT_SIGMOID_DEGREE): SigmoidPolynomial {
  checkInterval(interval);
  if (!Number.isInteger(degree) || degree < 1 || degree > MAX_FIT_DEGREE) {
    throw new RangeError(`sigmoid polynomial degree must be an integer in 1..${MAX_FIT_DEGREE}, got ${degree}`);
  }
  const [a, b] = interval;
  const chebyshev = new Array<number>(degree + 1).fill(0);
  for (let j = 0; j < FIT_NODES; j++) {
    const theta = (Math.PI * (j + 0.5)) / FIT_NODES;
    const u = Math.cos(theta);
    const f = logistic(((b - a) * u + a + b) / 2);
    // T_k(cos θ) = cos kθ
    for (let k = 0; k <= degree; k++) chebyshev[k]! += f * Math.cos(k * theta);
  }
  for (let k = 0; k <= degree; k++) chebyshev[k]! *= (k === 0 ? 1 : 2) / FIT_NODES;

  const basis = chebyshevPowerBasis(degree);
  const coefficients = new Array<number>(degree + 1).fill(0);
  chebyshev.forEach((c, k) => basis[k]!.forEach((p, i) => (coefficients[i]! += c * p)));
  // On an interval symmetric about 0, σ − 1/2 is odd and the even coefficients are 0 up to rounding (~1e-17):
  // make them exactly 0 so the server skips those terms.
  for (let k = 0; k <= degree; k++) if (Math.abs(coefficients[k]!) < NEGLIGIBLE_COEFFICIENT) coefficients[k] = 0;

  const poly = { interval: [a, b] as const, coefficients, maxError: 0 };
  let maxError = 0;
  for (let i = 0; i <= ERROR_GRID; i++) {
    const t = a + ((b - a) * i) / ERROR_GRID;
    maxError = Math.max(maxError, Math.abs(evaluateSigmoidPolynomial(poly, t) - logistic(t)));
  }
  return Object.freeze({ interval: Object.freeze([a, b] as const), coefficients: Object.freeze(coefficients), maxError });
}

/**
 * An interval for the fit from the training data's logits T = w·x + b: [min, max] widened by `margin` of its
 * width on each side (default 10%), so test-time logits slightly beyond the training range stay inside.
 */
export function logitInterval(logits: Iterable<number>, margin = 0.1): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const t of logits) {
    if (!Number.isFinite(t)) throw new RangeError(`logits must be finite, got ${t}`);
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  if (!(lo <= hi)) throw new RangeError("logitInterval needs at least one logit");
  if (!(margin >= 0) || !Number.isFinite(margin)) throw new RangeError(`margin must be finite and >= 0, got ${margin}`);
  // A single distinct logit still needs an interval of some width.
  const pad = hi > lo ? (hi - lo) * margin : Math.max(Math.abs(lo) * margin, 1e-3);
  return [lo - pad, hi + pad];
}
