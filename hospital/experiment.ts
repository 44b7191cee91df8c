/**
 * The accuracy experiment: does encryption cost accuracy? For a data set, stratified k-fold cross-validation of the
 * project's logistic-regression pipeline, and for every held-out row three predictions from the same fold model:
 *
 *   plaintext          predictPlaintext: client transforms, standardisation, T = w·x + b, σ(T), threshold
 *   interactive        the client encrypts the fold's standardised tuples (one job, layout from chooseLayout), the
 *                      server evaluates T = w·x + b under CKKS (evaluateLinearBatch), the client decrypts T and
 *                      applies σ and the threshold (finalPrediction): the protocol's default
 *   non-interactive    the server also evaluates a degree-3 polynomial p(T) ≈ σ(T) (evaluateSigmoidPoly), fitted on
 *                      `logitInterval` of the fold's TRAINING rows' logits; the client decrypts p and thresholds it
 *
 * WDBC runs twice: with the 16 columns of models/wdbc-logreg.v1.json (chosen when a tuple held at most 16 entries)
 * and with all 30 columns (`WDBC_ALL_EXPERIMENT`, a 30-entry tuple: record stride 32, keys made for 30 values), so
 * the report sets the two side by side. Every fold also records what its encrypted job cost (`FoldCost`).
 *
 * Each fold is trained exactly as `hospital/train.ts` trains a fold of its cross-validation (same feature plan,
 * standardiser fitted on the training rows, Newton logistic regression, same model document); `runExperiment`
 * checks this by comparing the plaintext fold metrics with the trainer's own `crossValidate`.
 *
 * Browser-safe: no Node imports. File reading, hashing and printing are in scripts/experiment.ts.
 */
import { CkksEngine, type KeySet } from "../protocol/fhe/engine.js";
import { chooseLayout, recordStride, type Layout } from "../protocol/fhe/layouts.js";
import {
  DEFAULT_SIGMOID_DEGREE,
  evaluateSigmoidPolynomial,
  fitSigmoidPolynomial,
  logistic,
  logitInterval,
  type SigmoidPolynomial,
} from "../protocol/fhe/sigmoid.js";
import { contentHash } from "../protocol/hash.js";
import {
  buildTuple,
  finalPrediction,
  linearLogit,
  modelHash,
  predictPlaintext,
  type Model,
} from "../protocol/model.js";
import { DatasetError } from "./csv.js";
import { loadDataset, readingFromRow, type Dataset } from "./dataset.js";
import type { TransformName } from "./features.js";
import { accuracy, rocAuc } from "./metrics.js";
import { PLAINTEXT_REFERENCES } from "./references.js";
import { stratifiedKFold, type Split } from "./split.js";
import { SCIKIT_LEARN_REFERENCE, STATLOG_HEART } from "./statlog-heart.js";
import { crossValidate, medianOf, trainOnDatasetSplit, type TrainOptions } from "./train.js";

// ---------------------------------------------------------------------------------------------------------------
// Data sets and their training options
// ---------------------------------------------------------------------------------------------------------------

/** A plaintext reference published with the data (scikit-learn, see data/README.md and the shared SOURCES.md). */
export interface ExperimentReference {
  /** What the reference model used, e.g. "all 13 columns". */
  features: string;
  folds: number;
  accuracy: number;
  auc: number;
}

/** Everything the experiment needs to know about a data set, except its bytes. */
export interface ExperimentSpec {
  /** Short identifier, lower-case with dashes: "statlog-heart". */
  id: string;
  /** Shown in tables and the chart. */
  title: string;
  /** Path of the CSV, relative to the project root (or as given on the command line). */
  data: string;
  target: string;
  positiveMeans: string;
  /** Input columns in tuple order; default every column except the target. */
  features?: readonly string[];
  transforms?: Readonly<Record<string, readonly TransformName[]>>;
  oneHot?: Readonly<Record<string, readonly number[]>>;
  l2C: number;
  /**
   * How empty cells are filled. "median": per fold, each column's median over that fold's TRAINING rows (the mean
   * of the two middle values for an even count), applied to the fold's training and held-out rows alike.
   * Without it an empty cell is an error, as in the trainer.
   */
  impute?: "median";
  reference?: ExperimentReference;
}

/** The 13 clinical columns shared by the two heart tables, in file order. */
export const HEART_COLUMNS = [
  "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal",
] as const;

/** statlog-heart-logreg.v1.json: the trainer's defaults (every column, identity, C from STATLOG_HEART). */
export const STATLOG_HEART_EXPERIMENT: ExperimentSpec = {
  id: "statlog-heart",
  title: "Statlog (Heart)",
  data: STATLOG_HEART.data,
  target: STATLOG_HEART.target,
  positiveMeans: STATLOG_HEART.positiveMeans,
  l2C: STATLOG_HEART.l2C,
  reference: { features: "all 13 columns", ...SCIKIT_LEARN_REFERENCE.crossValidation },
};

/**
 * wdbc-logreg.v1.json, whose options were only written out in the models/README.md command: the worst value and
 * the standard error of 8 of the 10 measurements (perimeter and area dropped as functions of the radius), identity
 * transforms, C = 1. models/README.md explains the choice; test/hospital/experiment.test.ts checks these against
 * the committed model.
 */
export const WDBC_LOGREG = {
  data: "data/wdbc.csv",
  target: "malignant",
  positiveMeans: "malignant breast mass",
  name: "wdbc-logreg",
  version: 1,
  features: [
    "radius_worst", "texture_worst", "smoothness_worst", "compactness_worst", "concavity_worst", "concave_points_worst",
    "symmetry_worst", "fractal_dimension_worst", "radius_se", "texture_se", "smoothness_se", "compactness_se",
    "concavity_se", "concave_points_se", "symmetry_se", "fractal_dimension_se",
  ],
  l2C: 1,
  seed: 42,
  testFraction: 0.2,
} as const;

const WDBC_SHA256 = "3df6821a97b59154efb1f79fbd20883f99751d5c12b381d2d1ca045061ab5db0";

export const WDBC_EXPERIMENT: ExperimentSpec = {
  id: "wdbc",
  title: "WDBC",
  data: WDBC_LOGREG.data,
  target: WDBC_LOGREG.target,
  positiveMeans: WDBC_LOGREG.positiveMeans,
  features: WDBC_LOGREG.features,
  l2C: WDBC_LOGREG.l2C,
  reference: { features: "all 30 columns", ...PLAINTEXT_REFERENCES[WDBC_SHA256]!.crossValidation },
};

/** Every measurement column of data/wdbc.csv, in file order: ten measurements as mean, standard error and worst. */
export const WDBC_ALL_COLUMNS = [
  "radius_mean", "texture_mean", "perimeter_mean", "area_mean", "smoothness_mean", "compactness_mean", "concavity_mean",
  "concave_points_mean", "symmetry_mean", "fractal_dimension_mean",
  "radius_se", "texture_se", "perimeter_se", "area_se", "smoothness_se", "compactness_se", "concavity_se",
  "concave_points_se", "symmetry_se", "fractal_dimension_se",
  "radius_worst", "texture_worst", "perimeter_worst", "area_worst", "smoothness_worst", "compactness_worst",
  "concavity_worst", "concave_points_worst", "symmetry_worst", "fractal_dimension_worst",
] as const;

/**
 * WDBC with all 30 columns, now that a tuple takes up to `maxTupleValues` (256 at ckks-n8192-d3) entries: otherwise
 * as WDBC_EXPERIMENT (identity transforms, C = WDBC_LOGREG.l2C, the same seed and so the same folds), so the two
 * rows differ only in the 14 columns models/wdbc-logreg.v1.json had to drop. The scikit-learn reference used these
 * same 30 columns.
 */
export const WDBC_ALL_EXPERIMENT: ExperimentSpec = {
  ...WDBC_EXPERIMENT,
  id: "wdbc-30",
  title: "WDBC, all 30 columns",
  features: WDBC_ALL_COLUMNS,
};

/**
 * UCI Heart Disease, Cleveland (303 rows), with the heart model's choices: the 13 clinical columns as they are,
 * C as for Statlog. Not the `num` column (disease stage 0-4, from which the target is derived). Six cells are
 * empty (`ca` x4, `thal` x2): median-imputed per fold from the training rows. Not shipped (its copy may not be
 * redistributed here): `npm run experiment -- --cleveland <csv>` names the file.
 */
export const CLEVELAND_EXPERIMENT: ExperimentSpec = {
  id: "cleveland",
  title: "Cleveland",
  data: "heart_cleveland.csv",
  target: "target",
  positiveMeans: "heart disease present (num > 0)",
  features: HEART_COLUMNS,
  l2C: STATLOG_HEART.l2C,
  impute: "median",
  // scikit-learn LogisticRegression(C=1), StandardScaler, median imputation, stratified 5-fold, random_state 42.
  reference: { features: "13 columns, median-imputed", folds: 5, accuracy: 0.832, auc: 0.912 },
};

/** The data sets shipped in data/, in report order: what `npm run experiment` always runs (Cleveland on request). */
export const SHIPPED_EXPERIMENTS: readonly ExperimentSpec[] = [STATLOG_HEART_EXPERIMENT, WDBC_EXPERIMENT, WDBC_ALL_EXPERIMENT];

export const DEFAULT_EXPERIMENT_FOLDS = 5;
export const DEFAULT_EXPERIMENT_SEED = STATLOG_HEART.seed;

// ---------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------

export const METHODS = ["plaintext", "interactive", "nonInteractive"] as const;
export type Method = (typeof METHODS)[number];
export const METHOD_LABELS: Readonly<Record<Method, string>> = {
  plaintext: "plaintext",
  interactive: "CKKS interactive",
  nonInteractive: "CKKS non-interactive (degree-3 σ)",
};
export const METRICS = ["accuracy", "auc"] as const;
export type Metric = (typeof METRICS)[number];

/** One held-out row's three predictions. */
export interface RowPrediction {
  /** 0-based data row of the CSV. */
  row: number;
  fold: number;
  label: number;
  /** Plaintext logit T and p = σ(T). */
  logit: number;
  plaintext: number;
  /** Decrypted T and σ(decrypted T). */
  decryptedLogit: number;
  interactive: number;
  /** Decrypted p(T), the server's polynomial. */
  nonInteractive: number;
  /** The same polynomial evaluated in plaintext on the plaintext logit. */
  polynomial: number;
}

export interface MeanSd {
  mean: number;
  /** Sample standard deviation over the folds (n − 1). */
  sd: number;
}

export interface MethodSummary {
  /** Over all held-out predictions of every fold (each row once). */
  accuracy: number;
  auc: number;
  /** Over the folds' held-out metrics. */
  foldAccuracy: MeanSd;
  foldAuc: MeanSd;
  /** max over rows of |p_method − p_plaintext|. */
  maxAbsDeltaP: number;
  /** Fraction of rows whose class equals the plaintext class, and how many differ. */
  classAgreement: number;
  disagreements: number;
}

/**
 * What one fold's encrypted work cost: the patient's key set, the uploaded job, the server's two evaluations
 * (linear and sigmoid-poly, over the same uploaded records) and the decryptions. Sums over the fold's jobs (one
 * job per fold unless the held-out rows exceed a ciphertext). Times are wall clock on the machine that ran it.
 */
export interface FoldCost {
  /** Tuple width, its record stride in the rotation layouts, and the Galois steps the key bundle holds. */
  values: number;
  stride: number;
  galoisSteps: number[];
  jobs: number;
  /** Evaluation-key bundle (public key, Galois keys, relinearization keys) as uploaded. */
  keyBundleBytes: number;
  /** The encrypted records, as uploaded. */
  recordBytes: number;
  /** The two results the patient downloads. */
  linearResultBytes: number;
  sigmoidResultBytes: number;
  /** Milliseconds: key generation; encryption; server linear and sigmoid-poly stages; decryption of both results. */
  keygenMs: number;
  encryptMs: number;
  linearMs: number;
  sigmoidMs: number;
  decryptMs: number;
}

/** FoldCost over the folds: the median of every number (a fold's first job also pays for warm-up). */
export type DatasetCost = FoldCost;

export interface FoldResult {
  fold: number;
  trainRows: number;
  testRows: number;
  /** Layout of the fold's encrypted job (one job per fold). */
  layout: Layout;
  cost: FoldCost;
  /** The polynomial fitted on the training rows' logits: its interval, coefficients in u and max |p − σ| there. */
  polynomial: { interval: [number, number]; coefficients: number[]; maxError: number };
  /** Held-out rows whose plaintext logit lies outside the polynomial's interval. */
  testLogitsOutsideInterval: number;
  /** Per method, the held-out fold's accuracy and AUC. */
  methods: Record<Method, { accuracy: number; auc: number; maxAbsDeltaP: number; disagreements: number }>;
  /** Medians used for the columns that had empty cells (imputing data sets only). */
  imputed?: Record<string, number>;
}

export interface DatasetResult {
  id: string;
  title: string;
  data: string;
  sha256: string;
  rows: number;
  positives: number;
  target: string;
  /** The round-0 tuple: entry names in order. */
  features: string[];
  l2C: number;
  threshold: number;
  missingCells: number;
  impute?: "median";
  reference?: ExperimentReference;
  methods: Record<Method, MethodSummary>;
  /** Degree-3 polynomial, over the folds: its own max |p − σ| on its interval, and the CKKS error on top of it. */
  polynomial: {
    degree: number;
    maxErrorMin: number;
    maxErrorMax: number;
    /** max over rows of |decrypted p − p(T) in plaintext|: the CKKS noise of the non-interactive variant. */
    maxCkksError: number;
    /** max over rows of |p(T) − σ(T)| at the held-out rows' plaintext logits. */
    maxApproximationErrorOnRows: number;
    testLogitsOutsideInterval: number;
  };
  /** Do the plaintext fold metrics equal the trainer's crossValidate (data sets without imputation)? */
  trainerCrossValidation?: { matches: boolean; maxDifference: number };
  /** max over rows of |decrypted T − plaintext T|: the CKKS error of the interactive variant, on the logit. */
  maxAbsDeltaLogit: number;
  /** The encrypted jobs' sizes and times, median over the folds. */
  cost: DatasetCost;
  folds: FoldResult[];
  predictions: RowPrediction[];
  seconds: number;
}

export interface ExperimentOptions {
  folds?: number;
  seed?: number;
  /** Sigmoid polynomial degree for the non-interactive variant (the default parameter set evaluates <= 3). */
  degree?: number;
}

export interface ExperimentInput {
  spec: ExperimentSpec;
  csvText: string;
  /** Lower-case hex SHA-256 of the CSV bytes (recorded in the fold models and the report). */
  sha256: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Data: CSV with optional empty cells, per-fold median imputation
// ---------------------------------------------------------------------------------------------------------------

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Like hospital/csv.ts's parseCsv, except that an empty cell is NaN (missing) instead of an error. */
export function parseCsvWithMissing(text: string): { columns: string[]; rows: number[][]; missing: number } {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = body.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length < 2) throw new DatasetError("CSV needs a header row and at least one data row");
  const columns = lines[0]!.split(",").map((c) => c.trim());
  let missing = 0;
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    if (cells.length !== columns.length) throw new DatasetError(`row ${i + 1} has ${cells.length} cells, the header has ${columns.length}`, { row: i + 1 });
    return cells.map((raw, j) => {
      const cell = raw.trim();
      if (cell === "") {
        missing++;
        return Number.NaN;
      }
      if (!NUMBER.test(cell)) throw new DatasetError(`row ${i + 1}, column "${columns[j]}": ${JSON.stringify(cell)} is not a number`, { row: i + 1, column: columns[j] });
      return Number(cell);
    });
  });
  return { columns, rows, missing };
}


/** The table as a Dataset, empty cells filled with the column's median over `train` rows. */
export function imputeMedians(
  table: { columns: string[]; rows: number[][] },
  target: string,
  train: readonly number[],
): { dataset: Dataset; medians: Record<string, number> } {
  const medians: Record<string, number> = {};
  table.columns.forEach((column, j) => {
    if (!table.rows.some((row) => Number.isNaN(row[j]!))) return;
    if (column === target) throw new DatasetError(`the target column "${target}" has empty cells`, { column });
    medians[column] = medianOf(train.map((i) => table.rows[i]![j]!));
  });
  const rows = table.rows.map((row) => row.map((v, j) => (Number.isNaN(v) ? medians[table.columns[j]!]! : v)));
  const text = [table.columns.join(","), ...rows.map((r) => r.join(","))].join("\n") + "\n";
  return { dataset: loadDataset(text, target), medians };
}

// ---------------------------------------------------------------------------------------------------------------
// One fold: train as the trainer does, predict three ways
// ---------------------------------------------------------------------------------------------------------------

/** The trainer options of the experiment's fold models (name and description aside, as the trainer's own). */
export function experimentTrainOptions(input: ExperimentInput, seed: number): TrainOptions {
  const { spec } = input;
  return {
    csvText: input.csvText,
    datasetName: spec.data,
    datasetSha256: input.sha256,
    target: spec.target,
    positiveMeans: spec.positiveMeans,
    name: `${spec.id}-cv`,
    version: 1,
    description: `${spec.title}: cross-validation fold model of the accuracy experiment.`,
    seed,
    testFraction: 0.2,
    l2C: spec.l2C,
    ...(spec.features ? { features: spec.features } : {}),
    ...(spec.transforms ? { transforms: spec.transforms } : {}),
    ...(spec.oneHot ? { oneHot: spec.oneHot } : {}),
  };
}

/** One fold's model: the trainer's own pipeline on this fold's rows (kept as a name for the experiment's callers). */
export function trainFoldModel(options: TrainOptions, dataset: Dataset, split: Split): Model {
  return trainOnDatasetSplit(options, dataset, split);
}

/** Splits `count` rows into jobs of at most one ciphertext's worth (the parameter set's slots). */
function jobChunks(count: number, slots: number): number[][] {
  const jobs = Math.ceil(count / slots);
  const size = Math.ceil(count / jobs);
  return Array.from({ length: jobs }, (_, j) => Array.from({ length: Math.min(size, count - j * size) }, (_, k) => j * size + k));
}

interface FoldPredictions {
  fold: FoldResult;
  rows: RowPrediction[];
}

function runFold(
  engine: CkksEngine,
  dataset: Dataset,
  model: Model,
  split: Split,
  foldIndex: number,
  degree: number,
): Omit<FoldPredictions, "fold"> & { layout: Layout; polynomial: SigmoidPolynomial; cost: FoldCost } {
  const reading = (i: number) => readingFromRow(dataset.columns, dataset.rows[i]!, [dataset.target]);
  const { weights, bias } = model.server;

  // Non-interactive polynomial: fitted on the interval of the TRAINING rows' logits.
  const trainLogits = split.train.map((i) => linearLogit(model, buildTuple(model, reading(i))));
  const polynomial = fitSigmoidPolynomial(logitInterval(trainLogits), degree);

  const plain = split.test.map((i) => predictPlaintext(model, reading(i)));
  const tuples = split.test.map((i) => buildTuple(model, reading(i)));

  // Client: one key set per fold, for this model's tuple width (a bundle for the default 16 values lacks the
  // rotations of wider strides); relinearization keys too, so the same bundle serves both variants.
  const values = model.server.weights.length;
  const chunks = jobChunks(tuples.length, engine.params.slots);
  const layouts = chunks.map((c) => chooseLayout(c.length, values, engine.parameterSetName));
  const keyLayout: Layout = layouts.every((l) => l === "feature-major") ? "feature-major" : "packed-records";
  // A stand-in patient address: it only labels blobs that never leave this process.
  const patient = "0x0000000000000000000000000000000000000001";
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = now - t;
    t = now;
    return ms;
  };
  const keySet: KeySet = engine.generateKeySetFor(keyLayout, { sigmoid: true, patient, maxValues: values });
  const cost: FoldCost = {
    values,
    stride: recordStride(values),
    galoisSteps: [...engine.readKeyBundleHeader(keySet.keyBundle).galoisSteps],
    jobs: chunks.length,
    keyBundleBytes: keySet.keyBundle.length,
    recordBytes: 0,
    linearResultBytes: 0,
    sigmoidResultBytes: 0,
    keygenMs: lap(),
    encryptMs: 0,
    linearMs: 0,
    sigmoidMs: 0,
    decryptMs: 0,
  };
  const cipher = engine.openSecretKey(keySet.secretKey, { patient, keyBundleHash: contentHash(keySet.keyBundle) });
  // Server: loads the uploaded bundle.
  const keys = engine.openEvaluationKeys(keySet.keyBundle);
  const decryptedLogits = new Array<number>(tuples.length);
  const decryptedP = new Array<number>(tuples.length);
  try {
    const hash = modelHash(model);
    chunks.forEach((chunk, j) => {
      lap();
      const record = cipher.encryptRecords(layouts[j]!, chunk.map((k) => tuples[k]!));
      cost.encryptMs += lap();
      const binding = { jobId: `fold-${foldIndex}-job-${j}`, recordHash: contentHash(record), modelHash: hash };
      lap();
      const linearResult = engine.evaluateLinearBatch(keys, record, weights, bias, binding);
      cost.linearMs += lap();
      const polyResult = engine.evaluateSigmoidPoly(keys, record, weights, bias, polynomial, binding);
      cost.sigmoidMs += lap();
      const linear = cipher.decryptBatch(linearResult).values;
      const poly = cipher.decryptBatch(polyResult).values;
      cost.decryptMs += lap();
      cost.recordBytes += record.length;
      cost.linearResultBytes += linearResult.length;
      cost.sigmoidResultBytes += polyResult.length;
      chunk.forEach((k, r) => {
        decryptedLogits[k] = linear[r]!;
        decryptedP[k] = poly[r]!;
      });
    });
  } finally {
    keys.dispose();
    cipher.dispose();
  }

  const rows = split.test.map((i, k): RowPrediction => ({
    row: i,
    fold: foldIndex,
    label: dataset.labels[i]!,
    logit: plain[k]!.logit,
    plaintext: plain[k]!.probability,
    decryptedLogit: decryptedLogits[k]!,
    interactive: finalPrediction(model, decryptedLogits[k]!).probability,
    nonInteractive: decryptedP[k]!,
    polynomial: evaluateSigmoidPolynomial(polynomial, plain[k]!.logit),
  }));
  return { rows, layout: layouts[0]!, polynomial, cost };
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics per method
// ---------------------------------------------------------------------------------------------------------------

/** The probability each method hands the client. */
export function probabilityOf(row: RowPrediction, method: Method): number {
  return row[method];
}

/** The score ranked for the AUC: the logit where the client has it (as evaluateModel ranks), else p. */
function scoreOf(row: RowPrediction, method: Method): number {
  return method === "plaintext" ? row.logit : method === "interactive" ? row.decryptedLogit : row.nonInteractive;
}

export function classOf(row: RowPrediction, method: Method, threshold: number): 0 | 1 {
  return probabilityOf(row, method) >= threshold ? 1 : 0;
}

function methodMetrics(rows: readonly RowPrediction[], method: Method, threshold: number) {
  const labels = rows.map((r) => r.label);
  const classes = rows.map((r) => classOf(r, method, threshold));
  const disagreements = rows.filter((r, k) => classes[k] !== classOf(r, "plaintext", threshold)).length;
  return {
    accuracy: accuracy(labels, classes),
    auc: rocAuc(labels, rows.map((r) => scoreOf(r, method))),
    maxAbsDeltaP: rows.reduce((m, r) => Math.max(m, Math.abs(probabilityOf(r, method) - r.plaintext)), 0),
    disagreements,
  };
}

export function meanSd(values: readonly number[]): MeanSd {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/** The folds' costs as one: the median of every number; width, stride and Galois steps those of the widest fold. */
export function medianCost(costs: readonly FoldCost[]): DatasetCost {
  const widest = costs.reduce((a, b) => (b.values > a.values ? b : a));
  const median = (key: keyof FoldCost): number => medianOf(costs.map((c) => c[key] as number));
  return {
    values: widest.values,
    stride: widest.stride,
    galoisSteps: [...widest.galoisSteps],
    jobs: median("jobs"),
    keyBundleBytes: median("keyBundleBytes"),
    recordBytes: median("recordBytes"),
    linearResultBytes: median("linearResultBytes"),
    sigmoidResultBytes: median("sigmoidResultBytes"),
    keygenMs: median("keygenMs"),
    encryptMs: median("encryptMs"),
    linearMs: median("linearMs"),
    sigmoidMs: median("sigmoidMs"),
    decryptMs: median("decryptMs"),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The experiment
// ---------------------------------------------------------------------------------------------------------------

/** Runs the k-fold experiment on one data set. `engine` must have depth for the polynomial (the default set does). */
export function runDatasetExperiment(engine: CkksEngine, input: ExperimentInput, options: ExperimentOptions = {}): DatasetResult {
  const started = Date.now();
  const k = options.folds ?? DEFAULT_EXPERIMENT_FOLDS;
  const seed = options.seed ?? DEFAULT_EXPERIMENT_SEED;
  const degree = options.degree ?? DEFAULT_SIGMOID_DEGREE;
  const { spec } = input;
  const table = parseCsvWithMissing(input.csvText);
  if (table.missing > 0 && spec.impute !== "median") {
    throw new DatasetError(`${spec.data} has ${table.missing} empty cells and no imputation is configured`);
  }
  const targetIndex = table.columns.indexOf(spec.target);
  if (targetIndex < 0) throw new DatasetError(`target column "${spec.target}" is not in ${spec.data}`, { column: spec.target });
  const labels = table.rows.map((row) => row[targetIndex]!);
  const options0 = experimentTrainOptions(input, seed);
  const complete = table.missing === 0 ? loadDataset(input.csvText, spec.target) : undefined;
  const splits = stratifiedKFold(labels, k, seed);

  const folds: FoldResult[] = [];
  const predictions: RowPrediction[] = [];
  let model0: Model | undefined;
  splits.forEach((split, f) => {
    const { dataset, medians } = complete ? { dataset: complete, medians: undefined } : imputeMedians(table, spec.target, split.train);
    const model = trainFoldModel({ ...options0, name: `${spec.id}-cv-fold-${f + 1}` }, dataset, split);
    model0 ??= model;
    const { rows, layout, polynomial, cost } = runFold(engine, dataset, model, split, f, degree);
    const threshold = model.client.threshold;
    const [a, b] = polynomial.interval;
    folds.push({
      fold: f,
      trainRows: split.train.length,
      testRows: split.test.length,
      layout,
      cost,
      polynomial: { interval: [a, b], coefficients: [...polynomial.coefficients], maxError: polynomial.maxError },
      testLogitsOutsideInterval: rows.filter((r) => r.logit < a || r.logit > b).length,
      methods: Object.fromEntries(METHODS.map((m) => [m, methodMetrics(rows, m, threshold)])) as FoldResult["methods"],
      ...(medians ? { imputed: medians } : {}),
    });
    predictions.push(...rows);
  });
  predictions.sort((x, y) => x.row - y.row);
  const model = model0!;
  const threshold = model.client.threshold;

  const methods = Object.fromEntries(
    METHODS.map((m) => {
      const pooled = methodMetrics(predictions, m, threshold);
      const summary: MethodSummary = {
        accuracy: pooled.accuracy,
        auc: pooled.auc,
        foldAccuracy: meanSd(folds.map((f) => f.methods[m].accuracy)),
        foldAuc: meanSd(folds.map((f) => f.methods[m].auc)),
        maxAbsDeltaP: pooled.maxAbsDeltaP,
        classAgreement: 1 - pooled.disagreements / predictions.length,
        disagreements: pooled.disagreements,
      };
      return [m, summary];
    }),
  ) as Record<Method, MethodSummary>;

  let trainerCrossValidation: DatasetResult["trainerCrossValidation"];
  if (complete) {
    const cv = crossValidate(options0, k);
    const maxDifference = Math.max(
      ...cv.folds.flatMap((m, f) => [Math.abs(m.accuracy - folds[f]!.methods.plaintext.accuracy), Math.abs(m.auc - folds[f]!.methods.plaintext.auc)]),
    );
    trainerCrossValidation = { matches: maxDifference === 0, maxDifference };
  }

  const errors = folds.map((f) => f.polynomial.maxError);
  return {
    id: spec.id,
    title: spec.title,
    data: spec.data,
    sha256: input.sha256,
    rows: labels.length,
    positives: labels.filter((l) => l === 1).length,
    target: spec.target,
    features: model.features.map((f) => f.name),
    l2C: spec.l2C,
    threshold,
    missingCells: table.missing,
    ...(spec.impute ? { impute: spec.impute } : {}),
    ...(spec.reference ? { reference: spec.reference } : {}),
    methods,
    polynomial: {
      degree,
      maxErrorMin: Math.min(...errors),
      maxErrorMax: Math.max(...errors),
      maxCkksError: predictions.reduce((m, r) => Math.max(m, Math.abs(r.nonInteractive - r.polynomial)), 0),
      maxApproximationErrorOnRows: predictions.reduce((m, r) => Math.max(m, Math.abs(r.polynomial - logistic(r.logit))), 0),
      testLogitsOutsideInterval: folds.reduce((s, f) => s + f.testLogitsOutsideInterval, 0),
    },
    ...(trainerCrossValidation ? { trainerCrossValidation } : {}),
    maxAbsDeltaLogit: predictions.reduce((m, r) => Math.max(m, Math.abs(r.decryptedLogit - r.logit)), 0),
    cost: medianCost(folds.map((f) => f.cost)),
    folds,
    predictions,
    seconds: (Date.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Acceptance
// ---------------------------------------------------------------------------------------------------------------

/** The product's claim: encrypted interactive predictions are the plaintext ones. */
export const ACCEPTANCE = { maxAbsDeltaP: 1e-4, classAgreement: 1 } as const;

export interface AcceptanceCheck {
  dataset: string;
  check: string;
  pass: boolean;
  detail: string;
}

export function acceptanceChecks(results: readonly DatasetResult[]): AcceptanceCheck[] {
  const checks: AcceptanceCheck[] = [];
  for (const r of results) {
    const i = r.methods.interactive;
    checks.push({
      dataset: r.id,
      check: "interactive class = plaintext class on every row",
      pass: i.disagreements === 0,
      detail: `${r.rows - i.disagreements}/${r.rows} rows agree`,
    });
    checks.push({
      dataset: r.id,
      check: `interactive max |Δp| <= ${ACCEPTANCE.maxAbsDeltaP.toExponential(0)}`,
      pass: i.maxAbsDeltaP <= ACCEPTANCE.maxAbsDeltaP,
      detail: `max |Δp| = ${i.maxAbsDeltaP.toExponential(2)}`,
    });
    if (r.trainerCrossValidation) {
      checks.push({
        dataset: r.id,
        check: "plaintext fold metrics = the trainer's crossValidate",
        pass: r.trainerCrossValidation.matches,
        detail: `max difference ${r.trainerCrossValidation.maxDifference}`,
      });
    }
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------------------------
// Report: Markdown, JSON, SVG
// ---------------------------------------------------------------------------------------------------------------

const f3 = (x: number): string => x.toFixed(3);
const sci = (x: number): string => (x === 0 ? "0" : x.toExponential(1));
const pm = (m: MeanSd): string => `${f3(m.mean)} ± ${f3(m.sd)}`;

export function summaryTable(results: readonly DatasetResult[]): string {
  const lines = [
    "| data set | method | accuracy | AUC | accuracy, folds mean ± sd | AUC, folds mean ± sd | max \\|Δp\\| vs plaintext | class agreement (rows differing) | scikit-learn plaintext, 5-fold |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of results) {
    for (const m of METHODS) {
      const s = r.methods[m];
      const ref = m === "plaintext" && r.reference ? `${f3(r.reference.accuracy)} / ${f3(r.reference.auc)} (${r.reference.features})` : "";
      lines.push(
        `| ${m === "plaintext" ? `${r.title} (${r.rows} rows, ${r.features.length} entries)` : ""} | ${METHOD_LABELS[m]} | ${f3(s.accuracy)} | ${f3(s.auc)} | ${pm(s.foldAccuracy)} | ${pm(s.foldAuc)} | ${m === "plaintext" ? "–" : sci(s.maxAbsDeltaP)} | ${(100 * s.classAgreement).toFixed(1)}% (${s.disagreements}) | ${ref} |`,
      );
    }
  }
  return lines.join("\n");
}

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const ms = (x: number): string => x.toFixed(1);

/**
 * One row per data set, accuracy and cost side by side (WDBC with 16 and with 30 columns next to each other):
 * accuracy / AUC per method, the interactive variant's agreement with plaintext, and the encrypted fold job's
 * sizes and times (median over the folds).
 */
export function sideBySideTable(results: readonly DatasetResult[]): string {
  const lines = [
    "| data set | entries (stride, Galois steps) | plaintext acc / AUC | CKKS interactive acc / AUC | interactive = plaintext class | max \\|ΔT\\| / \\|Δp\\| interactive | non-interactive acc / AUC | key bundle | upload per fold job (rows) | result (linear) | server ms: linear / σ-poly | client ms: keys / encrypt / decrypt | data set total |",
    "|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    const m = r.methods;
    const c = r.cost;
    const rows = medianOf(r.folds.map((f) => f.testRows));
    lines.push(
      `| ${r.title} | ${c.values} (${c.stride}, ${c.galoisSteps.length}) | ${f3(m.plaintext.accuracy)} / ${f3(m.plaintext.auc)} | ${f3(m.interactive.accuracy)} / ${f3(m.interactive.auc)} | ${(100 * m.interactive.classAgreement).toFixed(1)}% (${r.rows - m.interactive.disagreements}/${r.rows}) | ${sci(r.maxAbsDeltaLogit)} / ${sci(m.interactive.maxAbsDeltaP)} | ${f3(m.nonInteractive.accuracy)} / ${f3(m.nonInteractive.auc)} | ${mb(c.keyBundleBytes)} | ${kb(c.recordBytes)} (${rows}) | ${kb(c.linearResultBytes)} | ${ms(c.linearMs)} / ${ms(c.sigmoidMs)} | ${ms(c.keygenMs)} / ${ms(c.encryptMs)} / ${ms(c.decryptMs)} | ${r.seconds.toFixed(1)} s |`,
    );
  }
  return lines.join("\n");
}

export function polynomialTable(results: readonly DatasetResult[]): string {
  const lines = [
    "| data set | degree | max \\|p − σ\\| on the interval (per fold) | max \\|p − σ\\| at the held-out logits | held-out logits outside the interval | max \\|decrypted p − p(T)\\| (CKKS) | max \\|Δp\\| interactive (CKKS) |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    const p = r.polynomial;
    lines.push(
      `| ${r.title} | ${p.degree} | ${sci(p.maxErrorMin)} – ${sci(p.maxErrorMax)} | ${sci(p.maxApproximationErrorOnRows)} | ${p.testLogitsOutsideInterval} | ${sci(p.maxCkksError)} | ${sci(r.methods.interactive.maxAbsDeltaP)} |`,
    );
  }
  return lines.join("\n");
}

export function foldTable(results: readonly DatasetResult[]): string {
  const lines = [
    "| data set | fold | train / test | layout | σ interval [a, b] | max \\|p − σ\\| | plaintext acc / AUC | interactive acc / AUC | non-interactive acc / AUC | max \\|Δp\\| interactive | non-interactive rows differing |",
    "|---|---:|---:|---|---|---:|---|---|---|---:|---:|",
  ];
  for (const r of results) {
    for (const f of r.folds) {
      const m = f.methods;
      const [a, b] = f.polynomial.interval;
      lines.push(
        `| ${f.fold === 0 ? r.title : ""} | ${f.fold + 1} | ${f.trainRows} / ${f.testRows} | ${f.layout} | [${a.toFixed(2)}, ${b.toFixed(2)}] | ${sci(f.polynomial.maxError)} | ${f3(m.plaintext.accuracy)} / ${f3(m.plaintext.auc)} | ${f3(m.interactive.accuracy)} / ${f3(m.interactive.auc)} | ${f3(m.nonInteractive.accuracy)} / ${f3(m.nonInteractive.auc)} | ${sci(m.interactive.maxAbsDeltaP)} | ${m.nonInteractive.disagreements} |`,
      );
    }
  }
  return lines.join("\n");
}

export interface ExperimentReport {
  format: "pmhe-experiment/1";
  folds: number;
  seed: number;
  parameterSet: string;
  sigmoidDegree: number;
  acceptance: { maxAbsDeltaP: number; classAgreement: number; checks: AcceptanceCheck[]; pass: boolean };
  datasets: DatasetResult[];
  skipped: { id: string; data: string; reason: string }[];
  seconds: number;
}

/** Top-level keys of the JSON document (`--json`), in order. */
export const REPORT_KEYS = ["format", "folds", "seed", "parameterSet", "sigmoidDegree", "acceptance", "datasets", "skipped", "seconds"] as const;

export function buildReport(
  results: DatasetResult[],
  options: { folds: number; seed: number; parameterSet: string; degree: number; skipped?: ExperimentReport["skipped"]; seconds: number },
): ExperimentReport {
  const checks = acceptanceChecks(results);
  return {
    format: "pmhe-experiment/1",
    folds: options.folds,
    seed: options.seed,
    parameterSet: options.parameterSet,
    sigmoidDegree: options.degree,
    acceptance: { ...ACCEPTANCE, checks, pass: checks.every((c) => c.pass) },
    datasets: results,
    skipped: options.skipped ?? [],
    seconds: options.seconds,
  };
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const METHOD_COLOURS: Readonly<Record<Method, string>> = { plaintext: "#4c72b0", interactive: "#55a868", nonInteractive: "#dd8452" };
const METRIC_LABELS: Readonly<Record<Metric, string>> = { accuracy: "accuracy", auc: "AUC" };

/**
 * A grouped bar chart: per data set, accuracy and AUC over all held-out predictions, one bar per method, with the
 * scikit-learn plaintext 5-fold reference as a dashed marker across each metric's bars. The y axis starts at
 * `yMin` (0.5 unless a value is lower), so differences of a few points stay visible.
 */
export function renderSvg(results: readonly DatasetResult[]): string {
  const width = Math.max(480, 80 + results.length * 300);
  const height = 440;
  const left = 56;
  const right = 16;
  const top = 78;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = results.flatMap((r) => [
    ...METHODS.flatMap((m) => METRICS.map((k) => r.methods[m][k])),
    ...(r.reference ? [r.reference.accuracy, r.reference.auc] : []),
  ]);
  const yMin = Math.min(0.5, Math.floor(Math.min(...values, 1) * 10) / 10);
  const y = (v: number): number => top + plotH * (1 - (v - yMin) / (1 - yMin));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<title>Accuracy and AUC over all cross-validation predictions: plaintext vs CKKS</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">Accuracy and AUC of every held-out prediction (stratified k-fold): plaintext vs CKKS</text>`);
  // Legend.
  let lx = left;
  for (const m of METHODS) {
    out.push(`<rect x="${lx}" y="34" width="12" height="12" fill="${METHOD_COLOURS[m]}"/>`);
    out.push(`<text x="${lx + 16}" y="44">${xmlEscape(METHOD_LABELS[m])}</text>`);
    lx += 28 + METHOD_LABELS[m].length * 6;
  }
  out.push(`<line x1="${lx}" y1="40" x2="${lx + 22}" y2="40" stroke="#000000" stroke-width="2" stroke-dasharray="4 2"/>`);
  out.push(`<text x="${lx + 26}" y="44">scikit-learn plaintext reference (5-fold)</text>`);
  // Axis and grid.
  for (let v = yMin; v <= 1 + 1e-9; v += 0.1) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="#dddddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#000000"/>`);
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#000000"/>`);
  out.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">score (axis from ${yMin.toFixed(1)})</text>`);

  const groupW = plotW / Math.max(1, results.length);
  const barW = 24;
  const gap = 4;
  const subW = METHODS.length * barW + (METHODS.length - 1) * gap;
  results.forEach((r, d) => {
    const gx = left + d * groupW;
    const subGap = (groupW - 2 * subW) / 3;
    METRICS.forEach((metric, k) => {
      const sx = gx + subGap + k * (subW + subGap);
      METHODS.forEach((m, j) => {
        const v = r.methods[m][metric];
        const x = sx + j * (barW + gap);
        const yy = y(v);
        const h = top + plotH - yy;
        const label = `${r.title}, ${METHOD_LABELS[m]}, ${METRIC_LABELS[metric]} ${f3(v)}`;
        out.push(
          `<rect class="bar" data-dataset="${xmlEscape(r.id)}" data-method="${m}" data-metric="${metric}" data-value="${v}" x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${METHOD_COLOURS[m]}"><title>${xmlEscape(label)}</title></rect>`,
        );
        // Values inside the bar, from its foot, clear of the reference markers near the top.
        const cx = x + barW / 2 + 4;
        const ty = top + plotH - 6;
        out.push(
          `<text x="${cx.toFixed(1)}" y="${ty.toFixed(1)}" transform="rotate(-90 ${cx.toFixed(1)} ${ty.toFixed(1)})" fill="#ffffff" font-size="10">${f3(v)}</text>`,
        );
      });
      if (r.reference) {
        const ref = r.reference[metric];
        const ry = y(ref).toFixed(1);
        out.push(`<line class="reference" data-dataset="${xmlEscape(r.id)}" data-metric="${metric}" x1="${(sx - 3).toFixed(1)}" y1="${ry}" x2="${(sx + subW + 3).toFixed(1)}" y2="${ry}" stroke="#000000" stroke-width="2" stroke-dasharray="4 2"/>`);
        const highest = Math.max(ref, ...METHODS.map((m) => r.methods[m][metric]));
        out.push(`<text x="${(sx + subW / 2).toFixed(1)}" y="${(y(highest) - 5).toFixed(1)}" text-anchor="middle" font-size="10">sklearn ${f3(ref)}</text>`);
      }
      out.push(`<text x="${(sx + subW / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${METRIC_LABELS[metric]}</text>`);
    });
    out.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${top + plotH + 36}" text-anchor="middle" font-weight="bold">${xmlEscape(r.title)}</text>`);
    out.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${top + plotH + 52}" text-anchor="middle" fill="#555555">${r.rows} rows, ${r.features.length} entries, ${r.folds.length}-fold</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
