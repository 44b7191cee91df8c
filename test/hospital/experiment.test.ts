import { expect } from "chai";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { fitSigmoidPolynomial, logitInterval } from "../../protocol/fhe/sigmoid.js";
import { recordStride, strideRotationSteps } from "../../protocol/fhe/layouts.js";
import { parseModelBytes, predictPlaintext } from "../../protocol/model.js";
import { DatasetError } from "../../hospital/csv.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import {
  acceptanceChecks,
  buildReport,
  DEFAULT_EXPERIMENT_FOLDS,
  DEFAULT_EXPERIMENT_SEED,
  experimentTrainOptions,
  imputeMedians,
  METHODS,
  METRICS,
  parseCsvWithMissing,
  renderSvg,
  REPORT_KEYS,
  runDatasetExperiment,
  SHIPPED_EXPERIMENTS,
  sideBySideTable,
  summaryTable,
  trainFoldModel,
  WDBC_ALL_EXPERIMENT,
  WDBC_EXPERIMENT,
  WDBC_LOGREG,
  type DatasetResult,
  type ExperimentInput,
  type ExperimentSpec,
} from "../../hospital/experiment.js";
import { mulberry32, stratifiedKFold } from "../../hospital/split.js";
import { crossValidate } from "../../hospital/train.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * 60 rows, three features, a noisy linear rule: y = 1 when a + 0.5 b + noise > 0 (c carries no signal). Not
 * separable, so the fitted weights stay moderate. With `holes`, three cells of b are left empty.
 */
function syntheticCsv(seed: number, holes = false): string {
  const random = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const lines = ["a,b,c,y"];
  for (let i = 0; i < 60; i++) {
    const a = normal();
    const b = normal();
    const c = normal();
    const y = a + 0.5 * b + 0.7 * normal() > 0 ? 1 : 0;
    const bCell = holes && i % 20 === 7 ? "" : b.toFixed(4);
    lines.push(`${a.toFixed(4)},${bCell},${c.toFixed(4)},${y}`);
  }
  return lines.join("\n") + "\n";
}

const SPEC: ExperimentSpec = { id: "synthetic", title: "Synthetic", data: "synthetic.csv", target: "y", positiveMeans: "y = 1", l2C: 1 };
const HOLES_SPEC: ExperimentSpec = { ...SPEC, id: "synthetic-holes", title: "Synthetic, empty cells", impute: "median", reference: { features: "made up", folds: 5, accuracy: 0.8, auc: 0.85 } };
const FOLDS = 3;
const SEED = 7;

function input(spec: ExperimentSpec, csvText: string): ExperimentInput {
  return { spec, csvText, sha256: sha256(csvText) };
}

/** A minimal XML well-formedness check: balanced tags, quoted attributes, no stray markup characters. */
function parseXml(text: string): { name: string; attributes: Record<string, string> }[] {
  const elements: { name: string; attributes: Record<string, string> }[] = [];
  const stack: string[] = [];
  let i = 0;
  let rootSeen = false;
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    expect(chunk.includes(">"), `stray ">" in text ${JSON.stringify(chunk)}`).to.equal(false);
    expect(/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(chunk), `unescaped "&" in ${JSON.stringify(chunk)}`).to.equal(false);
    if (stack.length === 0) expect(chunk.trim(), "text outside the root element").to.equal("");
    if (lt < 0) break;
    const gt = text.indexOf(">", lt);
    expect(gt, "unterminated tag").to.be.greaterThan(lt);
    const tag = text.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      expect(stack.pop(), `closing </${name}>`).to.equal(name);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const match = /^([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*$/.exec(body);
    expect(match, `malformed tag <${tag}>`).to.not.equal(null);
    const attributes: Record<string, string> = {};
    for (const m of match![2]!.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      expect(attributes[m[1]!], `attribute ${m[1]} twice`).to.equal(undefined);
      attributes[m[1]!] = m[2]!;
    }
    if (stack.length === 0) {
      expect(rootSeen, "a second root element").to.equal(false);
      rootSeen = true;
    }
    elements.push({ name: match![1]!, attributes });
    if (!selfClosing) stack.push(match![1]!);
  }
  expect(stack, "unclosed elements").to.deep.equal([]);
  expect(rootSeen).to.equal(true);
  return elements;
}

describe("hospital/experiment: plaintext vs encrypted cross-validation", function () {
  this.timeout(60_000);
  let engine: CkksEngine;
  let result: DatasetResult;
  let holes: DatasetResult;
  const csv = syntheticCsv(11);
  const holesCsv = syntheticCsv(12, true);

  before(async () => {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    result = runDatasetExperiment(engine, input(SPEC, csv), { folds: FOLDS, seed: SEED });
    holes = runDatasetExperiment(engine, input(HOLES_SPEC, holesCsv), { folds: FOLDS, seed: SEED });
  });
  after(() => engine?.dispose());

  it("predicts every row exactly once, in the fold stratifiedKFold holds it out in", () => {
    const labels = csv.trim().split("\n").slice(1).map((l) => Number(l.split(",")[3]));
    const splits = stratifiedKFold(labels, FOLDS, SEED);
    for (const r of [result, holes]) {
      expect(r.rows).to.equal(60);
      expect(r.predictions.map((p) => p.row)).to.deep.equal(Array.from({ length: 60 }, (_, i) => i));
      expect(r.folds).to.have.length(FOLDS);
      expect(r.folds.reduce((s, f) => s + f.testRows, 0)).to.equal(60);
      r.folds.forEach((f) => {
        expect(r.predictions.filter((p) => p.fold === f.fold)).to.have.length(f.testRows);
        expect(f.trainRows + f.testRows).to.equal(60);
        expect(f.layout).to.equal("packed-records");
      });
    }
    splits.forEach((split, f) => {
      expect(result.predictions.filter((p) => p.fold === f).map((p) => p.row)).to.deep.equal(split.test);
      split.test.forEach((i) => expect(result.predictions[i]!.label).to.equal(labels[i]));
    });
  });

  it("trains each fold as the trainer does: plaintext fold metrics equal crossValidate's", () => {
    expect(result.trainerCrossValidation).to.deep.equal({ matches: true, maxDifference: 0 });
    const cv = crossValidate(
      { csvText: csv, datasetName: SPEC.data, datasetSha256: sha256(csv), target: "y", positiveMeans: "y = 1", name: "x", version: 1, description: "", seed: SEED, testFraction: 0.2, l2C: 1 },
      FOLDS,
    );
    cv.folds.forEach((m, f) => {
      expect(result.folds[f]!.methods.plaintext.accuracy).to.equal(m.accuracy);
      expect(result.folds[f]!.methods.plaintext.auc).to.equal(m.auc);
    });
    expect(holes.trainerCrossValidation).to.equal(undefined);
  });

  it("interactive: |Δp| <= 1e-4 on every row and the same class as plaintext", () => {
    for (const r of [result, holes]) {
      for (const p of r.predictions) {
        expectClose(p.interactive, p.plaintext, 1e-4, `row ${p.row} interactive p`);
        expectClose(p.decryptedLogit, p.logit, 1e-3, `row ${p.row} decrypted T`);
        expect(p.interactive >= 0.5, `row ${p.row} class`).to.equal(p.plaintext >= 0.5);
        expectClose(p.plaintext, 1 / (1 + Math.exp(-p.logit)), 1e-12, `row ${p.row} plaintext σ(T)`);
      }
      expect(r.methods.interactive.disagreements).to.equal(0);
      expect(r.methods.interactive.classAgreement).to.equal(1);
      expect(r.methods.interactive.maxAbsDeltaP).to.be.at.most(1e-4);
      expect(r.methods.interactive.accuracy).to.equal(r.methods.plaintext.accuracy);
    }
    expect(acceptanceChecks([result, holes]).every((c) => c.pass)).to.equal(true);
  });

  it("non-interactive: the decrypted p is the fold's polynomial, fitted on the training logits, evaluated in plaintext", () => {
    const labels = csv.trim().split("\n").slice(1).map((l) => Number(l.split(",")[3]));
    const splits = stratifiedKFold(labels, FOLDS, SEED);
    result.folds.forEach((fold, f) => {
      // The interval is logitInterval of the fold model's logits on its TRAINING rows.
      const options = { csvText: csv, datasetName: SPEC.data, datasetSha256: sha256(csv), target: "y", positiveMeans: "y = 1", name: "fold", version: 1, description: "", seed: SEED, testFraction: 0.2, l2C: 1 };
      const table = parseCsvWithMissing(csv);
      const { dataset } = imputeMedians(table, "y", splits[f]!.train);
      const model = trainFoldModel(options, dataset, splits[f]!);
      const trainLogits = splits[f]!.train.map((i) => predictPlaintext(model, readingFromRow(dataset.columns, dataset.rows[i]!, ["y"])).logit);
      expect(fold.polynomial.interval).to.deep.equal(logitInterval(trainLogits));
      expect(fold.polynomial.coefficients).to.deep.equal([...fitSigmoidPolynomial(fold.polynomial.interval, 3).coefficients]);
      expect(fold.polynomial.coefficients).to.have.length(4);
    });
    for (const p of result.predictions) {
      const { interval, coefficients } = result.folds[p.fold]!.polynomial;
      const [a, b] = interval;
      const u = (2 * p.logit - a - b) / (b - a);
      const expected = coefficients.reduce((s, c, k) => s + c * u ** k, 0);
      expectClose(p.nonInteractive, expected, 1e-4, `row ${p.row} non-interactive p`);
      expectClose(p.polynomial, expected, 1e-12, `row ${p.row} plaintext polynomial`);
    }
    expect(result.polynomial.maxCkksError).to.be.at.most(1e-4);
    expect(result.polynomial.degree).to.equal(3);
    const disagreements = result.predictions.filter((p) => (p.nonInteractive >= 0.5) !== (p.plaintext >= 0.5)).length;
    expect(result.methods.nonInteractive.disagreements).to.equal(disagreements);
  });

  it("imputes empty cells with the training rows' median of each fold, held-out rows included", () => {
    expect(holes.missingCells).to.equal(3);
    const table = parseCsvWithMissing(holesCsv);
    const b = table.columns.indexOf("b");
    const labels = table.rows.map((r) => r[3]!);
    stratifiedKFold(labels, FOLDS, SEED).forEach((split, f) => {
      const values = split.train.map((i) => table.rows[i]![b]!).filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
      const m = values.length % 2 ? values[(values.length - 1) / 2]! : (values[values.length / 2 - 1]! + values[values.length / 2]!) / 2;
      expect(holes.folds[f]!.imputed).to.deep.equal({ b: m });
      const { dataset } = imputeMedians(table, "y", split.train);
      for (const i of [7, 27, 47]) expect(dataset.rows[i]![b]).to.equal(m);
    });
    expect(() => runDatasetExperiment(engine, input(SPEC, holesCsv), { folds: FOLDS, seed: SEED })).to.throw(DatasetError, /3 empty cells/);
  });

  it("renders a well-formed SVG with one bar per data set × method × metric and a reference marker where known", () => {
    const svg = renderSvg([result, holes]);
    const elements = parseXml(svg);
    expect(elements[0]!.name).to.equal("svg");
    const bars = elements.filter((e) => e.name === "rect" && e.attributes.class === "bar");
    expect(bars).to.have.length(2 * METHODS.length * METRICS.length);
    for (const r of [result, holes]) {
      for (const m of METHODS) {
        for (const k of METRICS) {
          const matching = bars.filter((e) => e.attributes["data-dataset"] === r.id && e.attributes["data-method"] === m && e.attributes["data-metric"] === k);
          expect(matching, `${r.id} ${m} ${k}`).to.have.length(1);
          expect(Number(matching[0]!.attributes["data-value"])).to.equal(r.methods[m][k]);
          expect(Number(matching[0]!.attributes.height)).to.be.greaterThan(0);
        }
      }
    }
    const references = elements.filter((e) => e.name === "line" && e.attributes.class === "reference");
    expect(references.map((e) => `${e.attributes["data-dataset"]}/${e.attributes["data-metric"]}`)).to.deep.equal(["synthetic-holes/accuracy", "synthetic-holes/auc"]);
  });

  it("builds the JSON document with the documented keys", () => {
    const report = buildReport([result, holes], { folds: FOLDS, seed: SEED, parameterSet: DEFAULT_PARAMETER_SET, degree: 3, skipped: [{ id: "cleveland", data: "x.csv", reason: "file not found" }], seconds: 1 });
    const json = JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
    expect(Object.keys(json)).to.deep.equal([...REPORT_KEYS]);
    expect(json.format).to.equal("pmhe-experiment/1");
    const acceptance = json.acceptance as { pass: boolean; maxAbsDeltaP: number; checks: unknown[] };
    expect(acceptance.pass).to.equal(true);
    expect(acceptance.maxAbsDeltaP).to.equal(1e-4);
    expect(acceptance.checks.length).to.be.greaterThan(0);
    const datasets = json.datasets as Record<string, unknown>[];
    expect(datasets).to.have.length(2);
    expect(datasets[0]).to.include.all.keys(
      "id", "title", "data", "sha256", "rows", "positives", "features", "l2C", "threshold", "missingCells", "methods", "polynomial", "maxAbsDeltaLogit", "cost", "folds", "predictions", "seconds",
    );
    expect(datasets[0]!.cost).to.have.all.keys(
      "values", "stride", "galoisSteps", "jobs", "keyBundleBytes", "recordBytes", "linearResultBytes", "sigmoidResultBytes", "keygenMs", "encryptMs", "linearMs", "sigmoidMs", "decryptMs",
    );
    const methods = datasets[0]!.methods as Record<string, Record<string, unknown>>;
    expect(Object.keys(methods)).to.deep.equal(["plaintext", "interactive", "nonInteractive"]);
    for (const m of Object.values(methods)) {
      expect(m).to.have.all.keys("accuracy", "auc", "foldAccuracy", "foldAuc", "maxAbsDeltaP", "classAgreement", "disagreements");
      expect(m.foldAccuracy).to.have.all.keys("mean", "sd");
    }
    expect(datasets[0]!.polynomial).to.have.all.keys("degree", "maxErrorMin", "maxErrorMax", "maxCkksError", "maxApproximationErrorOnRows", "testLogitsOutsideInterval");
    expect((datasets[0]!.predictions as Record<string, unknown>[])[0]).to.have.all.keys(
      "row", "fold", "label", "logit", "plaintext", "decryptedLogit", "interactive", "nonInteractive", "polynomial",
    );
    expect((datasets[0]!.folds as Record<string, unknown>[])[0]).to.include.all.keys("fold", "trainRows", "testRows", "layout", "cost", "polynomial", "testLogitsOutsideInterval", "methods");
    expect(json.skipped).to.deep.equal([{ id: "cleveland", data: "x.csv", reason: "file not found" }]);
  });

  it("fails the acceptance when an interactive prediction changes class or drifts", () => {
    const broken: DatasetResult = { ...result, methods: { ...result.methods, interactive: { ...result.methods.interactive, disagreements: 1, maxAbsDeltaP: 2e-4 } } };
    const checks = acceptanceChecks([broken]);
    expect(checks.filter((c) => !c.pass)).to.have.length(2);
    expect(buildReport([broken], { folds: FOLDS, seed: SEED, parameterSet: DEFAULT_PARAMETER_SET, degree: 3, seconds: 0 }).acceptance.pass).to.equal(false);
  });
});

describe("hospital/experiment: training options of the committed models", () => {
  it("WDBC_LOGREG is what models/wdbc-logreg.v1.json was trained with", () => {
    const model = parseModelBytes(new Uint8Array(readFileSync(join(root, "models", `${WDBC_LOGREG.name}.v${WDBC_LOGREG.version}.json`))));
    expect(model.features.map((f) => f.input)).to.deep.equal([...WDBC_LOGREG.features]);
    expect(model.features.every((f) => f.transform === "identity")).to.equal(true);
    expect(model.target.column).to.equal(WDBC_LOGREG.target);
    expect(model.target.positiveMeans).to.equal(WDBC_LOGREG.positiveMeans);
    expect(model.training.dataset).to.equal(WDBC_LOGREG.data);
    expect(model.training.l2C).to.equal(WDBC_LOGREG.l2C);
    expect(model.training.seed).to.equal(WDBC_LOGREG.seed);
    expect(model.training.testFraction).to.equal(WDBC_LOGREG.testFraction);
  });
});

describe("hospital/experiment: WDBC on all 30 columns beside the committed 16", function () {
  // Two real 5-fold runs (569 rows each, 10 encrypted fold jobs): about 10 s on 2 cores.
  this.timeout(120_000);
  const csvText = readFileSync(join(root, WDBC_LOGREG.data), "utf8");
  const header = csvText.slice(0, csvText.indexOf("\n")).trim().split(",");
  const columns = header.filter((c) => c !== WDBC_LOGREG.target);
  let engine: CkksEngine;
  let narrow: DatasetResult;
  let wide: DatasetResult;

  before(async () => {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    const options = { folds: DEFAULT_EXPERIMENT_FOLDS, seed: DEFAULT_EXPERIMENT_SEED };
    narrow = runDatasetExperiment(engine, input(WDBC_EXPERIMENT, csvText), options);
    wide = runDatasetExperiment(engine, input(WDBC_ALL_EXPERIMENT, csvText), options);
  });
  after(() => engine?.dispose());

  it("the experiment runs the 30-column spec right after the 16-column one, with the same data, target, C and seed", () => {
    const ids = SHIPPED_EXPERIMENTS.map((s) => s.id);
    expect(ids.indexOf(WDBC_ALL_EXPERIMENT.id)).to.equal(ids.indexOf(WDBC_EXPERIMENT.id) + 1);
    expect(columns).to.have.length(30);
    expect([...WDBC_ALL_EXPERIMENT.features!]).to.deep.equal(columns);
    expect(WDBC_ALL_EXPERIMENT.id).to.not.equal(WDBC_EXPERIMENT.id);
    for (const key of ["data", "target", "positiveMeans", "l2C", "transforms", "oneHot", "impute"] as const) {
      expect(WDBC_ALL_EXPERIMENT[key], key).to.deep.equal(WDBC_EXPERIMENT[key]);
    }
    expect(WDBC_ALL_EXPERIMENT.l2C).to.equal(WDBC_LOGREG.l2C);
    expect(DEFAULT_EXPERIMENT_SEED).to.equal(WDBC_LOGREG.seed);
  });

  it("its fold models read all 30 columns: 30 weights, and the logits the run reports are theirs", () => {
    expect(wide.features).to.deep.equal(columns);
    expect(narrow.features).to.deep.equal([...WDBC_LOGREG.features]);
    const dataset = loadDataset(csvText, WDBC_LOGREG.target);
    const options = experimentTrainOptions(input(WDBC_ALL_EXPERIMENT, csvText), DEFAULT_EXPERIMENT_SEED);
    const splits = stratifiedKFold(dataset.labels, DEFAULT_EXPERIMENT_FOLDS, DEFAULT_EXPERIMENT_SEED);
    const model = trainFoldModel(options, dataset, splits[0]!);
    expect(model.features.map((f) => f.input)).to.deep.equal(columns);
    expect(model.server.weights).to.have.length(30);
    expect(model.server.weights.every((w) => Number.isFinite(w) && w !== 0)).to.equal(true);
    const fold0 = wide.predictions.filter((p) => p.fold === 0);
    expect(fold0.map((p) => p.row)).to.deep.equal(splits[0]!.test);
    for (const p of fold0) {
      const expected = predictPlaintext(model, readingFromRow(dataset.columns, dataset.rows[p.row]!, [WDBC_LOGREG.target])).logit;
      expect(p.logit, `row ${p.row} plaintext T`).to.equal(expected);
    }
    // Trained as the trainer trains: its crossValidate gives the same fold metrics.
    expect(wide.trainerCrossValidation).to.deep.equal({ matches: true, maxDifference: 0 });
  });

  it("its keys are made for 30 values: stride 32, five Galois steps, a larger bundle than the 16-column model's", () => {
    for (const f of wide.folds) {
      expect(f.layout).to.equal("packed-records");
      expect(f.cost.values).to.equal(30);
      expect(f.cost.stride).to.equal(recordStride(30)).and.to.equal(32);
      expect(f.cost.galoisSteps).to.deep.equal(strideRotationSteps(32));
      expect(f.cost.jobs).to.equal(1);
    }
    for (const f of narrow.folds) {
      expect(f.cost.values).to.equal(16);
      expect(f.cost.galoisSteps).to.deep.equal(strideRotationSteps(16));
    }
    expect(wide.cost.galoisSteps).to.deep.equal([1, 2, 4, 8, 16]);
    expect(narrow.cost.galoisSteps).to.deep.equal([1, 2, 4, 8]);
    // One more Galois key (~1 MB at N=8192) in every fold's bundle.
    wide.folds.forEach((f, i) => expect(f.cost.keyBundleBytes).to.be.greaterThan(narrow.folds[i]!.cost.keyBundleBytes + 500_000));
    for (const r of [narrow, wide]) {
      expect(r.cost.recordBytes).to.be.greaterThan(0);
      expect(r.cost.linearResultBytes).to.be.greaterThan(0);
      expect(r.cost.sigmoidResultBytes).to.be.greaterThan(0);
    }
  });

  it("its encrypted interactive predictions are the plaintext ones: every class, logits within 1e-4", () => {
    expect(wide.rows).to.equal(569);
    expect(wide.predictions.map((p) => p.row)).to.deep.equal(Array.from({ length: 569 }, (_, i) => i));
    for (const p of wide.predictions) {
      expectClose(p.decryptedLogit, p.logit, 1e-4, `row ${p.row} decrypted T`);
      expectClose(p.interactive, p.plaintext, 1e-4, `row ${p.row} interactive p`);
      expect(p.interactive >= wide.threshold, `row ${p.row} class`).to.equal(p.plaintext >= wide.threshold);
      // The non-interactive p is the fold's polynomial at the plaintext logit, up to CKKS noise.
      expectClose(p.nonInteractive, p.polynomial, 1e-4, `row ${p.row} non-interactive p`);
    }
    expect(wide.methods.interactive.classAgreement).to.equal(1);
    expect(wide.methods.interactive.disagreements).to.equal(0);
    expect(wide.methods.interactive.accuracy).to.equal(wide.methods.plaintext.accuracy);
    expect(wide.methods.interactive.auc).to.equal(wide.methods.plaintext.auc);
    expect(wide.maxAbsDeltaLogit).to.be.at.most(1e-4);
    const checks = acceptanceChecks([narrow, wide]).filter((c) => c.dataset === WDBC_ALL_EXPERIMENT.id);
    expect(checks).to.have.length(3);
    expect(checks.every((c) => c.pass)).to.equal(true);
  });

  it("its numbers are its own, not copies of the 16-column row's", () => {
    expect(wide.id).to.equal("wdbc-30");
    expect(narrow.id).to.equal("wdbc");
    // Same rows in the same folds (same seed), different models.
    expect(wide.predictions.map((p) => [p.row, p.fold, p.label])).to.deep.equal(narrow.predictions.map((p) => [p.row, p.fold, p.label]));
    const differing = wide.predictions.filter((p, i) => Math.abs(p.logit - narrow.predictions[i]!.logit) > 1e-3).length;
    expect(differing).to.be.greaterThan(500);
    wide.folds.forEach((f, i) => expect(f.polynomial.interval).to.not.deep.equal(narrow.folds[i]!.polynomial.interval));
    // Pooled metrics recomputed from the wide run's own rows.
    const correct = wide.predictions.filter((p) => (p.plaintext >= wide.threshold ? 1 : 0) === p.label).length;
    expectClose(wide.methods.plaintext.accuracy, correct / 569, 1e-12, "wide plaintext accuracy");
    expect(wide.methods.plaintext.auc).to.not.equal(narrow.methods.plaintext.auc);
    // Both rows in the report, in order, with their own widths.
    const table = summaryTable([narrow, wide]);
    expect(table).to.include("| WDBC (569 rows, 16 entries) | plaintext |");
    expect(table).to.include(`| ${WDBC_ALL_EXPERIMENT.title} (569 rows, 30 entries) | plaintext |`);
    const side = sideBySideTable([narrow, wide]).split("\n");
    expect(side).to.have.length(4);
    expect(side[2]!.startsWith("| WDBC | 16 (16, 4) |")).to.equal(true);
    expect(side[3]!.startsWith(`| ${WDBC_ALL_EXPERIMENT.title} | 30 (32, 5) |`)).to.equal(true);
    const json = JSON.parse(JSON.stringify(buildReport([narrow, wide], { folds: 5, seed: 42, parameterSet: DEFAULT_PARAMETER_SET, degree: 3, seconds: 0 }))) as ReturnType<typeof buildReport>;
    expect(json.datasets.map((d) => [d.id, d.features.length, d.cost.values])).to.deep.equal([["wdbc", 16, 16], ["wdbc-30", 30, 30]]);
    expect(json.acceptance.pass).to.equal(true);
  });
});
