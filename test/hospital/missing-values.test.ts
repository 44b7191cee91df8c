import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildTuple,
  ModelFormatError,
  modelBytes,
  parseModel,
  parseModelBytes,
  predictPlaintext,
  ReadingError,
  type Model,
  type ModelInput,
} from "../../protocol/model.js";
import { DatasetError } from "../../hospital/csv.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { trainModel, type TrainOptions } from "../../hospital/train.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

const COLUMNS = ["a", "b", "c", "u", "y"] as const;

/**
 * 120 rows, a noisy linear signal: y = 1 when a + b/2 plus a small wobble exceeds 7. a is a count 0..9, b a
 * measurement 0..20 with one decimal, c positive (for log) and without signal, u a column the model never reads.
 */
function completeRows(): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < 120; i++) {
    const a = (i * 7) % 10;
    const b = ((i * 37) % 201) / 10;
    const c = 1 + ((i * 13) % 17);
    const u = (i * 5) % 9;
    const wobble = ((i * 11) % 7) - 3;
    rows.push([a, b, c, u, a + b / 2 + wobble > 7 ? 1 : 0]);
  }
  return rows;
}

/** Cells left empty: [0-based row, column]. a and b are read by the model; u is not. */
function emptyCells(): [number, string][] {
  const cells: [number, string][] = [];
  for (let i = 0; i < 120; i++) {
    if (i % 11 === 2) cells.push([i, "a"]);
    if (i % 13 === 5) cells.push([i, "b"]);
    if (i % 7 === 0) cells.push([i, "u"]);
  }
  return cells;
}

/** The rows as CSV text; NaN is written as an empty cell. */
function csvOf(rows: readonly number[][]): string {
  return [COLUMNS.join(","), ...rows.map((row) => row.map((v) => (Number.isNaN(v) ? "" : String(v))).join(","))].join("\n") + "\n";
}

function rowsWithGaps(rows: number[][] = completeRows()): number[][] {
  const copy = rows.map((row) => [...row]);
  for (const [i, column] of emptyCells()) copy[i]![COLUMNS.indexOf(column as (typeof COLUMNS)[number])] = Number.NaN;
  return copy;
}

const METADATA: ModelInput[] = [
  { name: "a", label: "Alpha count", kind: "integer", unit: "{count}", min: 0, max: 20 },
  { name: "b", label: "Beta", kind: "number", unit: "mm[Hg]", min: 0, max: 40 },
  { name: "c", label: "Gamma", kind: "number", unit: "mg/dL", min: 0.5, max: 50 },
];

function options(csvText: string, patch: Partial<TrainOptions> = {}): TrainOptions {
  return {
    csvText,
    datasetName: "gaps.csv",
    datasetSha256: "0".repeat(64),
    target: "y",
    positiveMeans: "y = 1",
    name: "gaps",
    version: 1,
    description: "test data with empty cells",
    seed: 11,
    testFraction: 0.25,
    l2C: 1,
    folds: 3,
    features: ["a", "b", "c"],
    transforms: { c: ["log"] },
    inputs: METADATA,
    ...patch,
  };
}

/** The median as the test computes it: sort the values present, the middle one or the mean of the two middle ones. */
function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Everything but what the policy adds, to compare with a model trained on complete data. */
function withoutPolicy(model: Model): Model {
  const { missing: _missing, ...rest } = model;
  return rest as Model;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
  }
  expect.fail("expected an error");
}

describe("hospital/train: missing values", function () {
  this.timeout(60_000);
  const labels = completeRows().map((row) => row[4]!);

  it("without a policy refuses the first empty cell, naming its row and column and suggesting --missing", () => {
    const err = errorOf(() => trainModel(options(csvOf(rowsWithGaps()))));
    expect(err).to.be.instanceOf(DatasetError);
    // Row index 0 has u empty (an unread column): without a policy any empty cell is refused, as before.
    expect((err as DatasetError).row).to.equal(1);
    expect((err as DatasetError).column).to.equal("u");
    expect(err.message).to.match(/^row 1 \(line 2\), column "u": empty cell/);
    expect(err.message).to.include("--missing drop").and.include("--missing median");
    const onlyB = completeRows();
    onlyB[4]![1] = Number.NaN;
    expect(() => trainModel(options(csvOf(onlyB)))).to.throw(DatasetError, /^row 5 \(line 6\), column "b": empty cell/);
    // An empty target cell is refused under any policy.
    const noLabel = completeRows();
    noLabel[9]![4] = Number.NaN;
    for (const missing of ["drop", "median"] as const) {
      expect(() => trainModel(options(csvOf(noLabel), { missing }))).to.throw(DatasetError, /row 10, column "y": empty cell/);
    }
  });

  it("drop: leaves out the rows with an empty cell in a column the model reads, and says how many", () => {
    const { model, missing, split } = trainModel(options(csvOf(rowsWithGaps()), { missing: "drop" }));
    const incomplete = [...new Set(emptyCells().filter(([, c]) => c !== "u").map(([i]) => i))].sort((x, y) => x - y);
    expect(missing).to.deep.equal({
      policy: "drop",
      emptyCells: emptyCells().filter(([, c]) => c !== "u").length,
      droppedRows: incomplete.map((i) => i + 1),
    });
    expect(model.missing).to.deep.equal({ policy: "drop" });
    expect(split.train.length + split.test.length).to.equal(120 - incomplete.length);

    // The same model as training on the CSV without those rows (u's empty cells, never read, left in).
    const kept = rowsWithGaps().filter((_, i) => !incomplete.includes(i));
    const reference = trainModel(options(csvOf(kept.map((row) => [row[0]!, row[1]!, row[2]!, 0, row[4]!]))));
    expect(withoutPolicy(model)).to.deep.equal(reference.model);
  });

  it("median: fills each empty cell with its column's median over the training rows of the held-out split", () => {
    const gaps = rowsWithGaps();
    const { model, missing, split } = trainModel(options(csvOf(gaps), { missing: "median" }));
    const expectedSplit = stratifiedSplit(labels, 0.25, 11);
    expect(split).to.deep.equal(expectedSplit);
    const medians = {
      a: median(expectedSplit.train.map((i) => gaps[i]![0]!)),
      b: median(expectedSplit.train.map((i) => gaps[i]![1]!)),
      c: median(expectedSplit.train.map((i) => gaps[i]![2]!)),
    };
    expect(model.missing).to.deep.equal({ policy: "median", medians });
    expect(missing).to.deep.equal({ policy: "median", emptyCells: emptyCells().filter(([, c]) => c !== "u").length, medians });
    // One of the training medians is the mean of the two middle values (an even count of values present).
    const present = (j: number) => expectedSplit.train.filter((i) => !Number.isNaN(gaps[i]![j]!)).length;
    expect([present(0), present(1), present(2)].some((n) => n % 2 === 0)).to.equal(true);

    // The same fit as the complete CSV with those medians typed into the empty cells (a as a number: its median may
    // lie between two counts).
    const filled = gaps.map((row) => [Number.isNaN(row[0]!) ? medians.a : row[0]!, Number.isNaN(row[1]!) ? medians.b : row[1]!, row[2]!, 0, row[4]!]);
    const reference = trainModel(options(csvOf(filled), { folds: 0, inputs: [{ name: "a", label: "Alpha count", kind: "number", unit: "{count}", min: 0, max: 20 }, ...METADATA.slice(1)] }));
    expect(model.server).to.deep.equal(reference.model.server);
    expect(model.features).to.deep.equal(reference.model.features);
    expect(model.metrics.test).to.deep.equal(reference.model.metrics.test);
  });

  it("median: a held-out row's values never change a median", () => {
    const gaps = rowsWithGaps();
    const { test } = stratifiedSplit(labels, 0.25, 11);
    const base = trainModel(options(csvOf(gaps), { missing: "median", folds: 0 })).model;
    const shifted = gaps.map((row, i) => (test.includes(i) ? [row[0]! === 0 ? 20 : 0, 40, 50, row[3]!, row[4]!] : row));
    const emptied = gaps.map((row, i) => (test.includes(i) ? [Number.NaN, Number.NaN, row[2]!, row[3]!, row[4]!] : row));
    for (const rows of [shifted, emptied]) {
      expect(trainModel(options(csvOf(rows), { missing: "median", folds: 0 })).model.missing).to.deep.equal(base.missing);
    }
  });

  it("the model file round-trips and validates its medians", () => {
    const { model } = trainModel(options(csvOf(rowsWithGaps()), { missing: "median" }));
    expect(parseModelBytes(modelBytes(model))).to.deep.equal(model);
    const medians = (model.missing as { medians: Record<string, number> }).medians;
    const json = JSON.parse(new TextDecoder().decode(modelBytes(model))) as Record<string, unknown>;
    expect(json.missing).to.deep.equal({ policy: "median", medians });
    const withMedians = (m: Record<string, number>) => ({ ...json, missing: { policy: "median", medians: m } });
    expect(() => parseModel(withMedians({ ...medians, b: 41 }))).to.throw(ModelFormatError, /median 41 of "b" is outside its range 0 to 40/);
    expect(() => parseModel(withMedians({ ...medians, u: 4 }))).to.throw(ModelFormatError, /"u" is not the input of any feature/);
    expect(() => parseModel(withMedians({ ...medians, c: 0.2 }))).to.throw(ModelFormatError, /"c"/);
    const dropped = trainModel(options(csvOf(rowsWithGaps()), { missing: "drop" })).model;
    expect(parseModelBytes(modelBytes(dropped))).to.deep.equal(dropped);
  });

  it("the client fills a missing input with the median under median, and refuses it under drop", () => {
    const median = trainModel(options(csvOf(rowsWithGaps()), { missing: "median" })).model;
    const medians = (median.missing as { medians: Record<string, number> }).medians;
    const reading = { a: 4, b: 7.5, c: 3 };
    const typed = buildTuple(median, { ...reading, b: medians.b! });
    expect(buildTuple(median, { a: 4, c: 3 })).to.deep.equal(typed);
    expect(buildTuple(median, { ...reading, b: Number.NaN })).to.deep.equal(typed);
    expect(predictPlaintext(median, { a: 4, c: 3 })).to.deep.equal(predictPlaintext(median, { ...reading, b: medians.b! }));

    const drop = trainModel(options(csvOf(rowsWithGaps()), { missing: "drop" })).model;
    const err = errorOf(() => buildTuple(drop, { a: 4, c: 3 }));
    expect(err).to.be.instanceOf(ReadingError);
    expect((err as ReadingError).input).to.equal("b");
    expect(err.message).to.equal('reading has no value for "b" (Beta); this model\'s missing-value policy is "drop": such a reading cannot be predicted');
    expect(buildTuple(drop, reading)).to.have.length(3);
  });
});

describe("scripts/train-model.ts --missing", function () {
  this.timeout(120_000);
  const run = (args: string[], cwd: string) =>
    spawnSync(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/train-model.ts"), ...args], { cwd, encoding: "utf8" });

  it("refuses empty cells by default and trains with drop or median, saying what the policy did", () => {
    const dir = mkdtempSync(join(tmpdir(), "train-missing-"));
    try {
      writeFileSync(join(dir, "gaps.csv"), csvOf(rowsWithGaps()));
      const args = ["--data", "gaps.csv", "--target", "y", "--name", "gaps", "--features", "a,b,c", "--folds", "0"];
      const refused = run([...args, "--out", "none.json"], dir);
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.include('row 1 (line 2), column "u": empty cell').and.include("--missing drop");

      const drop = run([...args, "--missing", "drop", "--out", "drop.json"], dir);
      expect(drop.status, drop.stderr).to.equal(0);
      const incomplete = new Set(emptyCells().filter(([, c]) => c !== "u").map(([i]) => i)).size;
      expect(drop.stdout).to.include(`missing drop: ${incomplete} row(s) with an empty cell in a column the model reads left out of training`);
      expect(parseModelBytes(readFileSync(join(dir, "drop.json"))).missing).to.deep.equal({ policy: "drop" });

      const median = run([...args, "--missing", "median", "--json", "--out", "median.json"], dir);
      expect(median.status, median.stderr).to.equal(0);
      const report = JSON.parse(median.stdout) as { missing: { policy: string; medians: Record<string, number> } };
      const model = parseModelBytes(readFileSync(join(dir, "median.json")));
      expect(model.missing).to.deep.equal({ policy: "median", medians: report.missing.medians });

      const bad = run([...args, "--missing", "mean", "--out", "bad.json"], dir);
      expect(bad.status).to.not.equal(0);
      expect(bad.stderr).to.include("drop, median");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
