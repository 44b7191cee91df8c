import { expect } from "chai";
import { keccak256 } from "ethers";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelFormatError, modelBytes, parseModelBytes, predictPlaintext, ReadingError, roundCount, tupleNames, type ModelInput } from "../../protocol/model.js";
import { DatasetError } from "../../hospital/csv.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { INPUTS_FILE_FORMAT, parseInputsFile } from "../../hospital/inputs.js";
import { stratifiedKFold, stratifiedSplit } from "../../hospital/split.js";
import { crossValidate, PolynomialIntervalError, trainModel, type TrainOptions } from "../../hospital/train.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * 100 rows, linearly separable with a margin: y = 1 exactly when a + b > 10, and no row has |a + b - 10| < 1.5.
 * c (positive, for log) and k (a category 1-3) carry no signal.
 */
function separableCsv(): string {
  const lines = ["a,b,c,k,y"];
  for (let i = 0; lines.length <= 100; i++) {
    const a = i % 10;
    const b = (i * 7 + 3) % 11;
    if (Math.abs(a + b - 10) < 1.5) continue;
    lines.push(`${a},${b},${1 + ((i * 13) % 17)},${1 + (i % 3)},${a + b > 10 ? 1 : 0}`);
  }
  return lines.join("\n") + "\n";
}

/** A disc: y = 1 inside a² + b² < 6.5 on a 15 x 15 grid, rows within 1 of the circle left out. Not linearly separable. */
function discCsv(): string {
  const lines = ["a,b,y"];
  for (let i = 0; i < 15; i++) {
    for (let j = 0; j < 15; j++) {
      const a = (i - 7) / 2;
      const b = (j - 7) / 2;
      if (Math.abs(a * a + b * b - 6.5) < 1) continue;
      lines.push(`${a},${b},${a * a + b * b < 6.5 ? 1 : 0}`);
    }
  }
  return lines.join("\n") + "\n";
}

function options(csvText: string, patch: Partial<TrainOptions> = {}): TrainOptions {
  return {
    csvText,
    datasetName: "synthetic.csv",
    datasetSha256: "0".repeat(64),
    target: "y",
    positiveMeans: "y = 1",
    name: "synthetic",
    version: 1,
    description: "test data",
    seed: 7,
    testFraction: 0.25,
    l2C: 1,
    ...patch,
  };
}

describe("hospital/train: generic trainer", function () {
  this.timeout(60_000);

  it("separates linearly separable data: accuracy 1 on training, held-out and every fold", () => {
    const { model, split } = trainModel(options(separableCsv()));
    expect(split.train.length + split.test.length).to.equal(100);
    expect(model.format).to.equal("pmhe-model/2");
    expect(tupleNames(model, 0)).to.deep.equal(["a", "b", "c", "k"]);
    expect(model.metrics.train.accuracy).to.equal(1);
    expect(model.metrics.test.accuracy).to.equal(1);
    expect(model.metrics.test.auc).to.equal(1);
    const cv = model.metrics.crossValidation!;
    expect(cv.folds).to.equal(5);
    expect(cv.perFold).to.have.length(5);
    expect(cv.perFold.every((f) => f.accuracy === 1 && f.auc === 1)).to.equal(true);
    expect(cv.perFold.reduce((s, f) => s + f.rows, 0)).to.equal(100);
    expect(cv.accuracy).to.equal(1);
    // The signal is in a and b: their weights dominate the noise columns'.
    const [wa, wb, wc, wk] = model.server.weights.map(Math.abs);
    expect(Math.min(wa!, wb!)).to.be.greaterThan(3 * Math.max(wc!, wk!));
  });

  it("is deterministic: retraining gives the same bytes", () => {
    const spec = { transforms: { c: ["log", "sqrt"] }, oneHot: { k: [1, 2, 3] } } as const;
    const a = modelBytes(trainModel(options(separableCsv(), spec)).model);
    const b = modelBytes(trainModel(options(separableCsv(), spec)).model);
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
    const other = modelBytes(trainModel(options(separableCsv(), { ...spec, seed: 8 })).model);
    expect(Buffer.from(a).equals(Buffer.from(other))).to.equal(false);
  });

  it("standardises each transformed entry with the training rows' mean and population std", () => {
    const csv = separableCsv();
    const { model, split } = trainModel(options(csv, { features: ["k", "c", "a"], transforms: { c: ["log"] }, oneHot: { k: [1, 2, 3] } }));
    expect(tupleNames(model, 0)).to.deep.equal(["k=1", "k=2", "k=3", "log(c)", "a"]);
    const ds = loadDataset(csv, "y");
    const column = (name: string): number[] => split.train.map((i) => ds.rows[i]![ds.columns.indexOf(name)]!);
    const check = (values: number[], feature: (typeof model.features)[number]): void => {
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      expectClose(feature.mean, mean, 1e-12, feature.name);
      expectClose(feature.std, std, 1e-12, feature.name);
    };
    check(column("k").map((k) => (k === 2 ? 1 : 0)), model.features[1]!);
    check(column("c").map(Math.log), model.features[3]!);
    check(column("a"), model.features[4]!);
    expect(model.features[3]).to.include({ input: "c", transform: "log" });
  });

  it("records k-fold metrics that retraining each fold reproduces; folds 0 leaves them out", () => {
    const csv = separableCsv();
    const noisy = csv.replace(/\n(\d),(\d+),/, (_, a: string, b: string) => `\n${a},${Number(b) + 9},`); // one row across the boundary
    const opts = options(noisy, { folds: 3 });
    const { model } = trainModel(opts);
    const cv = crossValidate(opts, 3);
    expect(model.metrics.crossValidation!.perFold).to.deep.equal(cv.folds);
    expect(model.metrics.crossValidation!.accuracy).to.equal(cv.accuracy);
    expectClose(cv.accuracy, cv.folds.reduce((s, f) => s + f.accuracy, 0) / 3, 1e-15);
    const ds = loadDataset(noisy, "y");
    expect(cv.folds.map((f) => f.rows)).to.deep.equal(stratifiedKFold(ds.labels, 3, 7).map((s) => s.test.length));
    expect(trainModel({ ...opts, folds: 0 }).model.metrics.crossValidation).to.equal(undefined);
    expect(() => trainModel({ ...opts, folds: 1 })).to.throw(RangeError);
  });

  it("a disc needs a non-linear pipeline: x^2 transforms or a hidden round separate it, identity does not", () => {
    const csv = discCsv();
    const linear = trainModel(options(csv)).model;
    expect(linear.metrics.train.accuracy).to.be.below(0.8);
    const squares = trainModel(options(csv, { transforms: { a: ["power2"], b: ["power2"] } })).model;
    expect(tupleNames(squares, 0)).to.deep.equal(["a^2", "b^2"]);
    expect(squares.metrics.train.accuracy).to.equal(1);
    expect(squares.metrics.test.accuracy).to.equal(1);

    const { model, split } = trainModel(options(csv, { hidden: { units: 8 } }));
    expect(roundCount(model)).to.equal(2);
    expect(model.hidden![0]!.server.weights).to.have.length(8);
    expect(model.hidden![0]!.client.activation).to.equal("tanh");
    expect(tupleNames(model, 1)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8].map((j) => `tanh(h${j})`));
    expect(model.training.hiddenSolver).to.contain("gradient descent");
    expect(model.metrics.train.accuracy).to.equal(1);
    expect(model.metrics.test.accuracy).to.equal(1);
    // The recorded held-out accuracy is what predictPlaintext gives on those rows.
    const ds = loadDataset(csv, "y");
    const correct = split.test.filter((i) => predictPlaintext(model, readingFromRow(ds.columns, ds.rows[i]!, ["y"])).predictedClass === ds.labels[i]);
    expect(correct.length / split.test.length).to.equal(model.metrics.test.accuracy);
    // The hidden outputs' standardisation constants are the mean and population std of the training rows' activations.
    expect(split).to.deep.equal(stratifiedSplit(ds.labels, 0.25, 7));
    const { weights, bias } = model.hidden![0]!.server;
    model.hidden![0]!.client.outputs.forEach((output, j) => {
      const values = split.train.map((i) => {
        const [a, b] = ds.features[i]!;
        const x = [(a! - model.features[0]!.mean) / model.features[0]!.std, (b! - model.features[1]!.mean) / model.features[1]!.std];
        return Math.tanh(weights[j]![0]! * x[0]! + weights[j]![1]! * x[1]! + bias[j]!);
      });
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      expectClose(output.mean, mean, 1e-12, output.name);
      expectClose(output.std, std, 1e-12, output.name);
    });
  });

  it("refuses weights that leave the encrypted range, suggesting a smaller C", () => {
    try {
      trainModel(options(separableCsv(), { l2C: 1e6 }));
      expect.fail("accepted unbounded weights");
    } catch (err) {
      expect(err).to.be.instanceOf(ModelFormatError);
      expect((err as Error).message).to.contain("1000").and.contain("smaller C");
    }
  });
});

/** Metadata for separableCsv(): a and b plausible in 0..20, c in 1..50, k a choice of 1, 2, 3; in form order k, a, b, c. */
const METADATA: ModelInput[] = [
  { name: "k", label: "Kind", kind: "choice", choices: [{ value: 1, label: "one" }, { value: 2, label: "two" }, { value: 3, label: "three" }] },
  { name: "a", label: "Alpha", kind: "integer", unit: "{count}", min: 0, max: 20 },
  { name: "b", label: "Beta", kind: "number", unit: "mm[Hg]", min: 0, max: 20, step: 0.5 },
  { name: "c", label: "Gamma", kind: "number", unit: "mg/dL", min: 1, max: 50 },
];
const metadataFile = (inputs: readonly ModelInput[] = METADATA): string =>
  JSON.stringify({ format: INPUTS_FILE_FORMAT, dataset: "data.csv", source: "made up for the tests", inputs }, null, 2);

/** separableCsv() with data row `row` (1-based) of column `column` set to `value`. */
function withCell(row: number, column: string, value: number): string {
  const lines = separableCsv().split("\n");
  const j = lines[0]!.split(",").indexOf(column);
  const cells = lines[row]!.split(",");
  cells[j] = String(value);
  lines[row] = cells.join(",");
  return lines.join("\n");
}

describe("hospital/train: input metadata", function () {
  this.timeout(60_000);

  it("embeds the entries of the columns the features read, in the metadata's order, and leaves the rest of the model as it was", () => {
    const spec = { features: ["c", "a", "k"], transforms: { c: ["log" as const] }, oneHot: { k: [1, 2, 3] } };
    const { model } = trainModel(options(separableCsv(), { ...spec, inputs: METADATA }));
    expect(model.inputs!.map((i) => i.name)).to.deep.equal(["k", "a", "c"]);
    expect(model.inputs).to.deep.equal([METADATA[0], METADATA[1], METADATA[3]]);
    const bare = trainModel(options(separableCsv(), spec)).model;
    expect(bare.inputs).to.equal(undefined);
    expect({ ...model, inputs: undefined }).to.deep.equal({ ...bare, inputs: undefined });
    // The model now refuses readings its training data would never have held.
    expect(() => predictPlaintext(model, { a: 3, c: 10, k: 4 })).to.throw(ReadingError, /"k" \(Kind\)/);
  });

  it("refuses a training row outside a declared range or choice, naming the row and the input", () => {
    const cases: [string, number, string, RegExp][] = [
      ["b", 21, "b", /row 7: "b" \(Beta\) must be from 0 to 20 mm\[Hg\], got 21/],
      ["a", 2.5, "a", /row 7: "a" \(Alpha\) must be a whole number from 0 to 20 count, got 2.5/],
      ["k", 4, "k", /row 7: "k" \(Kind\) must be one of 1 = one, 2 = two, 3 = three, got 4/],
      ["c", 0, "c", /row 7: "c" \(Gamma\) must be from 1 to 50 mg\/dL, got 0/],
    ];
    for (const [column, value, input, message] of cases) {
      try {
        trainModel(options(withCell(7, column, value), { inputs: METADATA }));
        expect.fail(`accepted ${column} = ${value}`);
      } catch (err) {
        expect(err, column).to.be.instanceOf(DatasetError);
        expect((err as DatasetError).row).to.equal(7);
        expect((err as DatasetError).column).to.equal(input);
        expect((err as Error).message).to.match(message);
      }
    }
    // Without metadata the same rows train (b = 21 is just a number).
    expect(trainModel(options(withCell(7, "b", 21))).model.inputs).to.equal(undefined);
    // A column the model does not read is not checked: b out of range, but only a and c are features.
    expect(trainModel(options(withCell(7, "b", 21), { features: ["a", "c"], inputs: METADATA })).model.inputs!.map((i) => i.name)).to.deep.equal(["a", "c"]);
  });

  it("refuses metadata that misses a feature column, describes a column not in the data or the target, or is inconsistent", () => {
    expect(() => trainModel(options(separableCsv(), { inputs: METADATA.slice(1) }))).to.throw(DatasetError, /no entry for "k"/);
    expect(() => trainModel(options(separableCsv(), { inputs: [...METADATA, { ...METADATA[3]!, name: "weight" } as ModelInput] }))).to.throw(DatasetError, /"weight", which is not a column/);
    expect(() => trainModel(options(separableCsv(), { inputs: [...METADATA, { ...METADATA[3]!, name: "y" } as ModelInput] }))).to.throw(DatasetError, /"y", the target/);
    // k one-hot over 1, 2 while its choices are 1, 2, 3: the model's own consistency check refuses it.
    expect(() => trainModel(options(separableCsv().replace(/,3,([01])\n/g, ",2,$1\n"), { oneHot: { k: [1, 2] }, inputs: METADATA }))).to.throw(ModelFormatError, /one-hot categories/);
  });

  it("parses inputs files strictly, naming the file", () => {
    expect(parseInputsFile(metadataFile(), "x.inputs.json").inputs).to.deep.equal(METADATA);
    expect(() => parseInputsFile("{", "x.inputs.json")).to.throw(DatasetError, /x\.inputs\.json is not JSON/);
    expect(() => parseInputsFile(metadataFile([METADATA[0]!, METADATA[0]!]), "x.inputs.json")).to.throw(DatasetError, /"k" is described twice/);
    expect(() => parseInputsFile(metadataFile([{ ...METADATA[2]!, min: 30 } as ModelInput]), "x.inputs.json")).to.throw(DatasetError, /x\.inputs\.json[\s\S]*min \(30\) must be less than max/);
    const noFormat = JSON.stringify({ dataset: "d.csv", source: "s", inputs: METADATA });
    expect(() => parseInputsFile(noFormat, "x.inputs.json")).to.throw(DatasetError, /format/);
  });
});

describe("scripts/train-model.ts: generic command", function () {
  this.timeout(120_000);
  const run = (args: string[], cwd: string) =>
    spawnSync(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/train-model.ts"), ...args], { cwd, encoding: "utf8" });

  it("trains any CSV with transforms, one-hot and folds, writes the model its report names, byte-identically twice", () => {
    const dir = mkdtempSync(join(tmpdir(), "train-generic-"));
    try {
      writeFileSync(join(dir, "data.csv"), separableCsv());
      const args = ["--data", "data.csv", "--target", "y", "--name", "synthetic", "--features", "a,b,c,k"];
      const extra = ["--transform", "c=log,power2", "--one-hot", "k=1,2,3", "--folds", "4", "--seed", "3", "--json"];
      const first = run([...args, ...extra, "--out", "one.json"], dir);
      expect(first.status, first.stderr).to.equal(0);
      const second = run([...args, ...extra, "--out", "two.json"], dir);
      expect(second.status, second.stderr).to.equal(0);
      const one = new Uint8Array(readFileSync(join(dir, "one.json")));
      expect(Buffer.from(one).equals(readFileSync(join(dir, "two.json")))).to.equal(true);

      const report = JSON.parse(first.stdout) as {
        hash: string;
        rounds: { round: number; tuple: string[] }[];
        metrics: { test: { accuracy: number }; crossValidation: { folds: number; perFold: unknown[] } };
      };
      expect(keccak256(one)).to.equal(report.hash);
      expect(report.rounds).to.deep.equal([{ round: 0, tuple: ["a", "b", "log(c)", "c^2", "k=1", "k=2", "k=3"], outputs: 1 }]);
      expect(report.metrics.test.accuracy).to.equal(1);
      expect(report.metrics.crossValidation.folds).to.equal(4);
      expect(report.metrics.crossValidation.perFold).to.have.length(4);
      const model = parseModelBytes(one);
      expect(model.name).to.equal("synthetic");
      expect(model.training.seed).to.equal(3);
      expect(model.description).to.contain("log(c)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("embeds <data>.inputs.json by default, --inputs <file> when given, none with --no-inputs; refuses an out-of-range row", () => {
    const dir = mkdtempSync(join(tmpdir(), "train-inputs-"));
    try {
      writeFileSync(join(dir, "data.csv"), separableCsv());
      writeFileSync(join(dir, "data.inputs.json"), metadataFile());
      writeFileSync(join(dir, "other.json"), metadataFile([...METADATA.slice(0, 3), { ...METADATA[3]!, label: "Other gamma" }]));
      const base = ["--data", "data.csv", "--target", "y", "--name", "s", "--json"];
      const read = (file: string) => parseModelBytes(new Uint8Array(readFileSync(join(dir, file))));

      const byDefault = run([...base, "--out", "default.json"], dir);
      expect(byDefault.status, byDefault.stderr).to.equal(0);
      expect(read("default.json").inputs).to.deep.equal([METADATA[0], METADATA[1], METADATA[2], METADATA[3]]);
      expect((JSON.parse(byDefault.stdout) as { inputs: unknown }).inputs).to.deep.equal({ path: join(dir, "data.inputs.json"), columns: ["k", "a", "b", "c"] });

      const explicit = run([...base, "--inputs", "other.json", "--out", "explicit.json"], dir);
      expect(explicit.status, explicit.stderr).to.equal(0);
      expect(read("explicit.json").inputs![3]!.label).to.equal("Other gamma");

      const none = run([...base, "--no-inputs", "--out", "none.json"], dir);
      expect(none.status, none.stderr).to.equal(0);
      expect(read("none.json").inputs).to.equal(undefined);
      expect((JSON.parse(none.stdout) as { inputs: unknown }).inputs).to.equal(null);

      writeFileSync(join(dir, "data.csv"), withCell(12, "b", -1));
      const outside = run([...base, "--out", "outside.json"], dir);
      expect(outside.status).to.not.equal(0);
      expect(outside.stderr).to.contain('row 12: "b" (Beta) must be from 0 to 20 mm[Hg], got -1');

      const missing = run([...base, "--inputs", "absent.json", "--out", "m.json"], dir);
      expect(missing.status).to.not.equal(0);
      expect(missing.stderr).to.contain("absent.json");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a missing --name for other data, unknown transforms, unknown columns and too many entries", () => {
    const dir = mkdtempSync(join(tmpdir(), "train-generic-"));
    try {
      writeFileSync(join(dir, "data.csv"), separableCsv());
      const base = ["--data", "data.csv", "--target", "y", "--out", "m.json"];
      const noName = run(base, dir);
      expect(noName.status).to.not.equal(0);
      expect(noName.stderr).to.contain("--name");
      const badTransform = run([...base, "--name", "s", "--transform", "c=log10"], dir);
      expect(badTransform.status).to.not.equal(0);
      expect(badTransform.stderr).to.contain("log10");
      const badColumn = run([...base, "--name", "s", "--features", "a,weight"], dir);
      expect(badColumn.status).to.not.equal(0);
      expect(badColumn.stderr).to.contain('"weight"');
      // 300 one-hot entries: wider than any parameter set takes (256 at N=8192).
      const categories = Array.from({ length: 300 }, (_, i) => i + 1).join(",");
      const wide = run([...base, "--name", "s", "--one-hot", `k=${categories}`], dir);
      expect(wide.status).to.not.equal(0);
      expect(wide.stderr).to.contain("at most 256");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the non-interactive variant: fits the polynomial on the training logits' range and refuses an interval that leaves some out", () => {
    const csvText = separableCsv();
    const base = { csvText, datasetName: "data.csv", datasetSha256: "0".repeat(64), target: "y", positiveMeans: "y = 1", name: "s", version: 1, description: "", seed: 1, testFraction: 0.25, l2C: 1, folds: 0 };
    const model = trainModel({ ...base, nonInteractive: {} }).model;
    const poly = model.server.sigmoid!;
    expect(poly.degree).to.equal(3);
    const plain = trainModel(base).model;
    // Same weights: the polynomial is added on top of the linear stage.
    expect(model.server.weights).to.deep.equal(plain.server.weights);
    const err = (() => {
      try {
        trainModel({ ...base, nonInteractive: { interval: [-0.01, 0.01] } });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).to.be.instanceOf(PolynomialIntervalError);
    expect(err!.message).to.match(/leaves out \d+ training logit/);
    expect(() => trainModel({ ...base, nonInteractive: {}, parameterSet: "ckks-n4096-linear" })).to.throw(/depth 1/);
    expect(trainModel({ ...base, nonInteractive: {}, parameterSet: "smallest" }).model.fhe.parameterSet).to.equal("ckks-n8192-d3");
    expect(trainModel({ ...base, parameterSet: "smallest" }).model.fhe.parameterSet).to.equal("ckks-n4096-linear");
  });
});
