/**
 * Trains the hospital's logistic-regression model on a numeric CSV and writes it as a pmhe-model/1 file.
 * The file holds exactly modelBytes(model) (canonical JSON), so keccak256 of the file is the model hash that
 * is anchored on-chain.
 *
 *   npx tsx scripts/train-model.ts [--data data/statlog_heart.csv] [--out models/...json] [--json]
 */
import { Command, InvalidArgumentError } from "commander";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { modelBytes, modelHash } from "../protocol/model.js";
import { SCIKIT_LEARN_REFERENCE, STATLOG_HEART } from "../hospital/statlog-heart.js";
import { crossValidate, trainModel, type TrainOptions } from "../hospital/train.js";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CV_FOLDS = SCIKIT_LEARN_REFERENCE.crossValidation.folds;

function integer(value: string): number {
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected an integer");
  return n;
}
function positiveInteger(value: string): number {
  const n = integer(value);
  if (n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}
function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !(n > 0 && n < 1)) throw new InvalidArgumentError("expected a number strictly between 0 and 1");
  return n;
}
function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError("expected a positive number");
  return n;
}

/** A path inside the project is shown (and recorded) relative to the root, with forward slashes. */
function displayPath(path: string): string {
  const rel = relative(PROJECT_ROOT, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : path;
}

const fmt = (x: number): string => x.toFixed(3);

const program = new Command()
  .name("train-model")
  .description("Train the logistic-regression model on a numeric CSV and write it as a pmhe-model/1 file.")
  .option("--data <csv>", "training data (default relative to the project root)", STATLOG_HEART.data)
  .option("--target <column>", "0/1 target column", STATLOG_HEART.target)
  .option("--positive-means <text>", "what target = 1 means", STATLOG_HEART.positiveMeans)
  .option("--name <name>", "model name", STATLOG_HEART.name)
  .option("--version <n>", "model version", positiveInteger, STATLOG_HEART.version)
  .option("--description <text>", "model description", STATLOG_HEART.description)
  .option("--seed <n>", "seed of the stratified split", integer, STATLOG_HEART.seed)
  .option("--test-fraction <f>", "held-out fraction", fraction, STATLOG_HEART.testFraction)
  .option("--C <c>", "inverse L2 regularisation strength (scikit-learn's C)", positiveNumber, STATLOG_HEART.l2C)
  .option("--out <file>", "model file to write (default relative to the project root)", STATLOG_HEART.out)
  .option("--json", "print one JSON document instead of the table")
  .parse();

const opts = program.opts<{
  data: string;
  target: string;
  positiveMeans: string;
  name: string;
  version: number;
  description: string;
  seed: number;
  testFraction: number;
  C: number;
  out: string;
  json?: boolean;
}>();

/** Defaults are project files; paths given on the command line are relative to the working directory. */
const pathOption = (key: "data" | "out"): string =>
  resolve(program.getOptionValueSource(key) === "default" ? PROJECT_ROOT : process.cwd(), opts[key]);

const dataPath = pathOption("data");
const outPath = pathOption("out");
const csvBytes = readFileSync(dataPath);

const options: TrainOptions = {
  csvText: new TextDecoder("utf-8", { fatal: true }).decode(csvBytes),
  datasetName: displayPath(dataPath),
  datasetSha256: createHash("sha256").update(csvBytes).digest("hex"),
  target: opts.target,
  positiveMeans: opts.positiveMeans,
  name: opts.name,
  version: opts.version,
  description: opts.description,
  seed: opts.seed,
  testFraction: opts.testFraction,
  l2C: opts.C,
};

const { model, split, fit } = trainModel(options);
const cv = crossValidate(options, CV_FOLDS);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, modelBytes(model));
const hash = modelHash(model);
const { train, test } = model.metrics;
const ref = SCIKIT_LEARN_REFERENCE;

if (opts.json) {
  const document = {
    model: displayPath(outPath),
    hash,
    dataset: { path: model.training.dataset, sha256: model.training.datasetSha256 },
    rows: { train: split.train.length, test: split.test.length },
    solver: { name: model.training.solver, iterations: fit.iterations, gradientNorm: fit.gradientNorm },
    metrics: { train, test, crossValidation: { folds: CV_FOLDS, seed: options.seed, accuracy: cv.accuracy, auc: cv.auc } },
    reference: {
      source: "scikit-learn LogisticRegression(C=1), StandardScaler, stratified split random_state 42 (different shuffle from this split)",
      heldOut: { accuracy: ref.heldOut.accuracy, auc: ref.heldOut.auc },
      crossValidation: ref.crossValidation,
    },
  };
  process.stdout.write(JSON.stringify(document, null, 2) + "\n");
} else {
  const pct = Math.round(options.testFraction * 100);
  const lines = [
    `model   ${displayPath(outPath)}`,
    `hash    ${hash}`,
    `data    ${model.training.dataset} (sha256 ${model.training.datasetSha256})`,
    `rows    ${split.train.length} train / ${split.test.length} test (stratified, seed ${options.seed})`,
    `solver  Newton/IRLS, ${fit.iterations} steps, gradient norm ${fit.gradientNorm.toExponential(1)}`,
    "",
    `| metric | this model, held-out ${pct}% (n=${test.rows}) | scikit-learn reference, held-out 20% | this model, ${CV_FOLDS}-fold CV | scikit-learn reference, ${ref.crossValidation.folds}-fold CV |`,
    "|---|---|---|---|---|",
    `| accuracy | ${fmt(test.accuracy)} | ${fmt(ref.heldOut.accuracy)} | ${fmt(cv.accuracy)} | ${fmt(ref.crossValidation.accuracy)} |`,
    `| AUC | ${fmt(test.auc)} | ${fmt(ref.heldOut.auc)} | ${fmt(cv.auc)} | ${fmt(ref.crossValidation.auc)} |`,
    "",
    `Training rows: accuracy ${fmt(train.accuracy)}, AUC ${fmt(train.auc)} (n=${train.rows}).`,
    "The reference is scikit-learn LogisticRegression(C=1) on standardised features with a stratified split, random_state 42.",
    "This split and these folds come from this project's seeded shuffle, not scikit-learn's, so the held-out rows differ",
    "and the numbers differ slightly; the objective (L2, intercept unpenalised) is the same.",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
