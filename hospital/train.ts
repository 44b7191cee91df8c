import { smallestParameterSet } from "../protocol/fhe/choose-parameter-set.js";
import { DEFAULT_PARAMETER_SET, type ParameterSetName } from "../protocol/fhe/params.js";
import { polynomialDepth } from "../protocol/fhe/polynomial-depth.js";
import { DEFAULT_SIGMOID_DEGREE, fitSigmoidPolynomial, logitInterval } from "../protocol/fhe/sigmoid.js";
import {
  activate,
  checkInputValue,
  MODEL_FORMAT,
  ModelFormatError,
  parseModel,
  predictPlaintext,
  type Activation,
  ReadingError,
  type Feature,
  type MissingPolicy,
  type MissingValues,
  type Model,
  type ModelInput,
  type SigmoidStage,
} from "../protocol/model.js";
import { DatasetError, parseCsv } from "./csv.js";
import { loadDataset, readingFromRow, type Dataset } from "./dataset.js";
import { planFeatures, transformRows, type FeatureDraft, type FeatureSpec, type TransformName } from "./features.js";
import { checkRows, selectInputs } from "./inputs.js";
import { describeHiddenMethod, fitHiddenLayer, HIDDEN_DEFAULTS } from "./hidden-layer.js";
import { DEFAULT_TOLERANCE, fitLogisticRegression } from "./logistic-regression.js";
import { accuracy, rocAuc } from "./metrics.js";
import { meanLogLoss, selectC, type CSelection } from "./select-c.js";
import { stratifiedKFold, stratifiedSplit, type Split } from "./split.js";
import { fitStandardiser, standardiseRow } from "./standardise.js";

export { readingFromRow } from "./dataset.js";

export interface HiddenOptions {
  /** Hidden values h (rows of the first round's weight matrix), 1..16. */
  units: number;
  activation?: Activation;
  epochs?: number;
  learningRate?: number;
  momentum?: number;
}

export interface TrainOptions {
  csvText: string;
  /** Recorded in the model as training.dataset, e.g. the CSV's path in the project. */
  datasetName: string;
  /** Lower-case hex SHA-256 of the CSV file. */
  datasetSha256: string;
  target: string;
  positiveMeans: string;
  name: string;
  version: number;
  description: string;
  seed: number;
  testFraction: number;
  /**
   * Inverse L2 strength (scikit-learn's C), or "auto": chosen from the fixed grid in hospital/select-c.ts by
   * stratified k-fold cross-validation on the training rows only (seeded with `seed`), lowest mean held-out-fold
   * log-loss, ties to the smaller C. Only the chosen value reaches the model (training.l2C), so the model equals the
   * one trained with that value. "auto" is refused with `hidden` (there C also regularises the hidden layer).
   */
  l2C: number | "auto";
  /** Input columns in tuple order; default every column except the target. */
  features?: readonly string[];
  /** Per column, its client transforms (one tuple entry each); default identity. */
  transforms?: Readonly<Record<string, readonly TransformName[]>>;
  /** Per categorical column, its categories (one tuple entry each). */
  oneHot?: Readonly<Record<string, readonly number[]>>;
  /** A two-round model: a hidden round of `units` values before the final linear stage. */
  hidden?: HiddenOptions;
  /** Stratified k-fold cross-validation recorded in the model's metrics; default 5, 0 for none. */
  folds?: number;
  /** Client threshold on the probability; default 0.5. */
  threshold?: number;
  /**
   * The data set's input metadata (hospital/inputs.ts): the entries of the columns the features read are embedded
   * as the model's `inputs`, and a row outside a declared range or choice is refused. Default: none embedded.
   */
  inputs?: readonly ModelInput[];
  /**
   * What to do with empty cells in the columns the model reads (recorded in the model as `missing`). Default: an
   * empty cell anywhere is refused, naming its row and column. "drop": rows with an empty cell in a column the model
   * reads are left out before the split. "median": after the split, each empty cell is filled with its column's
   * median over the training rows (the mean of the two middle values for an even count); every fold of the
   * cross-validation computes its own. Empty cells in columns the model does not read are ignored under either
   * policy; an empty target cell is always refused.
   */
  missing?: MissingPolicy;
  /**
   * The non-interactive variant: the model carries a sigmoid polynomial of `degree` (default 3) fitted on
   * `interval`, by default the training logits' range widened by 10% on each side (`logitInterval`). An interval
   * that leaves out any training logit is refused (PolynomialIntervalError): there p(T) is no probability.
   */
  nonInteractive?: { degree?: number; interval?: readonly [number, number] };
  /**
   * The model's CKKS parameter set: a name, or "smallest" for the smallest 128-bit-secure set that holds the model
   * (its width, depth and rounds: `smallestParameterSet`). Default: DEFAULT_PARAMETER_SET, the set patients' keys are
   * made for by default (a patient holds keys of one set).
   */
  parameterSet?: ParameterSetName | "smallest";
}

/** A sigmoid polynomial's interval leaves out some of the training data's logits. */
export class PolynomialIntervalError extends RangeError {
  constructor(readonly interval: readonly [number, number], readonly outside: number, readonly range: readonly [number, number]) {
    super(
      `the sigmoid polynomial's interval [${interval[0]}, ${interval[1]}] leaves out ${outside} training logit(s) (they span ` +
        `[${range[0].toFixed(3)}, ${range[1].toFixed(3)}]); outside its interval the polynomial is no probability: widen it or omit it to fit the training range`,
    );
    this.name = "PolynomialIntervalError";
  }
}

export const DEFAULT_FOLDS = 5;
export const DEFAULT_THRESHOLD = 0.5;

export interface SplitMetrics {
  accuracy: number;
  auc: number;
  rows: number;
}

export interface CrossValidation {
  folds: SplitMetrics[];
  /** Means over the folds of the held-out fold's accuracy and AUC. */
  accuracy: number;
  auc: number;
}

/** What a missing-value policy did to the data. */
export interface MissingReport {
  policy: MissingPolicy;
  /** Empty cells in the columns the model reads, over all rows. */
  emptyCells: number;
  /** "drop": the 1-based CSV data rows left out. */
  droppedRows?: number[];
  /** "median": the medians recorded in the model (those of the held-out split's training rows). */
  medians?: Record<string, number>;
}

export interface TrainResult {
  model: Model;
  /** Row indices (0-based, into the CSV's data rows; under "drop", into the rows kept) of the training and held-out rows. */
  split: Split;
  /** Newton steps and final gradient norm of the final stage's logistic regression; the hidden layer's final loss. */
  fit: { iterations: number; gradientNorm: number; hiddenLoss?: number };
  crossValidation?: CrossValidation;
  /** Present when the options give a missing-value policy. */
  missing?: MissingReport;
  /** Present for l2C "auto": every grid value's cross-validated log-loss on the training rows, and the chosen C. */
  cSelection?: CSelection;
}

export const SOLVER = `newton-irls; l2 on weights, intercept unpenalised; gradient norm < ${DEFAULT_TOLERANCE} * C`;

type Draft = Omit<Model, "metrics">;

/** Options with a numeric C: what every fit sees once "auto" is resolved. */
type FixedC = TrainOptions & { l2C: number };

export const AUTO_C_WITH_HIDDEN =
  'C "auto" is for one-round models: with a hidden round, C also regularises the hidden layer, and choosing it would ' +
  "refit the gradient-descent network for every grid value and fold; give a number";

/** The final stage's Newton fit stopped short of the tolerance. */
class NotConvergedError extends Error {}

/** Data set, tuple plan and transformed values, shared by the held-out fit and every fold. */
interface Prepared {
  /** The rows training and evaluation see (under "drop", the rows kept; under "median", empty cells still NaN). */
  dataset: Dataset;
  drafts: FeatureDraft[];
  /** The embedded input descriptions, when the options give metadata. */
  inputs?: ModelInput[];
  /** Per row, the transformed (not standardised) round-0 values for a fit on `train`, and the model's `missing`. */
  valuesFor(train: readonly number[]): { values: number[][]; missing?: MissingValues };
  missing?: Omit<MissingReport, "medians">;
}

/** The message for an empty cell when no policy is given. */
function emptyCellError(columns: readonly string[], rows: readonly number[][]): DatasetError | undefined {
  for (let i = 0; i < rows.length; i++) {
    const j = rows[i]!.findIndex(Number.isNaN);
    if (j < 0) continue;
    const column = columns[j]!;
    return new DatasetError(
      `row ${i + 1} (line ${i + 2}), column "${column}": empty cell; to train on data with empty cells choose a missing-value policy: ` +
        `--missing drop (leave such rows out) or --missing median (fill each with its column's median over the training rows)`,
      { row: i + 1, column },
    );
  }
  return undefined;
}

function prepare(options: TrainOptions): Prepared {
  if (options.missing === undefined) {
    const table = parseCsv(options.csvText, { emptyCells: true });
    const err = emptyCellError(table.columns, table.rows);
    if (err) throw err;
  }
  return prepareDataset(options, loadDataset(options.csvText, options.target, { emptyCells: options.missing !== undefined }));
}

/** Median of the values that are not NaN (the mean of the two middle ones for an even count). */
export function medianOf(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError("median of no values");
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Each column's median over the `train` rows, for the columns the model reads. */
export function trainingMedians(dataset: Dataset, columns: readonly string[], train: readonly number[]): Record<string, number> {
  const medians: Record<string, number> = {};
  for (const column of columns) {
    const j = dataset.columns.indexOf(column);
    const values = train.map((i) => dataset.rows[i]![j]!);
    if (values.every(Number.isNaN)) throw new DatasetError(`column "${column}" is empty in every training row: it has no median`, { column });
    medians[column] = medianOf(values);
  }
  return medians;
}

/** Like checkRows, for a table with missing (NaN) cells: the values present lie in their declared range or choices. */
function checkPresentValues(dataset: Dataset, inputs: readonly ModelInput[]): void {
  const columns = inputs.map((input) => dataset.columns.indexOf(input.name));
  dataset.rows.forEach((row, i) => {
    inputs.forEach((input, k) => {
      const value = row[columns[k]!]!;
      if (Number.isNaN(value)) return;
      try {
        checkInputValue(input, value);
      } catch (err) {
        if (err instanceof ReadingError) throw new DatasetError(`row ${i + 1}: ${err.message}`, { row: i + 1, column: input.name });
        throw err;
      }
    });
  });
}

function subset(dataset: Dataset, keep: readonly number[]): Dataset {
  return {
    ...dataset,
    rows: keep.map((i) => dataset.rows[i]!),
    features: keep.map((i) => dataset.features[i]!),
    labels: keep.map((i) => dataset.labels[i]!),
  };
}

function prepareDataset(options: TrainOptions, dataset: Dataset): Prepared {
  const spec: FeatureSpec = { columns: options.features, transforms: options.transforms, oneHot: options.oneHot };
  const drafts = planFeatures(dataset, spec);
  const inputs = options.inputs ? selectInputs(options.inputs, dataset, drafts) : undefined;
  const policy = options.missing;
  if (policy === undefined) {
    // Ranges before transforms: a row outside a declared range is an entry error, whatever the transform makes of it.
    if (inputs) checkRows(dataset, inputs);
    const values = transformRows(dataset, drafts);
    return { dataset, drafts, ...(inputs ? { inputs } : {}), valuesFor: () => ({ values }) };
  }

  if (inputs) checkPresentValues(dataset, inputs);
  const read = [...new Set(drafts.map((d) => d.input ?? d.name))];
  const readIndex = read.map((column) => dataset.columns.indexOf(column));
  const incomplete = dataset.rows.map((row) => readIndex.filter((j) => Number.isNaN(row[j]!)).length);
  const emptyCells = incomplete.reduce((a, b) => a + b, 0);

  if (policy === "drop") {
    const keep = dataset.rows.map((_, i) => i).filter((i) => incomplete[i] === 0);
    const droppedRows = dataset.rows.map((_, i) => i).filter((i) => incomplete[i]! > 0).map((i) => i + 1);
    const kept = subset(dataset, keep);
    let values: number[][];
    try {
      values = transformRows(kept, drafts);
    } catch (err) {
      // transformRows numbers the kept rows: name the CSV row instead.
      if (err instanceof DatasetError && err.row !== undefined) {
        const row = keep[err.row - 1]! + 1;
        throw new DatasetError(err.message.replace(/^row \d+/, `row ${row}`), { row, ...(err.column !== undefined ? { column: err.column } : {}) });
      }
      throw err;
    }
    return {
      dataset: kept,
      drafts,
      ...(inputs ? { inputs } : {}),
      valuesFor: () => ({ values, missing: { policy: "drop" } }),
      missing: { policy, emptyCells, droppedRows },
    };
  }

  return {
    dataset,
    drafts,
    ...(inputs ? { inputs } : {}),
    valuesFor: (train) => {
      // Medians of the training rows only: a held-out row's value never reaches the fit.
      const medians = trainingMedians(dataset, read, train);
      for (const draft of drafts) {
        if (draft.transform === "one-hot" && !draft.categories.includes(medians[draft.input!]!)) {
          throw new DatasetError(
            `the median of "${draft.input}" over the training rows, ${medians[draft.input!]}, is not one of its one-hot categories ` +
              `(${draft.categories.join(", ")}): median imputation cannot fill this column; use --missing drop`,
            { column: draft.input },
          );
        }
      }
      const rows = dataset.rows.map((row) => row.map((v, j) => (Number.isNaN(v) && medians[dataset.columns[j]!] !== undefined ? medians[dataset.columns[j]!]! : v)));
      return { values: transformRows({ ...dataset, rows }, drafts), missing: { policy: "median", medians } };
    },
    missing: { policy, emptyCells },
  };
}

function hiddenSettings(options: TrainOptions): Required<HiddenOptions> | undefined {
  const h = options.hidden;
  if (h === undefined) return undefined;
  if (!Number.isInteger(h.units) || h.units < 1 || h.units > 16) throw new RangeError(`hidden units must be an integer in 1..16, got ${h.units}`);
  return {
    units: h.units,
    activation: h.activation ?? HIDDEN_DEFAULTS.activation,
    epochs: h.epochs ?? HIDDEN_DEFAULTS.epochs,
    learningRate: h.learningRate ?? HIDDEN_DEFAULTS.learningRate,
    momentum: h.momentum ?? HIDDEN_DEFAULTS.momentum,
  };
}

/** Standardise on the training rows, fit the stages, and assemble everything but the metrics. */
function fitDraft(options: FixedC, prepared: Prepared, train: readonly number[]): { draft: Draft; fit: TrainResult["fit"] } {
  const { dataset, drafts, inputs } = prepared;
  const { values, missing } = prepared.valuesFor(train);
  const labels = train.map((i) => dataset.labels[i]!);
  const rawTrain = train.map((i) => values[i]!);
  const standardiser = fitStandardiser(rawTrain, drafts.map((d) => d.name));
  const features = drafts.map((d, j): Feature => ({ ...d, mean: standardiser.mean[j]!, std: standardiser.std[j]! }));
  let tuples = rawTrain.map((row) => standardiseRow(standardiser, row));

  const hiddenOptions = hiddenSettings(options);
  let hidden: Model["hidden"];
  let hiddenLoss: number | undefined;
  if (hiddenOptions) {
    const { units, activation, epochs, learningRate, momentum } = hiddenOptions;
    const layer = fitHiddenLayer(tuples, labels, { units, activation, C: options.l2C, seed: options.seed, epochs, learningRate, momentum });
    hiddenLoss = layer.loss;
    const activations = tuples.map((x) =>
      layer.weights.map((row, j) => activate(activation, row.reduce((s, w, k) => s + w * x[k]!, layer.bias[j]!))),
    );
    const names = layer.weights.map((_, j) => `${activation}(h${j + 1})`);
    const hiddenStandardiser = fitStandardiser(activations, names);
    hidden = [
      {
        server: { stage: "linear", weights: layer.weights, bias: layer.bias },
        client: {
          stage: "activation",
          activation,
          outputs: names.map((name, j) => ({ name, mean: hiddenStandardiser.mean[j]!, std: hiddenStandardiser.std[j]! })),
        },
      },
    ];
    tuples = activations.map((row) => standardiseRow(hiddenStandardiser, row));
  }

  const fit = fitLogisticRegression(tuples, labels, { C: options.l2C });
  if (!fit.converged) {
    throw new NotConvergedError(`logistic regression did not converge: gradient norm ${fit.gradientNorm} after ${fit.iterations} Newton steps`);
  }
  const sigmoid = options.nonInteractive ? sigmoidStage(options.nonInteractive, tuples.map((x) => x.reduce((t, v, i) => t + fit.weights[i]! * v, fit.bias))) : undefined;
  const widest = Math.max(features.length, ...(hidden ?? []).map((round) => round.server.weights.length));
  const needs = { width: widest, depth: sigmoid ? 1 + polynomialDepth(sigmoid.degree) : 1, packed: hidden !== undefined };
  const parameterSet = options.parameterSet === "smallest" ? smallestParameterSet(needs) : (options.parameterSet ?? DEFAULT_PARAMETER_SET);
  const draft: Draft = {
    format: MODEL_FORMAT,
    name: options.name,
    version: options.version,
    description: options.description,
    target: { column: options.target, positiveMeans: options.positiveMeans },
    features,
    ...(inputs ? { inputs } : {}),
    ...(missing ? { missing } : {}),
    ...(hidden ? { hidden } : {}),
    server: { stage: "linear", weights: fit.weights, bias: fit.bias, ...(sigmoid ? { sigmoid } : {}) },
    client: { final: "sigmoid", threshold: options.threshold ?? DEFAULT_THRESHOLD },
    fhe: { parameterSet },
    training: {
      dataset: options.datasetName,
      datasetSha256: options.datasetSha256,
      seed: options.seed,
      testFraction: options.testFraction,
      stratified: true,
      l2C: options.l2C,
      solver: SOLVER,
      ...(hiddenOptions ? { hiddenSolver: describeHiddenMethod({ ...hiddenOptions, seed: options.seed }) } : {}),
    },
  };
  return { draft, fit: { iterations: fit.iterations, gradientNorm: fit.gradientNorm, hiddenLoss } };
}

/** The non-interactive stage: a polynomial fitted on an interval that holds every training logit. */
function sigmoidStage(request: NonNullable<TrainOptions["nonInteractive"]>, logits: readonly number[]): SigmoidStage {
  const range: [number, number] = [Math.min(...logits), Math.max(...logits)];
  const interval = request.interval ?? logitInterval(logits);
  const outside = logits.filter((t) => t < interval[0] || t > interval[1]).length;
  if (outside > 0) throw new PolynomialIntervalError(interval, outside, range);
  const degree = request.degree ?? DEFAULT_SIGMOID_DEGREE;
  const poly = fitSigmoidPolynomial(interval, degree);
  return { degree, interval: [poly.interval[0], poly.interval[1]], coefficients: [...poly.coefficients], maxError: poly.maxError };
}

/**
 * Scores rows exactly as the product does: raw CSV readings through `predictPlaintext` (client transforms,
 * standardisation, every round, sigmoid, threshold). AUC is ranked on the logit, which orders rows like the
 * probability but without ties from probabilities rounding to 1.
 */
export function evaluateModel(model: Model, dataset: Dataset, indices: readonly number[]): SplitMetrics {
  const labels = indices.map((i) => dataset.labels[i]!);
  const predictions = indices.map((i) => predictPlaintext(model, readingFromRow(dataset.columns, dataset.rows[i]!, [dataset.target])));
  return {
    accuracy: accuracy(labels, predictions.map((p) => p.predictedClass)),
    auc: rocAuc(labels, predictions.map((p) => p.logit)),
    rows: indices.length,
  };
}

function placeholderMetrics(split: Split): Model["metrics"] {
  return { train: { accuracy: 0, auc: 0, rows: split.train.length }, test: { accuracy: 0, auc: 0, rows: split.test.length } };
}

function validated(value: unknown): Model {
  try {
    return parseModel(value);
  } catch (err) {
    if (err instanceof ModelFormatError && /must stay within/.test(err.message)) {
      throw new ModelFormatError(`${err.message}\nThe fitted weights are too large for the encrypted range: train with a smaller C.`);
    }
    throw err;
  }
}

/**
 * Mean log-loss on fold.test of the pipeline fitted with options.l2C on fold.train, or undefined when the final
 * stage does not converge. Scored like evaluateModel (raw readings through predictPlaintext) but without validating
 * the fold's model: a fold's weights may exceed the encrypted range without that making its score meaningless.
 */
function heldOutLogLoss(options: FixedC, prepared: Prepared, fold: Split): number | undefined {
  let draft: Draft;
  try {
    draft = fitDraft(options, prepared, fold.train).draft;
  } catch (err) {
    if (err instanceof NotConvergedError) return undefined;
    throw err;
  }
  const model: Model = { ...draft, metrics: placeholderMetrics(fold) };
  const { dataset } = prepared;
  const logits = fold.test.map((i) => predictPlaintext(model, readingFromRow(dataset.columns, dataset.rows[i]!, [dataset.target])).logit);
  return meanLogLoss(fold.test.map((i) => dataset.labels[i]!), logits);
}

function selectPrepared(options: TrainOptions, prepared: Prepared, train: readonly number[]): CSelection {
  if (options.hidden !== undefined) throw new RangeError(AUTO_C_WITH_HIDDEN);
  return selectC(prepared.dataset.labels, train, options.seed, (C, fold) => heldOutLogLoss({ ...options, l2C: C }, prepared, fold));
}

/** The options with a numeric C: as given, or for "auto" the C chosen on the `train` rows alone. */
function resolveC(options: TrainOptions, prepared: Prepared, train: readonly number[]): { options: FixedC; cSelection?: CSelection } {
  const C = options.l2C;
  if (C !== "auto") return { options: { ...options, l2C: C } };
  const cSelection = selectPrepared(options, prepared, train);
  return { options: { ...options, l2C: cSelection.chosen }, cSelection };
}

function trainOnSplit(options: TrainOptions, prepared: Prepared, split: Split): Omit<TrainResult, "crossValidation"> {
  // "auto" looks at split.train only: the held-out rows never influence the choice of C.
  const { options: fixed, cSelection } = resolveC(options, prepared, split.train);
  const { draft, fit } = fitDraft(fixed, prepared, split.train);
  // Validate before scoring, so predictPlaintext sees a well-formed model; then again with the real metrics.
  const scored = validated({ ...draft, metrics: placeholderMetrics(split) });
  const metrics = { train: evaluateModel(scored, prepared.dataset, split.train), test: evaluateModel(scored, prepared.dataset, split.test) };
  return { model: validated({ ...draft, metrics }), split, fit, ...(cSelection ? { cSelection } : {}) };
}

/** With l2C "auto", every fold chooses its own C on its own training rows (nested cross-validation). */
function crossValidatePrepared(options: TrainOptions, prepared: Prepared, k: number): CrossValidation {
  const folds = stratifiedKFold(prepared.dataset.labels, k, options.seed).map(
    (split) => trainOnSplit(options, prepared, split).model.metrics.test,
  );
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return { folds, accuracy: mean(folds.map((f) => f.accuracy)), auc: mean(folds.map((f) => f.auc)) };
}

function foldCount(options: TrainOptions): number {
  const k = options.folds ?? DEFAULT_FOLDS;
  if (!Number.isInteger(k) || k < 0 || k === 1) throw new RangeError(`folds must be 0 (none) or an integer >= 2, got ${k}`);
  return k;
}

/**
 * Trains on a stratified seeded split of the CSV and reports accuracy and AUC on both parts, plus (unless
 * folds is 0) stratified k-fold cross-validation of the same pipeline, every fold fitting its own standardiser.
 */
export function trainModel(options: TrainOptions): TrainResult {
  const k = foldCount(options);
  if (options.l2C === "auto" && options.hidden !== undefined) throw new RangeError(AUTO_C_WITH_HIDDEN);
  const prepared = prepare(options);
  const split = stratifiedSplit(prepared.dataset.labels, options.testFraction, options.seed);
  const trained = trainOnSplit(options, prepared, split);
  // The recorded cross-validation uses the chosen C, exactly as a run with --C <chosen> would: same model bytes.
  const fixed: FixedC = { ...options, l2C: trained.model.training.l2C };
  const recorded = trained.model.missing;
  const result = prepared.missing
    ? { ...trained, missing: { ...prepared.missing, ...(recorded?.policy === "median" ? { medians: recorded.medians } : {}) } }
    : trained;
  if (k === 0) return result;
  const cv = crossValidatePrepared(fixed, prepared, k);
  const crossValidation = { folds: k, accuracy: cv.accuracy, auc: cv.auc, perFold: cv.folds };
  const model = validated({ ...result.model, metrics: { ...result.model.metrics, crossValidation } });
  return { ...result, model, crossValidation: cv };
}

/**
 * The same pipeline on a given data set and split: for callers that prepare rows themselves (an experiment that
 * imputes missing cells per fold, say). The model's metrics are those of this split. With l2C "auto", C is chosen on
 * split.train alone.
 */
export function trainOnDatasetSplit(options: TrainOptions, dataset: Dataset, split: Split): Model {
  return trainOnSplit(options, prepareDataset(options, dataset), split).model;
}

/**
 * Stratified k-fold cross-validation with the same pipeline (standardiser fitted per fold); testFraction is ignored.
 * With l2C "auto", each fold chooses its C on its own training rows (nested cross-validation).
 */
export function crossValidate(options: TrainOptions, k: number): CrossValidation {
  return crossValidatePrepared(options, prepare(options), k);
}

/**
 * The `--C auto` search on its own: every grid value's cross-validated log-loss over the `train` rows (indices into
 * the data set's rows; under missing "drop", into the rows kept) and the chosen C. No other row is read.
 */
export function selectL2C(options: TrainOptions, train: readonly number[]): CSelection {
  return selectPrepared(options, prepare(options), train);
}
