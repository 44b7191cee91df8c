/**
 * The accuracy experiment: stratified k-fold cross-validation of the committed logistic-regression pipelines
 * (Statlog heart, WDBC with the committed model's 16 columns and with all 30, and UCI Cleveland when its CSV is
 * given), each held-out row predicted in plaintext, by
 * the encrypted interactive protocol (CKKS linear stage, σ on the client) and by the encrypted non-interactive
 * variant (degree-3 polynomial σ under CKKS). See hospital/experiment.ts and docs/experiments.md.
 *
 *   npx tsx scripts/experiment.ts [--folds 5] [--seed 42] [--out-svg chart.svg] [--cleveland <csv>] [--json]
 *                                 [--chain [--chain-rows 10] [--chain-batch <n>]]
 * The chart is written only where --out-svg says (docs/experiments.svg is the committed one); Cleveland runs only when
 * --cleveland names its CSV (UCI Heart Disease, processed.cleveland.data: not shipped here, and the project reads
 * nothing outside its own tree by itself).
 *
 * Prints Markdown tables (accuracy and encrypted cost side by side per data set, then per method, the polynomial and
 * per fold; or, with --json, one JSON document on stdout), writes the SVG chart, and prints PASS/FAIL
 * lines for the acceptance checks (to stderr with --json); exits 1 when a check fails.
 *
 * With --chain it also runs the chain path (hospital/experiment-chain.ts) on a local stack it starts and stops
 * (hardhat node, redis-server, coprocessor): per data set an interactive and a non-interactive model trained on the
 * trainer's held-out split, published, and predicted through chain, queue and worker (the first --chain-rows held-out
 * rows one at a time, then all of them in packed batch jobs); its table follows the others, its numbers are the
 * JSON document's `chain`, and its checks (agreement with predictPlaintext within 1e-4, no failed job) join the rest.
 */
import { Command } from "commander";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import { DEFAULT_SIGMOID_DEGREE } from "../protocol/fhe/sigmoid.js";
import {
  buildReport,
  CLEVELAND_EXPERIMENT,
  DEFAULT_EXPERIMENT_FOLDS,
  DEFAULT_EXPERIMENT_SEED,
  foldTable,
  polynomialTable,
  renderSvg,
  runDatasetExperiment,
  SHIPPED_EXPERIMENTS,
  sideBySideTable,
  summaryTable,
  type DatasetResult,
  type ExperimentInput,
  type ExperimentReport,
  type ExperimentSpec,
} from "../hospital/experiment.js";
import { chainTable, DEFAULT_CHAIN_ROWS, runChainExperiment, type ChainReport } from "../hospital/experiment-chain.js";
import { integerOption } from "./lib/cli-options.js";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const integer = integerOption();
const folds = integerOption({ min: 2 });
const positive = integerOption({ min: 1 });

const program = new Command()
  .name("experiment")
  .description(
    "Accuracy of the encrypted pipelines against plaintext: stratified k-fold cross-validation of the committed " +
      "logistic-regression settings on Statlog heart, WDBC (the committed model's 16 columns, and all 30) and " +
      "(when --cleveland names its CSV) Cleveland; plaintext vs CKKS interactive vs CKKS non-interactive, with " +
      "each encrypted fold job's key, upload and result sizes and times.",
  )
  .option("--folds <k>", "stratified folds", folds, DEFAULT_EXPERIMENT_FOLDS)
  .option("--seed <n>", "seed of the stratified folds (and, with --chain, of the trainer's held-out split)", integer, DEFAULT_EXPERIMENT_SEED)
  .option("--cleveland <csv>", "UCI Cleveland CSV (processed.cleveland.data with a header); without it Cleveland is skipped with a note")
  .option("--out-svg <file>", "bar chart to write (none unless asked; docs/experiments.svg is the committed one)")
  .option("--json", "print one JSON document instead of the Markdown tables")
  .option(
    "--chain",
    "also predict through the real chain path on a local stack it starts (hardhat node, redis-server, coprocessor): " +
      "per data set an interactive and a non-interactive model trained on the trainer's held-out split (slow; off by default)",
  )
  .option("--chain-rows <n>", "with --chain: held-out rows predicted one at a time (single-record jobs) per variant", positive, DEFAULT_CHAIN_ROWS)
  .option("--chain-batch <n>", "with --chain: most records per packed batch job (default: what one packed ciphertext holds)", positive)
  .parse();

const opts = program.opts<{
  folds: number;
  seed: number;
  cleveland?: string;
  outSvg?: string;
  json?: boolean;
  chain?: boolean;
  chainRows: number;
  chainBatch?: number;
}>();
const fromCommandLine = (key: string): boolean => program.getOptionValueSource(key) === "cli";
const resolveOption = (key: string, value: string): string => resolve(fromCommandLine(key) ? process.cwd() : PROJECT_ROOT, value);

const started = Date.now();
const clevelandPath = opts.cleveland === undefined ? undefined : resolveOption("cleveland", opts.cleveland);
const svgPath = opts.outSvg === undefined ? undefined : resolveOption("outSvg", opts.outSvg);

const candidates: { spec: ExperimentSpec; path: string; optional: boolean }[] = [
  ...SHIPPED_EXPERIMENTS.map((spec) => ({ spec, path: resolve(PROJECT_ROOT, spec.data), optional: false })),
  ...(clevelandPath ? [{ spec: { ...CLEVELAND_EXPERIMENT, data: opts.cleveland! }, path: clevelandPath, optional: true }] : []),
];

const log = (line: string): void => {
  process.stderr.write(line + "\n");
};

const engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
const results: DatasetResult[] = [];
const inputs: ExperimentInput[] = [];
const skipped: ExperimentReport["skipped"] = [];
if (!clevelandPath) skipped.push({ id: CLEVELAND_EXPERIMENT.id, data: CLEVELAND_EXPERIMENT.data, reason: "not asked: --cleveland <csv> names UCI's Cleveland data, which is not shipped" });
try {
  for (const { spec, path, optional } of candidates) {
    if (!existsSync(path)) {
      if (!optional) {
        log(`experiment: ${spec.data} not found`);
        process.exit(1);
      }
      skipped.push({ id: spec.id, data: spec.data, reason: "file not found" });
      continue;
    }
    const bytes = readFileSync(path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const csvText = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    log(`${spec.title}: ${opts.folds}-fold, seed ${opts.seed} ...`);
    inputs.push({ spec, csvText, sha256 });
    const result = runDatasetExperiment(engine, { spec, csvText, sha256 }, { folds: opts.folds, seed: opts.seed });
    log(`${spec.title}: done in ${result.seconds.toFixed(1)} s`);
    results.push(result);
  }
} finally {
  engine.dispose();
}

let chain: ChainReport | undefined;
if (opts.chain) {
  try {
    chain = await runChainExperiment(inputs, {
      singleRows: opts.chainRows,
      ...(opts.chainBatch !== undefined ? { batchSize: opts.chainBatch } : {}),
      seed: opts.seed,
      log,
    });
  } catch (err) {
    log(`experiment: the chain path failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  }
}

const report = buildReport(results, {
  folds: opts.folds,
  seed: opts.seed,
  parameterSet: DEFAULT_PARAMETER_SET,
  degree: DEFAULT_SIGMOID_DEGREE,
  skipped,
  seconds: (Date.now() - started) / 1000,
});

if (svgPath) {
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, renderSvg(results));
}

const verdicts = [...report.acceptance.checks, ...(chain?.checks ?? [])].map((c) => `${c.pass ? "PASS" : "FAIL"} ${c.dataset}: ${c.check} (${c.detail})`);

if (opts.json) {
  process.stdout.write(JSON.stringify(chain ? { ...report, chain } : report, null, 2) + "\n");
  for (const line of verdicts) log(line);
} else {
  const notes = [
    ...results.map((r) => {
      const imputed = r.folds[0]?.imputed;
      return (
        `- ${r.title}: \`${r.data}\` (sha256 ${r.sha256.slice(0, 12)}…), ${r.rows} rows (${r.positives} positive), tuple: ${r.features.join(", ")}; C = ${r.l2C}.` +
        (imputed ? ` ${r.missingCells} empty cells, median-imputed per fold from the training rows (fold 1: ${Object.entries(imputed).map(([c, v]) => `${c} = ${v}`).join(", ")}).` : "")
      );
    }),
    ...skipped.map((s) => `- ${s.id}: skipped, \`${s.data}\` ${s.reason}.`),
  ];
  const lines = [
    `Stratified ${report.folds}-fold cross-validation, seed ${report.seed}; ${report.parameterSet}; sigmoid polynomial degree ${report.sigmoidDegree} fitted per fold on the training rows' logit interval.`,
    "",
    ...notes,
    "",
    "### Side by side: accuracy and cost per data set",
    "",
    sideBySideTable(results),
    "",
    "Sizes and times: one fold's encrypted job (all its held-out rows), median over the folds; the server evaluates " +
      "the same upload twice (linear, σ-poly). Time is wall clock on this machine.",
    "",
    "### Over all held-out predictions",
    "",
    summaryTable(results),
    "",
    "### The degree-3 sigmoid polynomial (non-interactive variant)",
    "",
    polynomialTable(results),
    "",
    "### Per fold",
    "",
    foldTable(results),
    "",
    ...(chain
      ? [
          "### Chain path: hardhat node, contract, redis/BullMQ queue, coprocessor worker",
          "",
          `Per data set, an interactive and a non-interactive (degree-3 σ on the worker) model trained on the trainer's held-out split ` +
            `(seed ${chain.seed}, test fraction ${chain.testFraction}); one patient with keys for both; the first ${chain.singleRows} held-out rows ` +
            `one at a time, then every held-out row in packed batch jobs. Δp and class against predictPlaintext of the same model ` +
            `(p(T) for the non-interactive one). Wall time: request to decrypted result, on this machine. JobFailed events on the deployment: ${chain.failedJobsOnChain}. ` +
            `${chain.seconds.toFixed(1)} s including the stack.`,
          "",
          chainTable(chain.datasets),
          "",
        ]
      : []),
    `${svgPath ? `Chart: ${opts.outSvg}.` : "No chart (--out-svg <file> writes one)."} Total ${report.seconds.toFixed(1)} s.`,
    "",
    ...verdicts,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
process.exit(report.acceptance.pass && (chain?.pass ?? true) ? 0 : 1);
