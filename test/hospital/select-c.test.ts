import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { modelBytes, parseModelBytes, predictPlaintext, type Model } from "../../protocol/model.js";
import { loadDataset, readingFromRow, type Dataset } from "../../hospital/dataset.js";
import { C_GRID, C_SELECTION_FOLDS, meanLogLoss, selectC } from "../../hospital/select-c.js";
import { fitLogisticRegression } from "../../hospital/logistic-regression.js";
import { mulberry32, stratifiedKFold, stratifiedSplit } from "../../hospital/split.js";
import { fitStandardiser, standardiseRow } from "../../hospital/standardise.js";
import { AUTO_C_WITH_HIDDEN, selectL2C, trainModel, trainOnDatasetSplit, type TrainOptions } from "../../hospital/train.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

const ROWS = 100;
/** A tuple holds at most 16 entries: 3 inputs carry the signal, 13 are noise. */
const INPUTS = 16;

/** Half the rows are held out: 50 training rows for 16 inputs, 13 of them noise, so a weak penalty overfits. */
const TEST_FRACTION = 0.5;
const SEED = 5;

/**
 * Seeded synthetic data: x ~ N(0, 1) per input (Box-Muller on mulberry32), y ~ Bernoulli(sigmoid(1.5 (x1 + x2 - x3))).
 * (With these sizes, data seeds 1 to 20 all gave the auto choice a held-out log-loss below C = 1000's.)
 */
function noisyCsv(seed = 1): string {
  const random = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const columns = Array.from({ length: INPUTS }, (_, j) => `x${j + 1}`);
  const lines = [[...columns, "y"].join(",")];
  for (let i = 0; i < ROWS; i++) {
    const x = columns.map(() => gauss());
    const z = 1.5 * (x[0]! + x[1]! - x[2]!);
    const y = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push([...x.map((v) => v.toFixed(4)), y].join(","));
  }
  return lines.join("\n") + "\n";
}

/** The CSV with the label of each listed data row (0-based) flipped. */
function flipLabels(csv: string, rows: readonly number[]): string {
  const lines = csv.trimEnd().split("\n");
  for (const i of rows) {
    const line = lines[i + 1]!;
    lines[i + 1] = line.replace(/,([01])$/, (_, y: string) => `,${1 - Number(y)}`);
  }
  return lines.join("\n") + "\n";
}

function options(csvText: string, patch: Partial<TrainOptions> = {}): TrainOptions {
  return {
    csvText,
    datasetName: "noisy.csv",
    datasetSha256: "0".repeat(64),
    target: "y",
    positiveMeans: "y = 1",
    name: "noisy",
    version: 1,
    description: "synthetic",
    seed: SEED,
    testFraction: TEST_FRACTION,
    l2C: "auto",
    ...patch,
  };
}

function logLossOn(model: Model, dataset: Dataset, rows: readonly number[]): number {
  const logits = rows.map((i) => predictPlaintext(model, readingFromRow(dataset.columns, dataset.rows[i]!, [dataset.target])).logit);
  return meanLogLoss(rows.map((i) => dataset.labels[i]!), logits);
}

/**
 * The one-round pipeline written out independently of the trainer: standardise on `train`, L2 logistic regression
 * with C, mean log-loss on `test`. No model validation, so it also scores C values whose weights leave the encrypted range.
 */
function directLogLoss(dataset: Dataset, train: readonly number[], test: readonly number[], C: number): number {
  const standardiser = fitStandardiser(train.map((i) => dataset.features[i]!), dataset.featureNames);
  const fit = fitLogisticRegression(train.map((i) => standardiseRow(standardiser, dataset.features[i]!)), train.map((i) => dataset.labels[i]!), { C });
  expect(fit.converged, `C = ${C}`).to.equal(true);
  const logits = test.map((i) => standardiseRow(standardiser, dataset.features[i]!).reduce((s, v, j) => s + v * fit.weights[j]!, fit.bias));
  return meanLogLoss(test.map((i) => dataset.labels[i]!), logits);
}

describe("hospital/select-c: choosing C by cross-validation on the training rows", function () {
  this.timeout(30_000);

  it("picks, with many noisy inputs, a C below the grid's weakest whose held-out log-loss is no worse than C = 1000's", () => {
    const csv = noisyCsv();
    const { model, split, cSelection } = trainModel(options(csv));
    expect(cSelection).to.not.equal(undefined);
    const selection = cSelection!;
    expect(selection.grid.map((g) => g.C)).to.deep.equal([...C_GRID]);
    expect(C_GRID).to.have.length(13);
    expect(selection.folds).to.equal(C_SELECTION_FOLDS);
    expect(selection.rows).to.equal(split.train.length);
    expect(model.training.l2C).to.equal(selection.chosen);
    expect(selection.chosen).to.be.below(C_GRID[C_GRID.length - 1]!);

    // The chosen C has the lowest mean score, and no smaller C ties it.
    const scores = selection.grid.map((g) => g.logLoss!);
    const index = C_GRID.indexOf(selection.chosen);
    expect(scores.every((s) => s >= scores[index]!)).to.equal(true);
    expect(scores.slice(0, index).every((s) => s > scores[index]!)).to.equal(true);
    // Overfitting is visible: the weakest penalty scores clearly worse in cross-validation.
    expect(scores[scores.length - 1]!).to.be.above(scores[index]! + 0.1);

    // On the held-out split, which the search never saw: no worse than the weakest penalty on the same split. (At
    // C = 1000 the weights leave the encrypted range, so that fit is scored by the pipeline written out here.)
    const dataset = loadDataset(csv, "y");
    const auto = logLossOn(model, dataset, split.test);
    expectClose(directLogLoss(dataset, split.train, split.test, selection.chosen), auto, 1e-9, "direct pipeline at the chosen C");
    expect(auto).to.be.at.most(directLogLoss(dataset, split.train, split.test, C_GRID[C_GRID.length - 1]!));
  });

  it("scores a C as the mean log-loss over stratified folds of the training rows, each fold refitting the pipeline", () => {
    const csv = noisyCsv();
    const dataset = loadDataset(csv, "y");
    const split = stratifiedSplit(dataset.labels, TEST_FRACTION, SEED);
    const selection = selectL2C(options(csv), split.train);
    // Independently: stratifiedKFold over the training rows' labels (the training seed), mapped back to row indices.
    const folds = stratifiedKFold(
      split.train.map((i) => dataset.labels[i]!),
      C_SELECTION_FOLDS,
      SEED,
    ).map((f) => ({ train: f.train.map((j) => split.train[j]!), test: f.test.map((j) => split.train[j]!) }));
    for (const C of C_GRID) {
      const perFold = folds.map((fold) => directLogLoss(dataset, fold.train, fold.test, C));
      const entry = selection.grid.find((g) => g.C === C)!;
      perFold.forEach((s, f) => expectClose(entry.perFold[f]!, s, 1e-9, `C = ${C}, fold ${f}`));
      expectClose(entry.logLoss!, perFold.reduce((a, b) => a + b, 0) / perFold.length, 1e-9, `C = ${C}`);
    }
  });

  it("uses the training rows only: flipping every held-out row's label changes no score and not the chosen C", () => {
    const csv = noisyCsv();
    const dataset = loadDataset(csv, "y");
    const split = stratifiedSplit(dataset.labels, TEST_FRACTION, SEED);
    const before = selectL2C(options(csv), split.train);
    const flipped = flipLabels(csv, split.test);
    const after = selectL2C(options(flipped), split.train);
    expect(after).to.deep.equal(before);

    // The whole pipeline on that split: the same C and the same weights (only the held-out metrics differ).
    const a = trainOnDatasetSplit(options(csv), dataset, split);
    const b = trainOnDatasetSplit(options(flipped), loadDataset(flipped, "y"), split);
    expect(b.training.l2C).to.equal(a.training.l2C);
    expect(a.training.l2C).to.equal(before.chosen);
    expect(b.server).to.deep.equal(a.server);

    // The check has teeth: flipping ten training rows does change the scores.
    const changed = selectL2C(options(flipLabels(csv, split.train.slice(0, 10))), split.train);
    expect(changed.grid.map((g) => g.logLoss)).to.not.deep.equal(before.grid.map((g) => g.logLoss));
  });

  it("is deterministic: the same seed gives the same scores, choice and model bytes", () => {
    const csv = noisyCsv(23);
    const first = trainModel(options(csv, { seed: 9 }));
    const second = trainModel(options(csv, { seed: 9 }));
    expect(second.cSelection).to.deep.equal(first.cSelection);
    expect(second.model.training.l2C).to.equal(first.model.training.l2C);
    expect(Buffer.from(modelBytes(second.model)).equals(Buffer.from(modelBytes(first.model)))).to.equal(true);
    expect(first.cSelection!.seed).to.equal(9);
    // The seed shapes the folds: another seed scores differently.
    const other = trainModel(options(csv, { seed: 10 }));
    expect(other.cSelection!.grid.map((g) => g.logLoss)).to.not.deep.equal(first.cSelection!.grid.map((g) => g.logLoss));
  });

  it("records only the chosen C: the auto model is byte-identical to the model trained with that C", () => {
    const csv = noisyCsv();
    const auto = trainModel(options(csv));
    const fixed = trainModel(options(csv, { l2C: auto.cSelection!.chosen }));
    expect(fixed.cSelection).to.equal(undefined);
    expect(Buffer.from(modelBytes(auto.model)).equals(Buffer.from(modelBytes(fixed.model)))).to.equal(true);
  });

  it("breaks ties toward the smaller C and skips a C whose fit did not converge", () => {
    const labels = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    const train = labels.map((_, i) => i);
    const flat = selectC(labels, train, 1, () => 0.5);
    expect(flat.chosen).to.equal(C_GRID[0]);
    // Equal up to rounding still counts as a tie.
    const nearlyFlat = selectC(labels, train, 1, (C) => 0.5 - (C === 10 ? 1e-15 : 0), { folds: 2 });
    expect(nearlyFlat.chosen).to.equal(C_GRID[0]);
    const valley = selectC(labels, train, 1, (C) => (C === 3 ? undefined : Math.abs(Math.log10(C) - 0.6)), { folds: 2 });
    expect(valley.grid.find((g) => g.C === 3)!.logLoss).to.equal(null);
    expect(valley.chosen).to.equal(10);
    // Every fold handed to the scorer holds training rows only.
    const seen = new Set<number>();
    selectC(labels, [1, 2, 3, 4, 6, 7], 1, (_, fold) => {
      [...fold.train, ...fold.test].forEach((i) => seen.add(i));
      return 1;
    }, { folds: 2 });
    expect([...seen].sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 6, 7]);
  });

  it("refuses auto for a model with a hidden round", () => {
    expect(() => trainModel(options(noisyCsv(), { hidden: { units: 2 } }))).to.throw(RangeError, AUTO_C_WITH_HIDDEN);
  });
});

describe("scripts/train-model.ts: --C auto", function () {
  this.timeout(60_000);

  interface Run {
    status: number;
    stdout: string;
    stderr: string;
  }
  const run = (args: string[], cwd: string): Promise<Run> =>
    new Promise((resolvePromise) => {
      execFile(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/train-model.ts"), ...args], { cwd, encoding: "utf8" }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolvePromise({ status: code, stdout, stderr });
      });
    });

  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "select-c-"));
    writeFileSync(join(dir, "data.csv"), noisyCsv());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const base = ["--data", "data.csv", "--target", "y", "--name", "noisy", "--seed", String(SEED), "--test-fraction", String(TEST_FRACTION)];

  it("reports every grid value's score and the chosen C, and writes the same bytes as --C <chosen>", async () => {
    const [json, table] = await Promise.all([run([...base, "--C", "auto", "--json", "--out", "auto.json"], dir), run([...base, "--C", "auto", "--out", "table.json"], dir)]);
    expect(json.status, json.stderr).to.equal(0);
    expect(table.status, table.stderr).to.equal(0);
    const report = JSON.parse(json.stdout) as {
      l2C: { value: number; selection: { criterion: string; folds: number; seed: number; rows: number; grid: { C: number; logLoss: number }[]; chosen: number } };
    };
    const { value, selection } = report.l2C;
    expect(selection.grid.map((g) => g.C)).to.deep.equal([...C_GRID]);
    expect(selection.grid.every((g) => g.logLoss > 0)).to.equal(true);
    expect(value).to.equal(selection.chosen);
    expect(selection).to.include({ folds: 5, seed: SEED, rows: 50, criterion: "mean held-out-fold log-loss" });
    expect(value).to.equal(trainModel(options(noisyCsv())).model.training.l2C);

    expect(table.stdout).to.contain(`C       ${value} (auto: mean held-out-fold log-loss, stratified 5-fold CV on the 50 training rows, seed ${SEED})`);
    for (const g of selection.grid) expect(table.stdout).to.contain(`| ${g.C} | ${g.logLoss.toFixed(4)} | ${g.C === value ? "chosen" : ""} |`);

    const fixed = await run([...base, "--C", String(value), "--json", "--out", "fixed.json"], dir);
    expect(fixed.status, fixed.stderr).to.equal(0);
    expect((JSON.parse(fixed.stdout) as { l2C: unknown }).l2C).to.deep.equal({ value, selection: null });
    const autoBytes = readFileSync(join(dir, "auto.json"));
    expect(autoBytes.equals(readFileSync(join(dir, "fixed.json")))).to.equal(true);
    expect(autoBytes.equals(readFileSync(join(dir, "table.json")))).to.equal(true);
    expect(parseModelBytes(new Uint8Array(autoBytes)).training.l2C).to.equal(value);
  });

  it("refuses --C 0, -1, foo and auto with --hidden, naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["--C", "0"], /--C <c\|auto>.*'0' is invalid.*positive number or auto/],
      [["--C", "-1"], /--C <c\|auto>.*'-1' is invalid.*positive number or auto/],
      [["--C", "foo"], /--C <c\|auto>.*'foo' is invalid.*positive number or auto/],
      [["--C", "auto", "--hidden", "2"], /--C auto is for one-round models.*--hidden/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run([...base, ...args, "--out", "bad.json"], dir)));
    runs.forEach((r, i) => {
      expect(r.status, cases[i]![0].join(" ")).to.not.equal(0);
      expect(r.stderr).to.match(cases[i]![1]);
    });
  });
});
