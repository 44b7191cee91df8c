import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import { MODEL_FORMAT, parseModel, predictPlaintext, type Model } from "../protocol/model.js";
import { loadDataset, readingFromRow, type Dataset } from "./dataset.js";
import { DEFAULT_TOLERANCE, fitLogisticRegression } from "./logistic-regression.js";
import { accuracy, rocAuc } from "./metrics.js";
import { stratifiedKFold, stratifiedSplit, type Split } from "./split.js";
import { fitStandardiser, standardiseRow } from "./standardise.js";

export { readingFromRow } from "./dataset.js";

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
}

export interface TrainResult {
  model: Model;
  /** Row indices (0-based, into the CSV's data rows) of the training and held-out rows. */
  split: Split;
  /** Newton steps and final gradient norm of the logistic-regression fit. */
  fit: { iterations: number; gradientNorm: number };
}

export interface SplitMetrics {
  accuracy: number;
  auc: number;
  rows: number;
}

export const SOLVER = `newton-irls; l2 on weights, intercept unpenalised; gradient norm < ${DEFAULT_TOLERANCE} * C`;
const THRESHOLD = 0.5;

type Draft = Omit<Model, "metrics">;

/** Standardise on the training rows, fit the logistic regression, and assemble everything but the metrics. */
function fitDraft(options: TrainOptions, dataset: Dataset, train: readonly number[]): { draft: Draft; fit: TrainResult["fit"] } {
  const trainFeatures = train.map((i) => dataset.features[i]!);
  const standardiser = fitStandardiser(trainFeatures, dataset.featureNames);
  const fit = fitLogisticRegression(
    trainFeatures.map((row) => standardiseRow(standardiser, row)),
    train.map((i) => dataset.labels[i]!),
    { C: options.l2C },
  );
  if (!fit.converged) {
    throw new Error(`logistic regression did not converge: gradient norm ${fit.gradientNorm} after ${fit.iterations} Newton steps`);
  }
  const draft: Draft = {
    format: MODEL_FORMAT,
    name: options.name,
    version: options.version,
    description: options.description,
    target: { column: options.target, positiveMeans: options.positiveMeans },
    features: dataset.featureNames.map((name, j) => ({
      name,
      transform: "identity",
      mean: standardiser.mean[j]!,
      std: standardiser.std[j]!,
    })),
    server: { stage: "linear", weights: fit.weights, bias: fit.bias },
    client: { final: "sigmoid", threshold: THRESHOLD },
    fhe: { parameterSet: DEFAULT_PARAMETER_SET },
    training: {
      dataset: options.datasetName,
      datasetSha256: options.datasetSha256,
      seed: options.seed,
      testFraction: options.testFraction,
      stratified: true,
      l2C: options.l2C,
      solver: SOLVER,
    },
  };
  return { draft, fit: { iterations: fit.iterations, gradientNorm: fit.gradientNorm } };
}

/**
 * Scores rows exactly as the product does: raw CSV readings through `predictPlaintext` (standardise with the
 * model's constants, linear stage, sigmoid, threshold). AUC is ranked on the logit, which orders rows like the
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

function trainOnSplit(options: TrainOptions, dataset: Dataset, split: Split): TrainResult {
  const { draft, fit } = fitDraft(options, dataset, split.train);
  // Validate before scoring, so predictPlaintext sees a well-formed model; then again with the real metrics.
  const scored = parseModel({ ...draft, metrics: placeholderMetrics(split) });
  const metrics = { train: evaluateModel(scored, dataset, split.train), test: evaluateModel(scored, dataset, split.test) };
  return { model: parseModel({ ...draft, metrics }), split, fit };
}

/** Trains on a stratified seeded split of the CSV and reports accuracy and AUC on both parts. */
export function trainModel(options: TrainOptions): TrainResult {
  const dataset = loadDataset(options.csvText, options.target);
  const split = stratifiedSplit(dataset.labels, options.testFraction, options.seed);
  return trainOnSplit(options, dataset, split);
}

export interface CrossValidation {
  folds: SplitMetrics[];
  /** Means over the folds of the held-out fold's accuracy and AUC. */
  accuracy: number;
  auc: number;
}

/** Stratified k-fold cross-validation with the same pipeline (standardiser fitted per fold); testFraction is ignored. */
export function crossValidate(options: TrainOptions, k: number): CrossValidation {
  const dataset = loadDataset(options.csvText, options.target);
  const folds = stratifiedKFold(dataset.labels, k, options.seed).map((split) => trainOnSplit(options, dataset, split).model.metrics.test);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return { folds, accuracy: mean(folds.map((f) => f.accuracy)), auc: mean(folds.map((f) => f.auc)) };
}
