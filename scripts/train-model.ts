/**
 * Trains a model on any numeric CSV with a 0/1 target column and writes it as a pmhe-model/2 file: client
 * transforms of the chosen columns, standardisation fitted on the training split, optionally a hidden round,
 * and an L2 logistic regression as the final linear stage. The file holds exactly modelBytes(model) (canonical
 * JSON), so keccak256 of the file is the model hash that is anchored on-chain. Held-out and k-fold
 * cross-validation metrics are written into the model.
 *
 *   npx tsx scripts/train-model.ts            # the published heart model, byte for byte
 *   npx tsx scripts/train-model.ts --name heart-small --features age,cp,chol,oldpeak,thalach \
 *     --transform chol=log --transform oldpeak=log1p,identity --one-hot cp=1,2,3,4 [--hidden 4] [--folds 5] [--json]
 *   npx tsx scripts/train-model.ts --data other.csv --target outcome --name other-logreg --description "..."
 *
 * Transforms: identity, log (x > 0), log1p (x > -1), sqrt (x >= 0), exp, reciprocal (x != 0), power2, power3.
 * --hidden h adds a round of h hidden values (tanh by default) trained as described in hospital/hidden-layer.ts.
 * --inputs file embeds the data set's input metadata (labels, UCUM units, ranges, choices) for the columns the model
 * reads, and refuses a training row outside a declared range; by default <data>.inputs.json next to the CSV when it
 * exists (data/statlog_heart.inputs.json, data/wdbc.inputs.json); --no-inputs embeds none.
 * --missing drop|median trains on a CSV with empty cells (without it an empty cell is refused, naming its row and
 * column): drop leaves out the rows with an empty cell in a column the model reads; median fills each such cell with
 * its column's median over the training rows. The model records the policy (and the medians), and the patient's
 * client applies it to a reading that lacks an input.
 * --C c|auto: the L2 strength of the final logistic regression (and of the hidden layer). auto chooses C from the fixed
 * grid 0.001, 0.003, 0.01, ..., 300, 1000 by stratified 5-fold cross-validation on the training rows only (seeded with
 * --seed), lowest mean held-out-fold log-loss, ties to the smaller C (hospital/select-c.ts); the model records only
 * the chosen C, so it is byte-identical to one trained with --C <chosen>. The report lists every grid value's score.
 * auto is refused with --hidden.
 *
 * See models/README.md for the commands that produce the committed models.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ACTIVATIONS, MISSING_POLICIES, modelBytes, modelHash, roundCount, tupleNames, type Activation, type MissingPolicy } from "../protocol/model.js";
import { loadDataset } from "../hospital/dataset.js";
import { isTransformName, planFeatures, TRANSFORM_NAMES, type TransformName } from "../hospital/features.js";
import { HIDDEN_DEFAULTS } from "../hospital/hidden-layer.js";
import { parseInputsFile } from "../hospital/inputs.js";
import { referenceFor } from "../hospital/references.js";
import { STATLOG_HEART } from "../hospital/statlog-heart.js";
import { C_GRID } from "../hospital/select-c.js";
import { DEFAULT_FOLDS, trainModel, type TrainOptions } from "../hospital/train.js";
import { integerOption } from "./lib/cli-options.js";
import { DEFAULT_PARAMETER_SET, PARAMETER_SET_NAMES, type ParameterSetName } from "../protocol/fhe/params.js";

const polynomialDegree = integerOption({ min: 1, max: 3 });
function logitRange(value: string): [number, number] {
  const parts = value.split(",").map((v) => Number(v.trim()));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0]! < parts[1]!)) {
    throw new InvalidArgumentError("two finite numbers a,b with a < b, e.g. -8,6");
  }
  return [parts[0]!, parts[1]!];
}

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const integer = integerOption();
const positiveInteger = integerOption({ min: 1 });
/** 0 turns cross-validation off. */
const folds = integerOption({ min: 2, also: [0] });
const hiddenUnits = integerOption({ min: 1, max: 16 });
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
/** --C: a positive number, or "auto" (choose C by cross-validation on the training rows). */
function inverseStrength(value: string): number | "auto" {
  if (value.trim() === "auto") return "auto";
  const n = Number(value);
  if (value.trim() === "" || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError("expected a positive number or auto");
  return n;
}
function activation(value: string): Activation {
  if (!(ACTIVATIONS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${ACTIVATIONS.join(", ")}`);
  return value as Activation;
}
function columnList(value: string): string[] {
  const columns = value.split(",").map((c) => c.trim());
  if (columns.some((c) => c === "")) throw new InvalidArgumentError("expected comma-separated column names");
  return columns;
}
/** "column=a,b,c" -> [column, [a, b, c]] */
function assignment(value: string): [string, string[]] {
  const eq = value.indexOf("=");
  const column = value.slice(0, eq).trim();
  const items = value.slice(eq + 1).split(",").map((s) => s.trim());
  if (eq < 1 || column === "" || items.some((s) => s === "")) throw new InvalidArgumentError("expected column=item[,item...]");
  return [column, items];
}
function collectTransform(value: string, previous: Record<string, TransformName[]>): Record<string, TransformName[]> {
  const [column, items] = assignment(value);
  const bad = items.find((t) => !isTransformName(t));
  if (bad !== undefined) throw new InvalidArgumentError(`unknown transform "${bad}" (one of ${TRANSFORM_NAMES.join(", ")})`);
  if (column in previous) throw new InvalidArgumentError(`"${column}" is given twice; list several transforms as ${column}=a,b`);
  return { ...previous, [column]: items as TransformName[] };
}
function collectOneHot(value: string, previous: Record<string, number[]>): Record<string, number[]> {
  const [column, items] = assignment(value);
  const categories = items.map(Number);
  if (!items.every((s) => /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s))) throw new InvalidArgumentError("categories must be numbers");
  if (column in previous) throw new InvalidArgumentError(`"${column}" is given twice`);
  return { ...previous, [column]: categories };
}

/** A path inside the project is shown (and recorded) relative to the root, with forward slashes. */
function displayPath(path: string): string {
  const rel = relative(PROJECT_ROOT, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : path;
}

const fmt = (x: number): string => x.toFixed(3);

const program = new Command()
  .name("train-model")
  .description(
    "Train a model on a numeric CSV with a 0/1 target column and write it as a pmhe-model/2 file. " +
      "With no options: the published Statlog (Heart) logistic regression, byte for byte.",
  )
  .option("--data <csv>", "training data (default relative to the project root)", STATLOG_HEART.data)
  .option("--target <column>", "0/1 target column", STATLOG_HEART.target)
  .option("--positive-means <text>", "what target = 1 means (default for other data: \"<target> = 1\")")
  .option("--features <a,b,...>", "input columns in tuple order (default: every column but the target)", columnList)
  .addOption(
    new Option("--transform <column=t[,t...]>", `client transforms of a column, one tuple entry each, in order (repeatable): ${TRANSFORM_NAMES.join(", ")}`)
      .argParser(collectTransform)
      .default({} as Record<string, TransformName[]>, "identity"),
  )
  .addOption(
    new Option("--one-hot <column=c1,c2,...>", "categorical column: one tuple entry per listed category (repeatable)")
      .argParser(collectOneHot)
      .default({} as Record<string, number[]>, "none"),
  )
  .option("--inputs <file>", "input metadata to embed (default: <data>.inputs.json next to the CSV, when it exists)")
  .option("--no-inputs", "embed no input metadata")
  .addOption(
    new Option("--missing <policy>", "empty cells in the columns the model reads: drop the rows, or fill with the training rows' median (default: refuse)").choices(
      MISSING_POLICIES,
    ),
  )
  .option("--hidden <h>", "two-round model: h hidden values (1-16) before the final linear stage", hiddenUnits)
  .option("--activation <f>", `client activation of the hidden values: ${ACTIVATIONS.join(", ")}`, activation, HIDDEN_DEFAULTS.activation as Activation)
  .option("--epochs <n>", "gradient-descent epochs for the hidden layer", positiveInteger, HIDDEN_DEFAULTS.epochs)
  .option("--learning-rate <r>", "gradient-descent learning rate for the hidden layer", positiveNumber, HIDDEN_DEFAULTS.learningRate)
  .option("--name <name>", "model name (required unless training the default heart model)")
  .option("--version <n>", "model version", positiveInteger, STATLOG_HEART.version)
  .option("--description <text>", "model description (say where the data comes from and its licence)")
  .option("--seed <n>", "seed of the stratified split, the folds and the hidden layer's initial weights", integer, STATLOG_HEART.seed)
  .option("--test-fraction <f>", "held-out fraction", fraction, STATLOG_HEART.testFraction)
  .option(
    "--C <c|auto>",
    `inverse L2 regularisation strength (scikit-learn's C), or auto: chosen from ${C_GRID[0]}..${C_GRID[C_GRID.length - 1]} by 5-fold CV log-loss on the training rows`,
    inverseStrength,
    STATLOG_HEART.l2C as number | "auto",
  )
  .option("--folds <k>", "stratified k-fold cross-validation recorded in the model (0: none)", folds, DEFAULT_FOLDS)
  .option("--non-interactive [degree]", "the server also evaluates a sigmoid polynomial (degree 1-3, default 3) and the patient decrypts a probability", polynomialDegree)
  .option("--sigmoid-interval <a,b>", "the logit interval the polynomial is fitted on (default: the training logits' range plus 10% each side); must hold every training logit", logitRange)
  .addOption(
    new Option("--parameter-set <name>", "CKKS parameter set of the model, or smallest: the smallest that holds it (patients need keys of this set)")
      .choices([...PARAMETER_SET_NAMES, "smallest"])
      .default(DEFAULT_PARAMETER_SET),
  )
  .option("--out <file>", "model file to write (default models/<name>.v<version>.json in the project)")
  .option("--json", "print one JSON document instead of the table")
  .parse();

const opts = program.opts<{
  data: string;
  target: string;
  positiveMeans?: string;
  features?: string[];
  transform: Record<string, TransformName[]>;
  oneHot: Record<string, number[]>;
  /** A path, false for --no-inputs, undefined for the default. */
  inputs?: string | false;
  missing?: MissingPolicy;
  nonInteractive?: number | true;
  sigmoidInterval?: [number, number];
  parameterSet: ParameterSetName | "smallest";
  hidden?: number;
  activation: Activation;
  epochs: number;
  learningRate: number;
  name?: string;
  version: number;
  description?: string;
  seed: number;
  testFraction: number;
  C: number | "auto";
  folds: number;
  out?: string;
  json?: boolean;
}>();

const fromCommandLine = (key: string): boolean => program.getOptionValueSource(key) === "cli";
/** The heart model's name and description apply only to the plain heart logistic regression. */
const heartDefaults = !fromCommandLine("data") && !fromCommandLine("target") && opts.hidden === undefined;
if (opts.name === undefined && !heartDefaults) program.error("error: --name is required unless training the default heart model");
for (const key of ["activation", "epochs", "learningRate"]) {
  if (fromCommandLine(key) && opts.hidden === undefined) program.error(`error: --${key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} needs --hidden`);
}
if (opts.C === "auto" && opts.hidden !== undefined) {
  program.error("error: --C auto is for one-round models: with --hidden, C also regularises the hidden layer; give --C a number");
}

const name = opts.name ?? STATLOG_HEART.name;
const dataPath = resolve(fromCommandLine("data") ? process.cwd() : PROJECT_ROOT, opts.data);
const outPath = opts.out !== undefined ? resolve(process.cwd(), opts.out) : resolve(PROJECT_ROOT, "models", `${name}.v${opts.version}.json`);
const positiveMeans = opts.positiveMeans ?? (heartDefaults ? STATLOG_HEART.positiveMeans : `${opts.target} = 1`);
const csvBytes = readFileSync(dataPath);
/** The metadata file next to the CSV: data/x.csv -> data/x.inputs.json. */
const besideData = dataPath.replace(/(\.csv)?$/i, ".inputs.json");
const inputsPath =
  opts.inputs === false ? undefined : opts.inputs !== undefined ? resolve(process.cwd(), opts.inputs) : existsSync(besideData) ? besideData : undefined;
let inputs;
try {
  inputs = inputsPath === undefined ? undefined : parseInputsFile(readFileSync(inputsPath, "utf8"), displayPath(inputsPath)).inputs;
} catch (err) {
  process.stderr.write(`train-model: ${(err as Error).message}\n`);
  process.exit(1);
}

const options: TrainOptions = {
  csvText: new TextDecoder("utf-8", { fatal: true }).decode(csvBytes),
  datasetName: displayPath(dataPath),
  datasetSha256: createHash("sha256").update(csvBytes).digest("hex"),
  target: opts.target,
  positiveMeans,
  name,
  version: opts.version,
  description: "",
  seed: opts.seed,
  testFraction: opts.testFraction,
  l2C: opts.C,
  folds: opts.folds,
  ...(inputs ? { inputs } : {}),
  ...(opts.missing ? { missing: opts.missing } : {}),
  ...(opts.nonInteractive !== undefined
    ? { nonInteractive: { ...(opts.nonInteractive === true ? {} : { degree: opts.nonInteractive }), ...(opts.sigmoidInterval ? { interval: opts.sigmoidInterval } : {}) } }
    : {}),
  parameterSet: opts.parameterSet,
  ...(opts.features ? { features: opts.features } : {}),
  ...(Object.keys(opts.transform).length > 0 ? { transforms: opts.transform } : {}),
  ...(Object.keys(opts.oneHot).length > 0 ? { oneHot: opts.oneHot } : {}),
  ...(opts.hidden !== undefined
    ? { hidden: { units: opts.hidden, activation: opts.activation, epochs: opts.epochs, learningRate: opts.learningRate } }
    : {}),
};

/** Default description: what the model is and which tuple it reads, for data sets other than the heart model's. */
function defaultDescription(): string {
  const entries = planFeatures(loadDataset(options.csvText, options.target, { emptyCells: true }), {
    columns: options.features,
    transforms: options.transforms,
    oneHot: options.oneHot,
  }).map((d) => d.name);
  const kind = options.hidden
    ? `Two-round model (${options.hidden.units} ${options.hidden.activation} hidden values, then logistic regression)`
    : "Logistic regression";
  return `${kind} on ${entries.length} standardised entries (${entries.join(", ")}) predicting ${positiveMeans}. Trained on ${options.datasetName}.`;
}

let result;
try {
  const description = opts.description ?? (heartDefaults && opts.name === undefined ? STATLOG_HEART.description : defaultDescription());
  result = trainModel({ ...options, description });
} catch (err) {
  process.stderr.write(`train-model: ${(err as Error).message}\n`);
  process.exit(1);
}
const { model, split, fit, missing, cSelection } = result;
/** What the missing-value policy did, in one line. */
function missingSummary(): string | undefined {
  if (missing === undefined) return undefined;
  if (missing.policy === "drop") {
    const dropped = missing.droppedRows?.length ?? 0;
    return `drop: ${dropped} row(s) with an empty cell in a column the model reads left out of training (${missing.emptyCells} empty cell(s))`;
  }
  const medians = Object.entries(missing.medians ?? {}).map(([column, value]) => `${column} ${value}`).join(", ");
  return `median: ${missing.emptyCells} empty cell(s) filled with the training rows' medians (${medians})`;
}

mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, modelBytes(model));
const hash = modelHash(model);
const { train, test, crossValidation: cv } = model.metrics;
const ref = referenceFor(model.training.datasetSha256);
const rounds = Array.from({ length: roundCount(model) }, (_, r) => tupleNames(model, r));

if (opts.json) {
  const document = {
    model: displayPath(outPath),
    hash,
    dataset: { path: model.training.dataset, sha256: model.training.datasetSha256 },
    inputs: inputsPath === undefined ? null : { path: displayPath(inputsPath), columns: (model.inputs ?? []).map((i) => i.name) },
    rows: { train: split.train.length, test: split.test.length },
    missing: missing
      ? {
          policy: missing.policy,
          emptyCells: missing.emptyCells,
          ...(missing.droppedRows ? { droppedRows: missing.droppedRows.length, dropped: missing.droppedRows } : {}),
          ...(missing.medians ? { medians: missing.medians } : {}),
        }
      : null,
    rounds: rounds.map((names, r) => ({ round: r, tuple: names, outputs: r + 1 < rounds.length ? rounds[r + 1]!.length : 1 })),
    l2C: {
      value: model.training.l2C,
      selection: cSelection
        ? {
            criterion: cSelection.criterion,
            folds: cSelection.folds,
            seed: cSelection.seed,
            rows: cSelection.rows,
            grid: cSelection.grid.map(({ C, logLoss, perFold }) => ({ C, logLoss, perFold })),
            chosen: cSelection.chosen,
          }
        : null,
    },
    solver: {
      name: model.training.solver,
      iterations: fit.iterations,
      gradientNorm: fit.gradientNorm,
      ...(model.training.hiddenSolver ? { hidden: model.training.hiddenSolver, hiddenLoss: fit.hiddenLoss } : {}),
    },
    metrics: {
      train,
      test,
      ...(cv ? { crossValidation: { folds: cv.folds, seed: options.seed, accuracy: cv.accuracy, auc: cv.auc, perFold: cv.perFold } } : {}),
    },
    ...(ref
      ? {
          reference: {
            source: `scikit-learn LogisticRegression(C=1) on ${ref.features}, StandardScaler, stratified split random_state 42 (different shuffle from this split)`,
            heldOut: { accuracy: ref.heldOut.accuracy, auc: ref.heldOut.auc },
            crossValidation: ref.crossValidation,
          },
        }
      : {}),
  };
  process.stdout.write(JSON.stringify(document, null, 2) + "\n");
} else {
  const pct = Math.round(options.testFraction * 100);
  const header = [`this model, held-out ${pct}% (n=${test.rows})`];
  const accuracyRow = [fmt(test.accuracy)];
  const aucRow = [fmt(test.auc)];
  if (cv) {
    header.push(`this model, ${cv.folds}-fold CV`);
    accuracyRow.push(fmt(cv.accuracy));
    aucRow.push(fmt(cv.auc));
  }
  if (ref) {
    header.push(`reference, held-out 20%`, `reference, ${ref.crossValidation.folds}-fold CV`);
    accuracyRow.push(fmt(ref.heldOut.accuracy), fmt(ref.crossValidation.accuracy));
    aucRow.push(fmt(ref.heldOut.auc), fmt(ref.crossValidation.auc));
  }
  const lines = [
    `model   ${displayPath(outPath)}`,
    `hash    ${hash}`,
    `data    ${model.training.dataset} (sha256 ${model.training.datasetSha256})`,
    `inputs  ${inputsPath === undefined ? "none embedded" : `${displayPath(inputsPath)} (${(model.inputs ?? []).length} described)`}`,
    `rows    ${split.train.length} train / ${split.test.length} test (stratified, seed ${options.seed})`,
    ...(missing ? [`missing ${missingSummary()}`] : []),
    ...rounds.map((names, r) => `round ${r} tuple (${names.length}): ${names.join(", ")}`),
    ...(model.training.hiddenSolver ? [`hidden  ${model.training.hiddenSolver}; final loss ${fit.hiddenLoss?.toFixed(4)}`] : []),
    `C       ${model.training.l2C}${cSelection ? ` (auto: ${cSelection.criterion}, stratified ${cSelection.folds}-fold CV on the ${cSelection.rows} training rows, seed ${cSelection.seed})` : ""}`,
    `solver  Newton/IRLS, ${fit.iterations} steps, gradient norm ${fit.gradientNorm.toExponential(1)}`,
    ...(cSelection
      ? [
          "",
          "| C | CV log-loss | |",
          "|---|---|---|",
          ...cSelection.grid.map(
            ({ C, logLoss }) => `| ${C} | ${logLoss === null ? "did not converge" : logLoss.toFixed(4)} | ${C === cSelection.chosen ? "chosen" : ""} |`,
          ),
        ]
      : []),
    "",
    `| metric | ${header.join(" | ")} |`,
    `|---|${header.map(() => "---|").join("")}`,
    `| accuracy | ${accuracyRow.join(" | ")} |`,
    `| AUC | ${aucRow.join(" | ")} |`,
    "",
    `Training rows: accuracy ${fmt(train.accuracy)}, AUC ${fmt(train.auc)} (n=${train.rows}).`,
    ...(ref
      ? [
          `The reference is scikit-learn LogisticRegression(C=1) on ${ref.dataset}, ${ref.features}, standardised, stratified, random_state 42.`,
          "This split and these folds come from this project's seeded shuffle, not scikit-learn's, so the held-out rows differ",
          "and the numbers differ slightly; the logistic-regression objective (L2, intercept unpenalised) is the same.",
        ]
      : []),
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
