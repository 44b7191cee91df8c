/**
 * L2-regularised binary logistic regression with the objective scikit-learn's LogisticRegression minimises
 * (penalty "l2", intercept not penalised):
 *
 *   f(w, b) = 0.5 * ||w||^2 + C * sum_i logloss(y_i, w · x_i + b),   logloss(y, z) = log(1 + e^z) - y z
 *
 * f is strictly convex in (w, b) whenever both classes occur, so Newton's method (iteratively reweighted least
 * squares) with a backtracking line search reaches the unique minimum in a handful of steps. Each step solves
 * H d = -g with a Cholesky factorisation of the (d+1) x (d+1) Hessian.
 */

export interface LogisticRegressionOptions {
  /** Inverse regularisation strength, as scikit-learn's C. */
  C: number;
  /**
   * Stop when ||grad f|| < tolerance * C, i.e. when the gradient of f / C (same minimiser, loss term unscaled)
   * is below `tolerance`. At C = 1 this is ||grad f|| < tolerance; the scaling keeps the answer equally precise
   * for very small C and keeps the bar reachable in floating point for large C.
   */
  tolerance?: number;
  maxIterations?: number;
}

export interface LogisticRegressionFit {
  weights: number[];
  bias: number;
  /** Newton steps taken. */
  iterations: number;
  /** ||grad f|| at the returned (weights, bias); converged means it is below tolerance * C. */
  gradientNorm: number;
  converged: boolean;
}

export const DEFAULT_TOLERANCE = 1e-10;
export const DEFAULT_MAX_ITERATIONS = 100;

/** log(1 + e^t) without overflow or loss of precision for large |t|. */
export function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

function logistic(t: number): number {
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

/**
 * Solves A x = b for a symmetric positive definite A by Cholesky factorisation A = L L^T.
 * Throws if A is not (numerically) positive definite.
 */
export function solveCholesky(A: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  if (A.length !== n || A.some((row) => row.length !== n)) throw new RangeError(`matrix must be ${n} x ${n}`);
  const L: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let diagonal = A[j]![j]!;
    for (let k = 0; k < j; k++) diagonal -= L[j]![k]! ** 2;
    if (!(diagonal > 0)) throw new RangeError(`matrix is not positive definite (pivot ${j} is ${diagonal})`);
    const ljj = Math.sqrt(diagonal);
    L[j]![j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = A[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = s / ljj;
    }
  }
  // Forward substitution L z = b, then back substitution L^T x = z.
  const z = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i]![k]! * z[k]!;
    z[i] = s / L[i]![i]!;
  }
  const x = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k]![i]! * x[k]!;
    x[i] = s / L[i]![i]!;
  }
  return x;
}

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

export function fitLogisticRegression(
  X: readonly (readonly number[])[],
  y: readonly number[],
  options: LogisticRegressionOptions,
): LogisticRegressionFit {
  const { C } = options;
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (!(C > 0 && Number.isFinite(C))) throw new RangeError(`C must be a positive finite number, got ${C}`);
  if (!(tolerance > 0)) throw new RangeError(`tolerance must be positive, got ${tolerance}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`maxIterations must be a positive integer`);
  const n = X.length;
  if (n === 0 || y.length !== n) throw new RangeError(`need one label per row and at least one row (${n} rows, ${y.length} labels)`);
  const d = X[0]!.length;
  X.forEach((row, i) => {
    if (row.length !== d) throw new RangeError(`row ${i} has ${row.length} features, row 0 has ${d}`);
    if (!row.every(Number.isFinite)) throw new RangeError(`row ${i} has a non-finite feature`);
  });
  y.forEach((label, i) => {
    if (label !== 0 && label !== 1) throw new RangeError(`label of row ${i} must be 0 or 1, got ${label}`);
  });

  // theta = [w_0 .. w_{d-1}, b]
  const logit = (theta: readonly number[], row: readonly number[]): number => {
    let z = theta[d]!;
    for (let j = 0; j < d; j++) z += theta[j]! * row[j]!;
    return z;
  };
  const objective = (theta: readonly number[]): number => {
    let f = 0;
    for (let j = 0; j < d; j++) f += 0.5 * theta[j]! ** 2;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const z = logit(theta, X[i]!);
      loss += y[i] === 1 ? softplus(-z) : softplus(z);
    }
    return f + C * loss;
  };
  const gradient = (theta: readonly number[]): number[] => {
    const g = new Array<number>(d + 1).fill(0);
    for (let i = 0; i < n; i++) {
      const row = X[i]!;
      const r = logistic(logit(theta, row)) - y[i]!;
      for (let j = 0; j < d; j++) g[j]! += r * row[j]!;
      g[d]! += r;
    }
    for (let j = 0; j <= d; j++) g[j] = C * g[j]! + (j < d ? theta[j]! : 0);
    return g;
  };
  const hessian = (theta: readonly number[]): number[][] => {
    const H = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      const row = X[i]!;
      const p = logistic(logit(theta, row));
      const s = C * p * (1 - p);
      for (let j = 0; j <= d; j++) {
        const xj = j < d ? row[j]! : 1;
        for (let k = 0; k <= j; k++) H[j]![k]! += s * xj * (k < d ? row[k]! : 1);
      }
    }
    for (let j = 0; j <= d; j++) {
      if (j < d) H[j]![j]! += 1;
      for (let k = 0; k < j; k++) H[k]![j] = H[j]![k]!;
    }
    return H;
  };

  let theta = new Array<number>(d + 1).fill(0);
  let f = objective(theta);
  let g = gradient(theta);
  let gNorm = norm(g);
  let iterations = 0;
  const target = tolerance * C;
  while (gNorm >= target && iterations < maxIterations) {
    const step = solveCholesky(hessian(theta), g.map((v) => -v));
    const slope = step.reduce((s, v, j) => s + v * g[j]!, 0);
    // Backtracking: accept the first t that gives sufficient decrease of f (Armijo), or, near the optimum where
    // f changes by less than its rounding error, a smaller gradient.
    let accepted = false;
    for (let t = 1; t > 1e-12; t /= 2) {
      const candidate = theta.map((v, j) => v + t * step[j]!);
      const fc = objective(candidate);
      const gc = gradient(candidate);
      const gcNorm = norm(gc);
      if (fc <= f + 1e-4 * t * slope || (fc - f <= 1e-12 * (1 + Math.abs(f)) && gcNorm < gNorm)) {
        theta = candidate;
        f = fc;
        g = gc;
        gNorm = gcNorm;
        accepted = true;
        break;
      }
    }
    if (!accepted) break; // no progress possible at this precision
    iterations++;
  }
  return { weights: theta.slice(0, d), bias: theta[d]!, iterations, gradientNorm: gNorm, converged: gNorm < target };
}
