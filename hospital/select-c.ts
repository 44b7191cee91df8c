/**
 * Choosing the L2 strength C (`--C auto`) by stratified k-fold cross-validation on the training rows alone.
 *
 * The grid is fixed: 13 values from 1e-3 to 1e3, two per decade (1 and 3 times a power of ten), so roughly
 * log-spaced (steps of 3 and 10/3) and every value a short decimal that `--C <value>` reproduces exactly and the
 * model file records readably.
 *
 * Criterion: the mean over the folds of the held-out fold's mean log-loss (cross-entropy of the predicted
 * probability). Log-loss rather than AUC because it is a proper scoring rule: it rewards the calibrated
 * probability the patient's client shows, not only the ranking, and it is the loss the regression minimises.
 * AUC is nearly flat for small C (shrinking every weight by the same factor keeps the ranking), so with ties going
 * to the smaller C it would pick an over-regularised model whose probabilities all sit near the base rate.
 *
 * Ties (means within a relative 1e-12, i.e. equal up to rounding) go to the smaller C, the stronger penalty.
 * The folds are those of `stratifiedKFold` over the training rows' labels, seeded with the training seed, so the
 * choice is reproducible from the data set and the seed recorded in the model.
 */
import { softplus } from "./logistic-regression.js";
import { stratifiedKFold, type Split } from "./split.js";

/** The candidate values of C, ascending. */
export const C_GRID: readonly number[] = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000];

/** Folds of the cross-validation that chooses C (independent of the folds recorded in the model's metrics). */
export const C_SELECTION_FOLDS = 5;

export const C_SELECTION_CRITERION = "mean held-out-fold log-loss";

/** Relative difference below which two mean log-losses count as equal (the smaller C then wins). */
const TIE = 1e-12;

export interface CScore {
  C: number;
  /** Mean over the folds of the held-out fold's log-loss; null when a fold's fit did not converge. */
  logLoss: number | null;
  /** Per fold, the held-out fold's mean log-loss (null: that fold's fit did not converge). */
  perFold: (number | null)[];
}

export interface CSelection {
  criterion: typeof C_SELECTION_CRITERION;
  folds: number;
  seed: number;
  /** Training rows the folds partition. */
  rows: number;
  /** One score per grid value, in grid order. */
  grid: CScore[];
  /** The grid value with the smallest mean log-loss (ties: the smaller C). */
  chosen: number;
}

/** Mean log-loss of labels (0/1) given logits: log(1 + e^z) - y z, computed without overflow. */
export function meanLogLoss(labels: readonly number[], logits: readonly number[]): number {
  if (labels.length !== logits.length || labels.length === 0) throw new RangeError(`${labels.length} labels but ${logits.length} logits`);
  let sum = 0;
  labels.forEach((y, i) => {
    const z = logits[i]!;
    if (Number.isNaN(z)) throw new RangeError(`logit ${i} is NaN`);
    sum += y === 1 ? softplus(-z) : softplus(z);
  });
  return sum / labels.length;
}

/**
 * Stratified k-fold partition of the training rows only: `train` are row indices into `labels`; each returned
 * split holds row indices (ascending) taken from `train` and never any other row.
 */
export function trainingFolds(labels: readonly number[], train: readonly number[], k: number, seed: number): Split[] {
  const trainLabels = train.map((i) => labels[i]!);
  return stratifiedKFold(trainLabels, k, seed).map((fold) => ({ train: fold.train.map((j) => train[j]!), test: fold.test.map((j) => train[j]!) }));
}

/**
 * Scores every grid value by cross-validation on the training rows and picks the best. `heldOutLogLoss(C, fold)`
 * fits the pipeline with that C on fold.train and returns the mean log-loss on fold.test, or undefined when the fit
 * did not converge (that C is then not eligible).
 */
export function selectC(
  labels: readonly number[],
  train: readonly number[],
  seed: number,
  heldOutLogLoss: (C: number, fold: Split) => number | undefined,
  options: { grid?: readonly number[]; folds?: number } = {},
): CSelection {
  const grid = options.grid ?? C_GRID;
  const k = options.folds ?? C_SELECTION_FOLDS;
  if (grid.length === 0 || !grid.every((c, i) => c > 0 && Number.isFinite(c) && (i === 0 || c > grid[i - 1]!))) {
    throw new RangeError("the C grid must be positive, finite and ascending");
  }
  const folds = trainingFolds(labels, train, k, seed);
  const scores = grid.map((C): CScore => {
    const perFold = folds.map((fold) => heldOutLogLoss(C, fold) ?? null);
    const logLoss = perFold.some((s) => s === null) ? null : (perFold as number[]).reduce((a, b) => a + b, 0) / perFold.length;
    return { C, logLoss, perFold };
  });
  let best: CScore | undefined;
  for (const score of scores) {
    if (score.logLoss === null) continue;
    // Ascending grid: a larger C replaces the best only when clearly better, so ties stay with the smaller C.
    if (best === undefined || score.logLoss < best.logLoss! * (1 - TIE)) best = score;
  }
  if (best === undefined) throw new Error(`choosing C: the logistic regression did not converge in any fold for any C in ${grid.join(", ")}`);
  return { criterion: C_SELECTION_CRITERION, folds: k, seed, rows: train.length, grid: scores, chosen: best.C };
}
