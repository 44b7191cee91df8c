/**
 * The accuracy experiment's chain path (`npm run experiment -- --chain`): the same data sets, now through the
 * product's real path (Hardhat node, contract, blob store, BullMQ queue on redis-server, the coprocessor's worker,
 * node-seal on both sides) instead of the in-process engine.
 *
 * Per data set, the trainer's default held-out split (`trainModel` without folds, with the experiment's seed, C and
 * features) trains two models that share their weights:
 *
 *   interactive       the protocol's default: the worker evaluates T = w·x + b, the patient decrypts T and applies σ
 *   non-interactive   `nonInteractive: {}`: the model also carries a degree-3 polynomial p(T) ≈ σ(T) (fitted on the
 *                     training logits), the worker evaluates it, the patient decrypts p
 *
 * Both are published on one local stack, one patient registers keys that fit both (the models' width, relinearization
 * keys), and the held-out rows are predicted twice per model: the first K one at a time (single-record jobs, one
 * transaction each, timed from request to decrypted result), then all of them as packed batch jobs (`predictMany`,
 * split into chunks a packed ciphertext holds). Every chain-path probability is compared with `predictPlaintext`,
 * whose value for a non-interactive model is already p(T): both variants must agree within 1e-4, class for class.
 *
 * Node only (it starts processes): the in-process experiment stays in hospital/experiment.ts.
 */
import { PredictionExpiredError, PredictionFailedError } from "../client/errors.js";
import type { ModelRef } from "../client/model-ref.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../local/stack.js";
import { JobStatus } from "../protocol/chain.js";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { readJobResultHeader } from "../protocol/fhe/headers.js";
import { chooseLayout, layoutCapacity, layoutProblem, type Layout } from "../protocol/fhe/layouts.js";
import { DEFAULT_PARAMETER_SET, parameterSet } from "../protocol/fhe/params.js";
import type { Hash } from "../protocol/hash.js";
import { predictPlaintext, type Model, type Prediction, type Reading } from "../protocol/model.js";
import { loadDataset, readingFromRow } from "./dataset.js";
import { ACCEPTANCE, DEFAULT_EXPERIMENT_SEED, experimentTrainOptions, type ExperimentInput } from "./experiment.js";
import { accuracy, percentile, rocAuc } from "./metrics.js";
import { publishModel } from "./publish-model.js";
import { medianOf, trainModel } from "./train.js";

export const CHAIN_VARIANTS = ["interactive", "nonInteractive"] as const;
export type ChainVariant = (typeof CHAIN_VARIANTS)[number];
export const CHAIN_VARIANT_LABELS: Readonly<Record<ChainVariant, string>> = {
  interactive: "interactive (T, σ on the client)",
  nonInteractive: "non-interactive (p(T) on the worker)",
};
export const CHAIN_MODES = ["single", "batch"] as const;
export type ChainMode = (typeof CHAIN_MODES)[number];

/** Held-out rows predicted one at a time per variant, unless `--chain-rows` says otherwise. */
export const DEFAULT_CHAIN_ROWS = 10;

export interface ChainOptions {
  /** K: the first K held-out rows are predicted one at a time (single-record jobs). Default DEFAULT_CHAIN_ROWS. */
  singleRows?: number;
  /** Most records per packed batch job; default (and at most) what one packed ciphertext holds for the model's width. */
  batchSize?: number;
  /** How many held-out rows (from the first) the batch jobs predict; default all. */
  batchRows?: number;
  /** Seed of the trainer's held-out split; default the experiment's. */
  seed?: number;
  /** Per job, how long the patient waits for the chain to settle it. */
  timeoutMs?: number;
  /** Progress lines (stderr in the script). */
  log?: (line: string) => void;
}

/** One chain-path prediction next to its plaintext reference. */
export interface ChainRowPrediction {
  /** 0-based data row of the CSV. */
  row: number;
  label: number;
  /** What the patient decrypted and derived: T and σ(T), or p and its logit (non-interactive). */
  logit: number;
  probability: number;
  predictedClass: 0 | 1;
  /** `predictPlaintext` of the same model: σ(T), or p(T) for the non-interactive model. */
  plaintextLogit: number;
  plaintextProbability: number;
  plaintextClass: 0 | 1;
  jobId: Hash;
  resultHash: Hash;
}

export interface WallTime {
  median: number;
  /** Nearest rank: an observed value (with 10 rows, the slowest). */
  p95: number;
  max: number;
}

/** One variant's predictions in one mode (single-record, or packed batches). */
export interface ChainModeResult {
  mode: ChainMode;
  rows: number;
  jobs: number;
  /** The layouts of the jobs' records, as the client chose them. */
  layouts: Layout[];
  /** Stages named by the jobs' result headers ("linear", "sigmoid-poly"). */
  resultStages: string[];
  accuracy: number;
  /** null when the rows hold one class only. */
  auc: number | null;
  /** The plaintext model's accuracy and AUC on the same rows. */
  plaintextAccuracy: number;
  plaintextAuc: number | null;
  /** Rows whose chain-path class equals the plaintext class. */
  classAgreement: number;
  maxAbsDeltaP: number;
  /** The patient's nonce difference over this mode's predictions. */
  transactions: number;
  transactionsPerPrediction: number;
  transactionsPerJob: number;
  /** Milliseconds from request (`predict` / `predictMany`) to the decrypted result: per prediction in single mode, per job in batch mode. */
  wallMs: WallTime;
  /** Jobs that ended Failed (or Expired) on-chain, and the reasons. */
  failedJobs: number;
  failures: { jobId: Hash; error: string }[];
  predictions: ChainRowPrediction[];
}

export interface ChainVariantResult {
  variant: ChainVariant;
  modelId: Hash;
  modelHash: Hash;
  /** The worker's final stage for this model. */
  stage: "linear" | "sigmoid-poly";
  single: ChainModeResult;
  batch: ChainModeResult;
}

export interface ChainDatasetResult {
  id: string;
  title: string;
  data: string;
  parameterSet: string;
  /** Tuple width of both models. */
  values: number;
  trainRows: number;
  heldOutRows: number;
  /** The non-interactive model's polynomial: its degree, interval and max |p − σ| there. */
  polynomial: { degree: number; interval: [number, number]; maxError: number };
  /** The patient's keys: width they rotate, the bundle's Galois steps and size, relinearization keys included. */
  patientKeys: { maxValues: number; galoisSteps: number[]; keyBundleBytes: number };
  /** Records per packed batch job. */
  batchSize: number;
  variants: Record<ChainVariant, ChainVariantResult>;
  seconds: number;
}

/** What the test needs beyond the JSON: the two trained models. */
export interface ChainDatasetRun {
  result: ChainDatasetResult;
  models: Record<ChainVariant, Model>;
}

export interface ChainCheck {
  dataset: string;
  check: string;
  pass: boolean;
  detail: string;
}

export interface ChainReport {
  singleRows: number;
  /** As asked (undefined: each data set's packed capacity). */
  batchSize?: number;
  seed: number;
  testFraction: number;
  maxAbsDeltaP: number;
  datasets: ChainDatasetResult[];
  /** JobFailed events of the whole deployment, over every data set's jobs. */
  failedJobsOnChain: number;
  checks: ChainCheck[];
  pass: boolean;
  /** Including the stack's start and stop. */
  seconds: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------------------------

export { percentile };

function wallTime(values: readonly number[]): WallTime {
  if (values.length === 0) return { median: 0, p95: 0, max: 0 };
  return { median: medianOf(values), p95: percentile(values, 0.95), max: Math.max(...values) };
}

function aucOrNull(labels: readonly number[], scores: readonly number[]): number | null {
  const positives = labels.filter((l) => l === 1).length;
  return positives === 0 || positives === labels.length ? null : rocAuc(labels, scores);
}

/** Splits `count` rows into the fewest jobs of at most `size`, as even as possible. */
export function chainChunks(count: number, size: number): number[][] {
  if (count === 0) return [];
  const jobs = Math.ceil(count / size);
  const each = Math.ceil(count / jobs);
  return Array.from({ length: jobs }, (_, j) => Array.from({ length: Math.min(each, count - j * each) }, (_, k) => j * each + k));
}

/** Most records one batch job of a `values`-wide model holds: a packed ciphertext's, or feature-major's where packing is not possible. */
export function batchCapacity(parameterSetName: Model["fhe"]["parameterSet"], values: number): number {
  return layoutProblem("packed-records", parameterSetName) ? parameterSet(parameterSetName).slots : layoutCapacity("packed-records", parameterSetName, values);
}

async function nonceOf(stack: LocalStack, address: string): Promise<number> {
  return Number(await stack.provider.send("eth_getTransactionCount", [address, "latest"]));
}

// ---------------------------------------------------------------------------------------------------------------
// One data set
// ---------------------------------------------------------------------------------------------------------------

interface Collected {
  predictions: ChainRowPrediction[];
  jobIds: Hash[];
  layouts: Layout[];
  wallMs: number[];
  failures: { jobId: Hash; error: string }[];
}

function row(i: number, label: number, chain: Prediction, plain: Prediction, jobId: Hash, resultHash: Hash): ChainRowPrediction {
  return {
    row: i,
    label,
    logit: chain.logit,
    probability: chain.probability,
    predictedClass: chain.predictedClass,
    plaintextLogit: plain.logit,
    plaintextProbability: plain.probability,
    plaintextClass: plain.predictedClass,
    jobId,
    resultHash,
  };
}

/** A job that ended on-chain without a result: recorded, and the run goes on. Anything else is thrown. */
function settledWithoutResult(err: unknown): { jobId: Hash; error: string } | undefined {
  if (err instanceof PredictionFailedError || err instanceof PredictionExpiredError) return { jobId: err.jobId, error: err.message };
  return undefined;
}

async function summarise(
  stack: LocalStack,
  mode: ChainMode,
  variant: ChainVariant,
  collected: Collected,
  transactions: number,
): Promise<ChainModeResult> {
  const { predictions, jobIds, layouts, wallMs, failures } = collected;
  let failedJobs = 0;
  for (const jobId of jobIds) {
    const status = Number((await stack.contract.jobOf(jobId)).status);
    if (status === JobStatus.Failed || status === JobStatus.Expired) failedJobs++;
  }
  const stages = new Set<string>();
  for (const resultHash of new Set(predictions.map((p) => p.resultHash))) {
    const bytes = await stack.blobs.get(resultHash);
    stages.add(bytes ? readJobResultHeader(bytes).stage : "missing");
  }
  const labels = predictions.map((p) => p.label);
  // AUC ranks what the client holds: the decrypted T (interactive), the decrypted p (non-interactive).
  const score = (p: ChainRowPrediction): number => (variant === "interactive" ? p.logit : p.probability);
  const plainScore = (p: ChainRowPrediction): number => (variant === "interactive" ? p.plaintextLogit : p.plaintextProbability);
  const rows = predictions.length;
  return {
    mode,
    rows,
    jobs: jobIds.length,
    layouts: [...new Set(layouts)],
    resultStages: [...stages],
    accuracy: rows ? accuracy(labels, predictions.map((p) => p.predictedClass)) : 0,
    auc: rows ? aucOrNull(labels, predictions.map(score)) : null,
    plaintextAccuracy: rows ? accuracy(labels, predictions.map((p) => p.plaintextClass)) : 0,
    plaintextAuc: rows ? aucOrNull(labels, predictions.map(plainScore)) : null,
    classAgreement: predictions.filter((p) => p.predictedClass === p.plaintextClass).length,
    maxAbsDeltaP: predictions.reduce((m, p) => Math.max(m, Math.abs(p.probability - p.plaintextProbability)), 0),
    transactions,
    transactionsPerPrediction: rows ? transactions / rows : 0,
    transactionsPerJob: jobIds.length ? transactions / jobIds.length : 0,
    wallMs: wallTime(wallMs),
    failedJobs: Math.max(failedJobs, failures.length),
    failures,
    predictions,
  };
}

/**
 * The chain path for one data set on a running stack: trains the two models on the trainer's held-out split,
 * publishes both, registers one patient whose keys fit both, and predicts the held-out rows one at a time (the first
 * K) and in packed batches. `engine` must be of the models' parameter set (the default one).
 */
export async function runChainDataset(
  stack: LocalStack,
  engine: CkksEngine,
  input: ExperimentInput,
  options: ChainOptions = {},
): Promise<ChainDatasetRun> {
  const started = Date.now();
  const { spec } = input;
  const log = options.log ?? (() => {});
  const seed = options.seed ?? DEFAULT_EXPERIMENT_SEED;
  const base = {
    ...experimentTrainOptions(input, seed),
    version: 1,
    folds: 0,
    ...(spec.impute === "median" ? { missing: "median" as const } : {}),
  };
  const interactive = trainModel({
    ...base,
    name: `${spec.id}-chain`,
    description: `${spec.title}: the accuracy experiment's chain-path model (interactive).`,
  });
  const nonInteractive = trainModel({
    ...base,
    name: `${spec.id}-chain-non-interactive`,
    description: `${spec.title}: the accuracy experiment's chain-path model (non-interactive, degree-3 σ on the server).`,
    nonInteractive: {},
  });
  const models: Record<ChainVariant, Model> = { interactive: interactive.model, nonInteractive: nonInteractive.model };
  const split = interactive.split;
  if (JSON.stringify(split) !== JSON.stringify(nonInteractive.split)) throw new Error(`${spec.id}: the two models were trained on different splits`);
  const poly = models.nonInteractive.server.sigmoid;
  if (!poly) throw new Error(`${spec.id}: the non-interactive model carries no sigmoid polynomial`);
  const parameterSetName = models.interactive.fhe.parameterSet;
  if (models.nonInteractive.fhe.parameterSet !== parameterSetName || engine.parameterSetName !== parameterSetName) {
    throw new Error(`${spec.id}: the models use ${parameterSetName} / ${models.nonInteractive.fhe.parameterSet}, the engine ${engine.parameterSetName}`);
  }

  const dataset = loadDataset(input.csvText, spec.target, { emptyCells: spec.impute !== undefined });
  const heldOut = split.test;
  const readings: Reading[] = heldOut.map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [dataset.target]));
  const labels = heldOut.map((i) => dataset.labels[i]!);
  const values = Math.max(models.interactive.features.length, models.nonInteractive.features.length);
  const capacity = batchCapacity(parameterSetName, values);
  const batchSize = Math.min(capacity, options.batchSize ?? capacity);
  if (!(batchSize >= 1)) throw new RangeError(`batch size must be at least 1, got ${options.batchSize}`);
  const singleCount = Math.min(options.singleRows ?? DEFAULT_CHAIN_ROWS, heldOut.length);
  const batchCount = Math.min(options.batchRows ?? heldOut.length, heldOut.length);

  const refs = {} as Record<ChainVariant, ModelRef & { modelHash: Hash }>;
  for (const variant of CHAIN_VARIANTS) {
    const { modelId, modelHash } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, models[variant]);
    refs[variant] = { model: models[variant], id: modelId, modelHash };
  }
  const { client, keys } = await stack.newPatientClient(engine, { maxValues: values, sigmoid: true });
  const patientKeys = {
    maxValues: values,
    galoisSteps: [...engine.readKeyBundleHeader(keys.keyBundle).galoisSteps],
    keyBundleBytes: keys.keyBundle.length,
  };
  const address = await client.address();
  const variants = {} as Record<ChainVariant, ChainVariantResult>;
  try {
    for (const variant of CHAIN_VARIANTS) {
      const ref = refs[variant];
      const model = models[variant];
      const plain = readings.map((r) => predictPlaintext(model, r));

      // (a) One row at a time: a single-record job and one transaction each.
      log(`${spec.title}, ${variant}: ${singleCount} single-record predictions ...`);
      const single: Collected = { predictions: [], jobIds: [], layouts: [], wallMs: [], failures: [] };
      let nonce = await nonceOf(stack, address);
      for (let k = 0; k < singleCount; k++) {
        const t0 = performance.now();
        try {
          const result = await client.predict(ref, readings[k]!, { timeoutMs: options.timeoutMs });
          single.wallMs.push(performance.now() - t0);
          single.jobIds.push(result.jobId);
          single.layouts.push("single-record");
          single.predictions.push(row(heldOut[k]!, labels[k]!, result, plain[k]!, result.jobId, result.resultHash));
        } catch (err) {
          const failure = settledWithoutResult(err);
          if (!failure) throw err;
          single.jobIds.push(failure.jobId);
          single.failures.push(failure);
        }
      }
      const singleTransactions = (await nonceOf(stack, address)) - nonce;

      // (b) Every held-out row, in packed batch jobs (predictMany: one transaction per job).
      const chunks = chainChunks(batchCount, batchSize);
      log(`${spec.title}, ${variant}: ${batchCount} rows in ${chunks.length} batch job(s) of up to ${batchSize} ...`);
      const batch: Collected = { predictions: [], jobIds: [], layouts: [], wallMs: [], failures: [] };
      nonce = await nonceOf(stack, address);
      for (const chunk of chunks) {
        const t0 = performance.now();
        try {
          const result = await client.predictMany(ref, chunk.map((k) => readings[k]!), { timeoutMs: options.timeoutMs });
          batch.wallMs.push(performance.now() - t0);
          batch.jobIds.push(result.jobId);
          batch.layouts.push(result.layout);
          chunk.forEach((k, r) => batch.predictions.push(row(heldOut[k]!, labels[k]!, result.predictions[r]!, plain[k]!, result.jobId, result.resultHash)));
        } catch (err) {
          const failure = settledWithoutResult(err);
          if (!failure) throw err;
          batch.jobIds.push(failure.jobId);
          batch.layouts.push(chooseLayout(chunk.length, values, parameterSetName));
          batch.failures.push(failure);
        }
      }
      const batchTransactions = (await nonceOf(stack, address)) - nonce;

      variants[variant] = {
        variant,
        modelId: ref.id,
        modelHash: ref.modelHash,
        stage: variant === "nonInteractive" ? "sigmoid-poly" : "linear",
        single: await summarise(stack, "single", variant, single, singleTransactions),
        batch: await summarise(stack, "batch", variant, batch, batchTransactions),
      };
    }
  } finally {
    client.dispose();
  }

  return {
    models,
    result: {
      id: spec.id,
      title: spec.title,
      data: spec.data,
      parameterSet: parameterSetName,
      values,
      trainRows: split.train.length,
      heldOutRows: heldOut.length,
      polynomial: { degree: poly.degree, interval: [poly.interval[0], poly.interval[1]], maxError: poly.maxError },
      patientKeys,
      batchSize,
      variants,
      seconds: (Date.now() - started) / 1000,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checks, the whole run, the table
// ---------------------------------------------------------------------------------------------------------------

/**
 * What the chain path must show, per data set, variant and mode: every requested row predicted; every class the
 * plaintext class; max |Δp| ≤ 1e-4 against `predictPlaintext` (for the non-interactive model that is p(T)); the
 * worker's result stage that of the variant; no failed job; one transaction per single-record prediction and per
 * batch job. And no JobFailed event on the whole deployment.
 */
export function chainChecks(datasets: readonly ChainDatasetResult[], expected: { singleRows: number; batchRows?: number }, failedJobsOnChain?: number): ChainCheck[] {
  const checks: ChainCheck[] = [];
  for (const d of datasets) {
    for (const variant of CHAIN_VARIANTS) {
      const v = d.variants[variant];
      for (const m of CHAIN_MODES) {
        const r = v[m];
        const want = m === "single" ? Math.min(expected.singleRows, d.heldOutRows) : Math.min(expected.batchRows ?? d.heldOutRows, d.heldOutRows);
        const what = `chain ${variant} ${m === "single" ? "single-record" : "batch"}`;
        checks.push({ dataset: d.id, check: `${what}: every row predicted, class = plaintext class`, pass: r.rows === want && r.classAgreement === want, detail: `${r.classAgreement}/${want} rows agree, ${r.rows} predicted` });
        checks.push({ dataset: d.id, check: `${what}: max |Δp| vs predictPlaintext <= ${ACCEPTANCE.maxAbsDeltaP.toExponential(0)}`, pass: r.rows > 0 && r.maxAbsDeltaP <= ACCEPTANCE.maxAbsDeltaP, detail: `max |Δp| = ${r.maxAbsDeltaP.toExponential(2)}` });
        checks.push({ dataset: d.id, check: `${what}: result stage ${v.stage}, no failed job`, pass: r.failedJobs === 0 && r.resultStages.length === 1 && r.resultStages[0] === v.stage, detail: `stages ${r.resultStages.join(", ") || "none"}, ${r.failedJobs} failed of ${r.jobs}` });
        checks.push({
          dataset: d.id,
          check: `${what}: one transaction per ${m === "single" ? "prediction" : "job"}`,
          pass: r.jobs > 0 && r.transactions === r.jobs,
          detail: `${r.transactions} transactions, ${r.jobs} jobs`,
        });
      }
    }
  }
  if (failedJobsOnChain !== undefined) {
    checks.push({ dataset: "chain", check: "no JobFailed event on the deployment", pass: failedJobsOnChain === 0, detail: `${failedJobsOnChain} failed jobs` });
  }
  return checks;
}

export interface ChainRunOptions extends ChainOptions {
  stack?: LocalStackOptions;
}

/**
 * Starts a local stack (hardhat node, redis-server, coprocessor), runs `runChainDataset` for every input on it, and
 * stops it whatever happens.
 */
export async function runChainExperiment(inputs: readonly ExperimentInput[], options: ChainRunOptions = {}): Promise<ChainReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  log("chain: starting the local stack (hardhat node, redis-server, coprocessor) ...");
  const stack = await startLocalStack(options.stack);
  // The experiment's models take the trainer's default parameter set: one engine serves every data set.
  let engine: CkksEngine | undefined;
  const datasets: ChainDatasetResult[] = [];
  let failedJobsOnChain: number;
  try {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    for (const input of inputs) {
      const run = await runChainDataset(stack, engine, input, options);
      log(`${input.spec.title}: chain path done in ${run.result.seconds.toFixed(1)} s`);
      datasets.push(run.result);
    }
    failedJobsOnChain = (await stack.contract.queryFilter(stack.contract.filters.JobFailed(), 0)).length;
  } finally {
    engine?.dispose();
    await stack.stop();
  }
  const singleRows = options.singleRows ?? DEFAULT_CHAIN_ROWS;
  const checks = chainChecks(datasets, { singleRows, batchRows: options.batchRows }, failedJobsOnChain);
  return {
    singleRows,
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    seed: options.seed ?? DEFAULT_EXPERIMENT_SEED,
    testFraction: 0.2,
    maxAbsDeltaP: ACCEPTANCE.maxAbsDeltaP,
    datasets,
    failedJobsOnChain,
    checks,
    pass: checks.every((c) => c.pass),
    seconds: (Date.now() - started) / 1000,
  };
}

const f3 = (x: number | null): string => (x === null ? "–" : x.toFixed(3));
const sci = (x: number): string => (x === 0 ? "0" : x.toExponential(1));
const ms = (x: number): string => x.toFixed(0);
const tx = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(3));

/** One line per data set × variant × mode. */
export function chainTable(datasets: readonly ChainDatasetResult[]): string {
  const lines = [
    "| data set | variant | mode | rows | jobs | accuracy / AUC (chain) | predictPlaintext, same rows | class = plaintext | max \\|Δp\\| vs plaintext | tx / prediction (per job) | wall ms median / p95 | failed jobs |",
    "|---|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const d of datasets) {
    let first = true;
    for (const variant of CHAIN_VARIANTS) {
      for (const m of CHAIN_MODES) {
        const r = d.variants[variant][m];
        const mode = m === "single" ? "single-record" : `batch (${r.layouts.join(", ")}, ≤ ${d.batchSize}/job)`;
        const wall = m === "single" ? `${ms(r.wallMs.median)} / ${ms(r.wallMs.p95)}` : `${ms(r.wallMs.median)} / ${ms(r.wallMs.p95)} per job`;
        lines.push(
          `| ${first ? `${d.title} (${d.values} entries, ${d.heldOutRows} held out)` : ""} | ${m === "single" ? CHAIN_VARIANT_LABELS[variant] : ""} | ${mode} | ${r.rows} | ${r.jobs} | ${f3(r.accuracy)} / ${f3(r.auc)} | ${f3(r.plaintextAccuracy)} / ${f3(r.plaintextAuc)} | ${r.classAgreement}/${r.rows} | ${sci(r.maxAbsDeltaP)} | ${tx(r.transactionsPerPrediction)} (${tx(r.transactionsPerJob)}) | ${wall} | ${r.failedJobs} |`,
        );
        first = false;
      }
    }
  }
  return lines.join("\n");
}
