import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import {
  activate,
  MODEL_FORMAT,
  ModelFormatError,
  parseModel,
  predictPlaintext,
  type Activation,
  type Feature,
  type Model,
  type ModelInput,
} from "../protocol/model.js";
import { loadDataset, readingFromRow, type Dataset } from "./dataset.js";
import { planFeatures, transformRows, type FeatureDraft, type FeatureSpec, type TransformName } from "./features.js";
import { checkRows, selectInputs } from "./inputs.js";
import { describeHiddenMethod, fitHiddenLayer, HIDDEN_DEFAULTS } from "./hidden-layer.js";
import { DEFAULT_TOLERANCE, fitLogisticRegression } from "./logistic-regression.js";
import { accuracy, rocAuc } from "./metrics.js";
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
  l2C: number;
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

export interface TrainResult {
  model: Model;
  /** Row indices (0-based, into the CSV's data rows) of the training and held-out rows. */
  split: Split;
  /** Newton steps and final gradient norm of the final stage's logistic regression; the hidden layer's final loss. */
  fit: { iterations: number; gradientNorm: number; hiddenLoss?: number };
  crossValidation?: CrossValidation;
}

export const SOLVER = `newton-irls; l2 on weights, intercept unpenalised; gradient norm < ${DEFAULT_TOLERANCE} * C`;

type Draft = Omit<Model, "metrics">;

/** Data set, tuple plan and transformed values, shared by the held-out fit and every fold. */
interface Prepared {
  dataset: Dataset;
  drafts: FeatureDraft[];
  /** The embedded input descriptions, when the options give metadata. */
  inputs?: ModelInput[];
  /** Per row, the transformed (not standardised) round-0 values. */
  values: number[][];
}

function prepare(options: TrainOptions): Prepared {
  return prepareDataset(options, loadDataset(options.csvText, options.target));
}

function prepareDataset(options: TrainOptions, dataset: Dataset): Prepared {
  const spec: FeatureSpec = { columns: options.features, transforms: options.transforms, oneHot: options.oneHot };
  const drafts = planFeatures(dataset, spec);
  const inputs = options.inputs ? selectInputs(options.inputs, dataset, drafts) : undefined;
  // Ranges before transforms: a row outside a declared range is an entry error, whatever the transform makes of it.
  if (inputs) checkRows(dataset, inputs);
  return { dataset, drafts, ...(inputs ? { inputs } : {}), values: transformRows(dataset, drafts) };
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
function fitDraft(options: TrainOptions, prepared: Prepared, train: readonly number[]): { draft: Draft; fit: TrainResult["fit"] } {
  const { dataset, drafts, inputs, values } = prepared;
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
    throw new Error(`logistic regression did not converge: gradient norm ${fit.gradientNorm} after ${fit.iterations} Newton steps`);
  }
  const draft: Draft = {
    format: MODEL_FORMAT,
    name: options.name,
    version: options.version,
    description: options.description,
    target: { column: options.target, positiveMeans: options.positiveMeans },
    features,
    ...(inputs ? { inputs } : {}),
    ...(hidden ? { hidden } : {}),
    server: { stage: "linear", weights: fit.weights, bias: fit.bias },
    client: { final: "sigmoid", threshold: options.threshold ?? DEFAULT_THRESHOLD },
    fhe: { parameterSet: DEFAULT_PARAMETER_SET },
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

function trainOnSplit(options: TrainOptions, prepared: Prepared, split: Split): Omit<TrainResult, "crossValidation"> {
  const { draft, fit } = fitDraft(options, prepared, split.train);
  // Validate before scoring, so predictPlaintext sees a well-formed model; then again with the real metrics.
  const scored = validated({ ...draft, metrics: placeholderMetrics(split) });
  const metrics = { train: evaluateModel(scored, prepared.dataset, split.train), test: evaluateModel(scored, prepared.dataset, split.test) };
  return { model: validated({ ...draft, metrics }), split, fit };
}

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
  const prepared = prepare(options);
  const split = stratifiedSplit(prepared.dataset.labels, options.testFraction, options.seed);
  const result = trainOnSplit(options, prepared, split);
  if (k === 0) return result;
  const cv = crossValidatePrepared(options, prepared, k);
  const crossValidation = { folds: k, accuracy: cv.accuracy, auc: cv.auc, perFold: cv.folds };
  const model = validated({ ...result.model, metrics: { ...result.model.metrics, crossValidation } });
  return { ...result, model, crossValidation: cv };
}

/**
 * The same pipeline on a given data set and split: for callers that prepare rows themselves (an experiment that
 * imputes missing cells per fold, say). The model's metrics are those of this split.
 */
export function trainOnDatasetSplit(options: TrainOptions, dataset: Dataset, split: Split): Model {
  return trainOnSplit(options, prepareDataset(options, dataset), split).model;
}

/** Stratified k-fold cross-validation with the same pipeline (standardiser fitted per fold); testFraction is ignored. */
export function crossValidate(options: TrainOptions, k: number): CrossValidation {
  return crossValidatePrepared(options, prepare(options), k);
}
