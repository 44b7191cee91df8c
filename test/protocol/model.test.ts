import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  activate,
  buildTuple,
  checkInputValue,
  checkReading,
  describeAllowed,
  displayUnit,
  inputOf,
  modelBytes,
  modelHash,
  finalPrediction,
  forwardPlaintext,
  isFinalRound,
  linearLogit,
  MAX_FEATURES,
  modelInputs,
  ModelFormatError,
  parseModel,
  predictPlaintext,
  ReadingError,
  roundCount,
  roundInput,
  roundOutput,
  serverStage,
  sigmoid,
  transformReading,
  tupleNames,
  type Model,
  type ModelInput,
  type Reading,
} from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const committedText = readFileSync(join(root, "models", "statlog-heart-logreg.v1.json"), "utf8");

interface RawFeature {
  name: string;
  input?: string;
  transform: string;
  mean: number;
  std: number;
  [key: string]: unknown;
}

interface RawModel {
  [key: string]: unknown;
  features: RawFeature[];
  server: { stage: string; weights: number[]; bias: number };
  fhe: { parameterSet: string };
}

/** A fresh, mutable copy of the committed model as plain JSON, with its input descriptions. */
function committedRaw(): RawModel {
  return JSON.parse(committedText) as RawModel;
}

/**
 * The committed model's tuple and weights without its input descriptions (a pmhe-model/2 document as written
 * before `inputs` existed): readings at the training means, which no form would accept, exercise the tuple itself.
 */
function rawModel(): RawModel {
  const raw = committedRaw();
  delete raw.inputs;
  return raw;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    expect.fail(`threw a non-Error: ${String(err)}`);
  }
  expect.fail("expected an error, but nothing was thrown");
}

function expectModelError(value: unknown, ...mentions: (string | RegExp)[]): void {
  const err = errorOf(() => parseModel(value));
  expect(err).to.be.instanceOf(ModelFormatError);
  expect(err.name).to.equal("ModelFormatError");
  for (const m of mentions) {
    if (typeof m === "string") expect(err.message).to.include(m);
    else expect(err.message).to.match(m);
  }
}

function expectReadingError(fn: () => unknown, feature: string): void {
  const err = errorOf(fn);
  expect(err).to.be.instanceOf(ReadingError);
  expect(err.message).to.include(`"${feature}"`);
}

describe("protocol/model", function () {
  let model: Model;

  before(function () {
    model = parseModel(rawModel());
  });

  describe("parseModel", function () {
    it("accepts the committed model and keeps its values", function () {
      const raw = rawModel();
      expect(model.features.map((f) => f.name)).to.deep.equal(raw.features.map((f) => f.name));
      expect(model.server.weights).to.deep.equal(raw.server.weights);
      expect(model.server.bias).to.equal(raw.server.bias);
      expect(model.fhe.parameterSet).to.equal("ckks-n8192-d3");
      expect(model.features).to.have.length(13);
    });

    it("rejects a missing field and names it", function () {
      const raw = rawModel();
      delete raw.description;
      expectModelError(raw, "description");
      const noBias = rawModel();
      delete (noBias.server as Partial<RawModel["server"]>).bias;
      expectModelError(noBias, "server.bias");
    });

    it("rejects a weight count that differs from the feature count", function () {
      const fewer = rawModel();
      fewer.server.weights.pop();
      expectModelError(fewer, "server.weights", /one weight per feature/);
      const more = rawModel();
      more.server.weights.push(0.1);
      expectModelError(more, "server.weights");
    });

    it("rejects duplicate feature names", function () {
      const raw = rawModel();
      raw.features[1]!.name = raw.features[0]!.name;
      expectModelError(raw, "features", /unique/);
    });

    it("rejects an unknown parameter set", function () {
      const raw = rawModel();
      raw.fhe.parameterSet = "ckks-n4096-d1";
      expectModelError(raw, "fhe.parameterSet");
    });

    it("rejects a zero or negative standard deviation", function () {
      for (const std of [0, -1.5]) {
        const raw = rawModel();
        raw.features[3]!.std = std;
        expectModelError(raw, "features[3].std");
      }
    });

    it("rejects weights whose worst-case logit leaves the range the encrypted result holds exactly", function () {
      const raw = rawModel();
      // 13 features: sum|w| * 32 + |b| = 13 * 3 * 32 = 1248 > 1000.
      raw.server.weights = raw.server.weights.map(() => 3);
      raw.server.bias = 0;
      expectModelError(raw, "server.weights", "1000");
      raw.server.weights = raw.server.weights.map(() => 2); // 832: accepted
      expect(parseModel(raw).server.weights[0]).to.equal(2);
    });

    it("rejects non-finite weights, unknown keys, another format and more than 16 features", function () {
      const nanWeight = rawModel();
      nanWeight.server.weights[2] = Number.NaN;
      expectModelError(nanWeight, "server.weights[2]");

      const extra = rawModel();
      extra.unexpected = true;
      expectModelError(extra, "unexpected");

      const format = rawModel();
      format.format = "pmhe-model/3";
      expectModelError(format, "format");

      const wide = rawModel();
      const template = wide.features[0]!;
      wide.features = Array.from({ length: 257 }, (_, i) => ({ ...template, name: `f${i}` }));
      wide.server.weights = Array.from({ length: 257 }, () => 0.001);
      expectModelError(wide, "features");

      expectModelError(null);
      expectModelError([]);
    });
  });

  describe("buildTuple", function () {
    it("standardises each reading as (x - mean) / std in the model's feature order, whatever the reading's key order", function () {
      const raw = rawModel();
      const values = [63, 1, 4, 145, 233, 1, 2, 150, 0, 2.3, 3, 0, 6];
      const forward: Record<string, number> = {};
      raw.features.forEach((f, i) => (forward[f.name] = values[i]!));
      const backward: Record<string, number> = {};
      [...raw.features].reverse().forEach((f) => (backward[f.name] = forward[f.name]!));
      expect(Object.keys(backward)[0]).to.equal(raw.features[12]!.name);

      const expected = raw.features.map((f, i) => (values[i]! - f.mean) / f.std);
      const a = buildTuple(model, forward);
      const b = buildTuple(model, { ...backward, unrelated: 99 });
      expect(a).to.have.length(13);
      for (let i = 0; i < 13; i++) {
        expectClose(a[i]!, expected[i]!, 1e-12);
        expect(b[i]).to.equal(a[i]);
      }
    });

    it("maps a reading equal to the mean to 0 and mean + std to 1", function () {
      const raw = rawModel();
      const atMean: Record<string, number> = {};
      const oneUp: Record<string, number> = {};
      for (const f of raw.features) {
        atMean[f.name] = f.mean;
        oneUp[f.name] = f.mean + f.std;
      }
      for (const v of buildTuple(model, atMean)) expectClose(v, 0, 1e-12);
      for (const v of buildTuple(model, oneUp)) expectClose(v, 1, 1e-12);
    });

    it("rejects a missing feature, naming it", function () {
      const reading: Record<string, number> = {};
      for (const f of model.features) reading[f.name] = f.mean;
      delete reading.chol;
      expectReadingError(() => buildTuple(model, reading), "chol");
    });

    it("rejects a reading more than 32 standard deviations from the training mean, naming the feature", function () {
      const reading: Record<string, number> = {};
      for (const f of model.features) reading[f.name] = f.mean;
      const chol = model.features.find((f) => f.name === "chol")!;
      reading.chol = chol.mean + 31.9 * chol.std;
      expect(buildTuple(model, reading)).to.have.length(model.features.length);
      reading.chol = chol.mean + 32.1 * chol.std; // e.g. cholesterol entered in the wrong unit
      expectReadingError(() => buildTuple(model, reading), "chol");
    });

    it("rejects NaN, Infinity and non-numbers, naming the feature", function () {
      const base: Record<string, number> = {};
      for (const f of model.features) base[f.name] = f.mean;
      expectReadingError(() => buildTuple(model, { ...base, thalach: Number.NaN }), "thalach");
      expectReadingError(() => buildTuple(model, { ...base, oldpeak: Number.POSITIVE_INFINITY }), "oldpeak");
      expectReadingError(() => buildTuple(model, { ...base, age: Number.NEGATIVE_INFINITY }), "age");
      expectReadingError(() => buildTuple(model, { ...base, ca: "2" as unknown as number }), "ca");
    });
  });

  describe("linearLogit, sigmoid and predictPlaintext", function () {
    it("linearLogit is w·x + b and refuses a tuple of the wrong length", function () {
      const raw = rawModel();
      const tuple = raw.features.map((_, i) => (i - 6) / 4);
      let expected = raw.server.bias;
      for (let i = 0; i < tuple.length; i++) expected += raw.server.weights[i]! * tuple[i]!;
      expectClose(linearLogit(model, tuple), expected, 1e-12);
      expect(() => linearLogit(model, tuple.slice(1))).to.throw(ReadingError, /12 values/);
    });

    it("sigmoid matches 1 / (1 + e^-t), is symmetric and stays finite at ±1000", function () {
      for (const t of [-30, -5, -1, -0.25, 0, 0.25, 1, 5, 30]) {
        expectClose(sigmoid(t), 1 / (1 + Math.exp(-t)), 1e-15);
        expectClose(sigmoid(-t), 1 - sigmoid(t), 1e-15);
      }
      expect(sigmoid(0)).to.equal(0.5);
      for (const t of [1000, -1000, 800, -800]) expect(Number.isFinite(sigmoid(t)), String(t)).to.equal(true);
      expect(sigmoid(1000)).to.equal(1);
      expect(sigmoid(-1000)).to.be.at.least(0).and.lessThan(1e-300);
      expectClose(sigmoid(-1000), 1 - sigmoid(1000), 1e-15);
    });

    it("predictPlaintext classifies by the model's threshold", function () {
      const raw = rawModel();
      const reading: Reading = Object.fromEntries(raw.features.map((f) => [f.name, f.mean]));
      // At the means every standardised value is 0, so T = bias.
      const p = predictPlaintext(model, reading);
      expectClose(p.logit, raw.server.bias, 1e-12);
      expectClose(p.probability, 1 / (1 + Math.exp(-raw.server.bias)), 1e-12);
      expect(p.predictedClass).to.equal(1 / (1 + Math.exp(-raw.server.bias)) >= 0.5 ? 1 : 0);
    });
  });
});

/** The committed model with its tuple replaced: zero weights, so only the client side matters. */
function withFeatures(features: RawFeature[], patch: Record<string, unknown> = {}): Record<string, unknown> {
  const raw = rawModel();
  return { ...raw, features, server: { stage: "linear", weights: features.map(() => 0), bias: 0 }, ...patch };
}

const entry = (name: string, input: string, transform: string, extra: Record<string, unknown> = {}): RawFeature => ({
  name,
  input,
  transform,
  mean: 0,
  std: 1,
  ...extra,
});

/**
 * A two-round model small enough to evaluate by hand:
 *   round 0 tuple: x (mean 1, std 2), log(y), k=2 (one-hot over 1, 2; mean 0.5, std 0.5)
 *   round 0 server: h1 = x0 - x2, h2 = 0.5 x0 + 2 x1 - 1
 *   round 1 client: tanh, then a = (tanh h1 - 0) / 1, b = (tanh h2 - 0.5) / 0.25
 *   round 1 server: T = 2 a - b + 0.5; client: sigmoid, threshold 0.5
 */
interface TinyRaw {
  [key: string]: unknown;
  hidden: { server: { stage: string; weights: number[][]; bias: number[] }; client: Record<string, unknown> }[];
}
function tinyTwoRound(): TinyRaw {
  return {
    ...withFeatures([
      { name: "x", input: "x", transform: "identity", mean: 1, std: 2 },
      entry("log(y)", "y", "log"),
      { name: "k=2", input: "k", transform: "one-hot", categories: [1, 2], category: 2, mean: 0.5, std: 0.5 },
    ]),
    hidden: [
      {
        server: { stage: "linear", weights: [[1, 0, -1], [0.5, 2, 0]], bias: [0, -1] },
        client: { stage: "activation", activation: "tanh", outputs: [{ name: "a", mean: 0, std: 1 }, { name: "b", mean: 0.5, std: 0.25 }] },
      },
    ],
    server: { stage: "linear", weights: [2, -1], bias: 0.5 },
  };
}

describe("protocol/model: pmhe-model/2 pipeline", function () {
  describe("client transforms", function () {
    const all = [
      entry("v", "v", "identity"),
      entry("log(v)", "v", "log"),
      entry("log1p(v)", "v", "log1p"),
      entry("sqrt(v)", "v", "sqrt"),
      entry("exp(v)", "v", "exp"),
      entry("1/v", "v", "reciprocal"),
      entry("v^2", "v", "power", { exponent: 2 }),
      entry("v^3", "v", "power", { exponent: 3 }),
    ];

    it("computes each transform of one reading, in tuple order, before standardisation", function () {
      const model = parseModel(withFeatures(all));
      // v = 2: 2, ln 2, ln 3, √2, e^2, 1/2, 4, 8 (values to 16 digits from a calculator).
      const expected = [2, 0.6931471805599453, 1.0986122886681098, 1.4142135623730951, 7.38905609893065, 0.5, 4, 8];
      const tuple = buildTuple(model, { v: 2 });
      expect(tuple).to.have.length(8);
      tuple.forEach((value, i) => expectClose(value, expected[i]!, 1e-15, all[i]!.name));
      // Negative readings where the domain allows them: (-2)^2 = 4, (-2)^3 = -8, 1/(-2) = -0.5, e^-2.
      const negative = buildTuple(parseModel(withFeatures([all[0]!, all[4]!, all[5]!, all[6]!, all[7]!])), { v: -2 });
      [-2, 0.1353352832366127, -0.5, 4, -8].forEach((value, i) => expectClose(negative[i]!, value, 1e-15));
      // Standardisation applies after the transform: (ln 2 - 0.5) / 0.25.
      const shifted = parseModel(withFeatures([{ ...all[1]!, mean: 0.5, std: 0.25 }]));
      expectClose(buildTuple(shifted, { v: 2 })[0]!, (0.6931471805599453 - 0.5) / 0.25, 1e-14);
    });

    it("refuses readings outside each transform's domain with a ReadingError naming the entry", function () {
      const cases: [RawFeature, number[], number[]][] = [
        // feature, refused readings, accepted readings at the domain's edge
        [all[1]!, [0, -1, -1e-300], [1e-300, 1]],
        [all[2]!, [-1, -2], [-0.999, 0]],
        [all[3]!, [-1e-9, -4], [0]],
        [all[4]!, [710, 1e6], [709]],
        [all[5]!, [0, -0], [1e-3, -1e-3]],
      ];
      for (const [feature, refused, accepted] of cases) {
        for (const v of refused) {
          const err = errorOf(() => transformReading(parseModel(withFeatures([feature])).features[0]!, { v }));
          expect(err, `${feature.name} at ${v}`).to.be.instanceOf(ReadingError);
          expect(err.message).to.include(`"${feature.name}"`).and.include(feature.transform);
        }
        for (const v of accepted) expect(Number.isFinite(transformReading(parseModel(withFeatures([feature])).features[0]!, { v })), `${feature.name} at ${v}`).to.equal(true);
      }
    });

    it("refuses a transformed value beyond 32 standard deviations, naming the entry", function () {
      const model = parseModel(withFeatures([entry("1/v", "v", "reciprocal")]));
      expectClose(buildTuple(model, { v: 1 / 31.9 })[0]!, 31.9, 1e-9);
      expectReadingError(() => buildTuple(model, { v: 1 / 32.1 }), "1/v");
    });

    it("refuses a missing input, naming it, and a non-number", function () {
      const model = parseModel(withFeatures([entry("log(chol)", "chol", "log")]));
      expectReadingError(() => buildTuple(model, { cholesterol: 200 }), "chol");
      expectReadingError(() => buildTuple(model, { chol: Number.NaN }), "log(chol)");
    });
  });

  describe("one-hot", function () {
    const cp = [1, 2, 3, 4].map((c) => entry(`cp=${c}`, "cp", "one-hot", { categories: [1, 2, 3, 4], category: c }));

    it("gives 1 for the reading's category and 0 for the others, then standardises", function () {
      const model = parseModel(withFeatures(cp));
      expect(buildTuple(model, { cp: 3 })).to.deep.equal([0, 0, 1, 0]);
      expect(buildTuple(model, { cp: 1 })).to.deep.equal([1, 0, 0, 0]);
      // With the training constants of a column where a quarter of rows are cp=4: mean 0.25, std √(0.25 · 0.75).
      const std = Math.sqrt(0.1875);
      const standardised = parseModel(withFeatures(cp.map((f) => ({ ...f, mean: 0.25, std }))));
      const t = buildTuple(standardised, { cp: 4 });
      expectClose(t[3]!, 0.75 / std, 1e-15);
      expectClose(t[0]!, -0.25 / std, 1e-15);
    });

    it("refuses a category that is not listed", function () {
      const model = parseModel(withFeatures(cp));
      for (const bad of [0, 5, 2.5, -1]) {
        const err = errorOf(() => buildTuple(model, { cp: bad }));
        expect(err, String(bad)).to.be.instanceOf(ReadingError);
        expect(err.message).to.include('"cp"').and.include("1, 2, 3, 4");
      }
    });

    it("a model with several entries per input asks for each input once", function () {
      const model = parseModel(withFeatures([...cp, entry("age", "age", "identity"), entry("age^2", "age", "power", { exponent: 2 })]));
      expect(modelInputs(model)).to.deep.equal(["cp", "age"]);
    });
  });

  describe("tuple names and order", function () {
    it("follows the model's feature order, whatever the order of the reading's keys", function () {
      const features = [
        entry("sqrt(b)", "b", "sqrt"),
        entry("k=7", "k", "one-hot", { categories: [3, 7], category: 7 }),
        entry("a", "a", "identity"),
        entry("b^3", "b", "power", { exponent: 3 }),
        entry("k=3", "k", "one-hot", { categories: [3, 7], category: 3 }),
      ];
      const model = parseModel(withFeatures(features));
      expect(tupleNames(model, 0)).to.deep.equal(["sqrt(b)", "k=7", "a", "b^3", "k=3"]);
      expect(buildTuple(model, { a: -5, k: 7, b: 2.25 })).to.deep.equal([1.5, 1, -5, 11.390625, 0]);
      expect(buildTuple(model, { k: 3, b: 0.25, a: 1 })).to.deep.equal([0.5, 0, 1, 0.015625, 1]);
    });

    it("names the hidden round's outputs as its tuple", function () {
      const model = parseModel(tinyTwoRound());
      expect(tupleNames(model, 0)).to.deep.equal(["x", "log(y)", "k=2"]);
      expect(tupleNames(model, 1)).to.deep.equal(["a", "b"]);
      expect(() => tupleNames(model, 2)).to.throw(RangeError);
    });
  });

  describe("schema refusals", function () {
    it("refuses an unknown transform, a power other than 2 or 3, and stray keys on a transform", function () {
      expectModelError(withFeatures([entry("log10(v)", "v", "log10")]), "features[0]");
      expectModelError(withFeatures([entry("v^4", "v", "power", { exponent: 4 })]), "features[0].exponent");
      expectModelError(withFeatures([entry("v^2", "v", "power")]), "features[0].exponent");
      expectModelError(withFeatures([entry("v", "v", "identity", { exponent: 2 })]), "exponent");
      expectModelError(withFeatures([entry("v", "v", "log", { categories: [1, 2] })]), "categories");
    });

    it("refuses one-hot without categories, with fewer than two, with repeats, or with an unlisted category", function () {
      expectModelError(withFeatures([entry("k=1", "k", "one-hot", { category: 1 })]), "features[0].categories");
      expectModelError(withFeatures([entry("k=1", "k", "one-hot", { categories: [], category: 1 })]), "features[0].categories");
      expectModelError(withFeatures([entry("k=1", "k", "one-hot", { categories: [1], category: 1 })]), "at least two");
      expectModelError(withFeatures([entry("k=1", "k", "one-hot", { categories: [1, 1, 2], category: 1 })]), "distinct");
      expectModelError(withFeatures([entry("k=5", "k", "one-hot", { categories: [1, 2], category: 5 })]), "features[0].category");
      expectModelError(withFeatures([entry("k=1", "k", "one-hot", { categories: [1, 2], category: 1 })].concat(
        entry("k=3", "k", "one-hot", { categories: [1, 3], category: 3 }),
      )), "same categories");
    });

    it("refuses tuples wider than the model's parameter set takes (256 at N=8192, 128 at N=4096) and duplicate entry names", function () {
      const wide = Array.from({ length: MAX_FEATURES + 1 }, (_, i) => entry(`v^${i}`, "v", "identity"));
      expect(MAX_FEATURES).to.equal(256);
      expectModelError(withFeatures(wide), "features");
      expect(parseModel(withFeatures(wide.slice(0, MAX_FEATURES))).features).to.have.length(256);
      const onSmallSet = (features: RawFeature[]) => withFeatures(features, { fhe: { parameterSet: "ckks-n4096-linear" } });
      expectModelError(onSmallSet(wide.slice(0, 129)), "ckks-n4096-linear takes at most 128");
      expect(parseModel(onSmallSet(wide.slice(0, 128))).features).to.have.length(128);
      // The non-interactive polynomial needs depth the linear set does not have.
      const poly = { degree: 3, interval: [-4, 4], coefficients: [0.5, 0.6, 0, -0.1], maxError: 0.02 };
      const nonInteractive = (set: string) => {
        const raw = withFeatures(wide.slice(0, 4), { fhe: { parameterSet: set } });
        return { ...raw, server: { ...(raw.server as object), sigmoid: poly } };
      };
      expect(parseModel(nonInteractive("ckks-n8192-d3")).server.sigmoid).to.deep.equal(poly);
      expectModelError(nonInteractive("ckks-n4096-linear"), "has depth 1: the linear stage and a degree-3 polynomial need 3");
      const wrongCount = nonInteractive("ckks-n8192-d3");
      (wrongCount.server as { sigmoid: { coefficients: number[] } }).sigmoid = { ...poly, coefficients: [0.5, 0.6] };
      expectModelError(wrongCount, "has 4 coefficients");
      expectModelError(withFeatures([entry("v", "v", "identity"), entry("v", "w", "log")]), "unique");
    });

    it("pmhe-model/2 features name their input; pmhe-model/1 documents are accepted as they were", function () {
      const noInput = withFeatures([{ name: "v", transform: "identity", mean: 0, std: 1 }]);
      expectModelError(noInput, "features[0].input");
      const v1 = rawModel() as unknown as Record<string, unknown> & { features: RawFeature[]; metrics: Record<string, unknown> };
      v1.format = "pmhe-model/1";
      v1.features = v1.features.map(({ input: _input, ...rest }) => rest);
      delete v1.metrics.crossValidation;
      const parsed = parseModel(v1);
      expect(parsed.format).to.equal("pmhe-model/1");
      expect(buildTuple(parsed, Object.fromEntries(parsed.features.map((f) => [f.name, f.mean])))).to.deep.equal(parsed.features.map(() => 0));
      // The new transforms and rounds need the new format string.
      expectModelError({ ...withFeatures([{ name: "v", transform: "log", mean: 0, std: 1 }]), format: "pmhe-model/1" }, "pmhe-model/2");
      const v1Hidden = { ...tinyTwoRound(), format: "pmhe-model/1" };
      expectModelError(v1Hidden, "hidden");
    });

    it("refuses a hidden round whose matrix, bias or outputs do not fit the tuples", function () {
      const rowLength = tinyTwoRound();
      rowLength.hidden[0]!.server.weights[1] = [0.5, 2];
      expectModelError(rowLength, "hidden[0].server.weights[1]", "(3)");

      const bias = tinyTwoRound();
      bias.hidden[0]!.server.bias = [0];
      expectModelError(bias, "hidden[0].server.bias");

      const outputs = tinyTwoRound();
      outputs.hidden[0]!.client.outputs = [{ name: "a", mean: 0, std: 1 }];
      expectModelError(outputs, "hidden[0].client.outputs");

      const final = tinyTwoRound();
      final.server = { stage: "linear", weights: [2, -1, 0], bias: 0.5 };
      expectModelError(final, "server.weights", /one weight per feature/);

      const tall = tinyTwoRound();
      tall.hidden[0]!.server.weights = Array.from({ length: 17 }, () => [0, 0, 0]);
      expectModelError(tall, "hidden[0].server.weights");

      const empty = tinyTwoRound();
      (empty as Record<string, unknown>).hidden = [];
      expectModelError(empty, "hidden");

      const activation = tinyTwoRound();
      activation.hidden[0]!.client.activation = "relu";
      expectModelError(activation, "hidden[0].client.activation");

      const std = tinyTwoRound();
      std.hidden[0]!.client.outputs = [{ name: "a", mean: 0, std: 0 }, { name: "b", mean: 0, std: 1 }];
      expectModelError(std, "hidden[0].client.outputs[0].std");

      const names = tinyTwoRound();
      names.hidden[0]!.client.outputs = [{ name: "a", mean: 0, std: 1 }, { name: "a", mean: 0, std: 1 }];
      expectModelError(names, "unique");
    });

    it("applies the result bound to every row of a hidden round", function () {
      const ok = tinyTwoRound();
      // Row 0: (10 + 10 + 10) * 32 + 39 = 999 <= 1000.
      ok.hidden[0]!.server.weights[0] = [10, 10, 10];
      ok.hidden[0]!.server.bias[0] = 39;
      expect(parseModel(ok).hidden![0]!.server.bias[0]).to.equal(39);
      const over = tinyTwoRound();
      over.hidden[0]!.server.weights[1] = [10, 10, 10];
      over.hidden[0]!.server.bias[1] = 41; // 1001
      expectModelError(over, "hidden[0].server.weights[1]", "1000");
    });
  });

  describe("rounds", function () {
    it("a logistic regression is one round: serverStage is its weights as a one-row matrix", function () {
      const model = parseModel(rawModel());
      expect(roundCount(model)).to.equal(1);
      expect(isFinalRound(model, 0)).to.equal(true);
      expect(serverStage(model, 0)).to.deep.equal({ weights: [model.server.weights], bias: [model.server.bias] });
      expect(() => serverStage(model, 1)).to.throw(RangeError);
    });

    it("the two-round plaintext reference equals a forward pass computed by hand", function () {
      const model = parseModel(tinyTwoRound());
      expect(roundCount(model)).to.equal(2);
      expect(isFinalRound(model, 0)).to.equal(false);
      expect(serverStage(model, 0)).to.deep.equal({ weights: [[1, 0, -1], [0.5, 2, 0]], bias: [0, -1] });
      expect(serverStage(model, 1)).to.deep.equal({ weights: [[2, -1]], bias: [0.5] });

      // x = 3, y = e, k = 2: tuple [(3 - 1)/2, ln e, (1 - 0.5)/0.5] = [1, 1, 1]
      // h = [1 - 1, 0.5 + 2 - 1] = [0, 1.5]; tanh -> [0, 0.9051482536448664]
      // round-1 tuple [0, (0.9051482536448664 - 0.5) / 0.25] = [0, 1.6205930145794656]
      // T = 2 * 0 - 1.6205930145794656 + 0.5 = -1.1205930145794656; p = 1 / (1 + e^1.1205930145794656) = 0.24590130200421917
      const reading = { x: 3, y: Math.E, k: 2 };
      const tuple0 = roundInput(model, 0, reading);
      [1, 1, 1].forEach((v, i) => expectClose(tuple0[i]!, v, 1e-15));
      const h = roundOutput(model, 0, tuple0);
      expectClose(h[0]!, 0, 1e-15);
      expectClose(h[1]!, 1.5, 1e-15);
      const tuple1 = roundInput(model, 1, h);
      expectClose(tuple1[0]!, 0, 1e-15);
      expectClose(tuple1[1]!, 1.6205930145794656, 1e-14);
      const t = roundOutput(model, 1, tuple1);
      expect(t).to.have.length(1);
      expectClose(t[0]!, -1.1205930145794656, 1e-14);
      const p = predictPlaintext(model, reading);
      expectClose(p.logit, -1.1205930145794656, 1e-14);
      expectClose(p.probability, 0.24590130200421917, 1e-14);
      expect(p.predictedClass).to.equal(0);
      expect(finalPrediction(model, t[0]!)).to.deep.equal(p);
      expectClose(linearLogit(model, tuple1), t[0]!, 0);

      // x = 1, y = 1, k = 1: tuple [0, 0, -1]; h = [1, -1]; tanh -> [0.7615941559557649, -0.7615941559557649]
      // round-1 tuple [0.7615941559557649, (-0.7615941559557649 - 0.5) / 0.25 = -5.046376623823059]
      // T = 1.5231883119115298 + 5.046376623823059 + 0.5 = 7.069564935734589; p = 0.9991501198150284
      const forward = forwardPlaintext(model, { x: 1, y: 1, k: 1 });
      expect(forward.rounds).to.have.length(2);
      expect(forward.rounds[0]!.tuple).to.deep.equal([0, 0, -1]);
      expect(forward.rounds[0]!.outputs).to.deep.equal([1, -1]);
      expectClose(forward.rounds[1]!.tuple[1]!, -5.046376623823059, 1e-14);
      expectClose(forward.logit, 7.069564935734589, 1e-14);
      expectClose(forward.probability, 0.9991501198150284, 1e-15);
      expect(forward.predictedClass).to.equal(1);
    });

    it("activations: tanh, sigmoid and softplus", function () {
      expectClose(activate("tanh", 0.5), (Math.exp(1) - 1) / (Math.exp(1) + 1), 1e-15);
      expectClose(activate("sigmoid", 2), 1 / (1 + Math.exp(-2)), 1e-15);
      expectClose(activate("softplus", 2), Math.log(1 + Math.exp(2)), 1e-15);
      expectClose(activate("softplus", -40), Math.exp(-40), 1e-30);
      expect(activate("softplus", 800)).to.equal(800);
    });

    it("roundInput and roundOutput refuse inputs of the wrong shape or round", function () {
      const model = parseModel(tinyTwoRound());
      expect(() => roundInput(model, 1, [0.1])).to.throw(ReadingError, /2 outputs/);
      expect(() => roundInput(model, 1, [0.1, Number.NaN])).to.throw(ReadingError, /"b"/);
      expect(() => roundInput(model, 0, [1, 2] as unknown as Reading)).to.throw(ReadingError, /reading/);
      expect(() => roundInput(model, 1, { x: 1 } as unknown as number[])).to.throw(ReadingError, /outputs of round 0/);
      expect(() => roundInput(model, 2, [0, 0])).to.throw(RangeError);
      expect(() => roundInput(model, -1, [0, 0])).to.throw(RangeError);
      expect(() => roundOutput(model, 0, [1, 1])).to.throw(ReadingError, /round 0 expects 3/);
      expect(() => roundOutput(model, 1, [1, 1, 1])).to.throw(ReadingError, /round 1 expects 2/);
      // A hidden value whose standardised activation leaves ±32: std 0.01 and tanh(5) ≈ 0.9999 → (0.9999 - 0.5)/0.01 ≈ 50.
      const narrow = tinyTwoRound();
      narrow.hidden[0]!.client.outputs = [{ name: "a", mean: 0, std: 1 }, { name: "b", mean: 0.5, std: 0.01 }];
      expect(() => roundInput(parseModel(narrow), 1, [0, 5])).to.throw(ReadingError, /"b"/);
    });
  });
});

/** The model's keccak256 before `inputs` existed: the same document without them must still hash to it. */
const HASH_BEFORE_INPUTS = "0x354a2dc2c2daaf619fcc2a7ca5464ea31cfc26bb7d13ae6ce039dac8371140af";

const number = (name: string, min: number, max: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  label: `the ${name}`,
  kind: "number",
  unit: "mg/dL",
  min,
  max,
  ...extra,
});
const choice = (name: string, values: number[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  label: `the ${name}`,
  kind: "choice",
  choices: values.map((value) => ({ value, label: `code ${value}` })),
  ...extra,
});

/** v (log), k (one-hot over 1, 2, 3) and n (an integer count), with their inputs. */
function declared(inputs: Record<string, unknown>[] = [number("v", 1, 100), choice("k", [1, 2, 3]), { ...number("n", 0, 3), kind: "integer", unit: "{vessels}" }]) {
  return withFeatures(
    [
      entry("log(v)", "v", "log"),
      ...[1, 2, 3].map((c) => entry(`k=${c}`, "k", "one-hot", { categories: [1, 2, 3], category: c })),
      entry("n", "n", "identity"),
    ],
    { inputs },
  );
}

describe("protocol/model: inputs (how a reading is entered)", function () {
  describe("the committed model", function () {
    it("declares every input with a label, a UCUM unit and a range, or labelled choices, in form order", function () {
      const model = parseModel(committedRaw());
      expect(model.inputs!.map((i) => i.name)).to.deep.equal(model.features.map((f) => f.input));
      expect(inputOf(model, "trestbps")).to.deep.include({ label: "Resting blood pressure", kind: "number", unit: "mm[Hg]", min: 60, max: 260 });
      expect(inputOf(model, "thalach")).to.deep.include({ unit: "/min", min: 50, max: 230 });
      expect(inputOf(model, "ca")).to.deep.include({ kind: "integer", min: 0, max: 3 });
      expect(inputOf(model, "cp")).to.deep.include({
        kind: "choice",
        choices: [
          { value: 1, label: "typical angina" },
          { value: 2, label: "atypical angina" },
          { value: 3, label: "non-anginal pain" },
          { value: 4, label: "asymptomatic" },
        ],
      });
      expect(inputOf(model, "thal")).to.deep.include({ choices: [{ value: 3, label: "normal" }, { value: 6, label: "fixed defect" }, { value: 7, label: "reversible defect" }] });
      expect(inputOf(model, "nothing")).to.equal(undefined);
    });

    it("the same document without inputs parses as pmhe-model/2 and hashes as it did before inputs existed", function () {
      const old = parseModel(rawModel());
      expect(old.format).to.equal("pmhe-model/2");
      expect(old.inputs).to.equal(undefined);
      expect(modelHash(old)).to.equal(HASH_BEFORE_INPUTS);
      expect(new TextDecoder().decode(modelBytes(old))).to.not.contain('"inputs"');
      expect(modelHash(parseModel(committedRaw()))).to.not.equal(HASH_BEFORE_INPUTS);
    });
  });

  describe("schema consistency checks", function () {
    it("accepts inputs consistent with the features, in any order", function () {
      const model = parseModel(declared());
      expect(model.inputs!.map((i) => i.kind)).to.deep.equal(["number", "choice", "integer"]);
      const reordered = declared();
      (reordered.inputs as unknown[]).reverse();
      expect(parseModel(reordered).inputs!.map((i) => i.name)).to.deep.equal(["n", "k", "v"]);
    });

    it("refuses a feature whose input has no entry, an entry no feature reads, and an input described twice", function () {
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3])]), "features[4].input", 'input "n" of feature "n" has no entry');
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3]), number("n", 0, 3), number("w", 0, 1)]), "inputs[3].name", '"w" is not the input of any feature');
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3]), number("n", 0, 3), number("v", 2, 50)]), "inputs", '"v" appears twice');
      expectModelError(declared([]), "inputs");
    });

    it("refuses one-hot categories that differ from the choices' values, and a one-hot input that is not a choice", function () {
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2]), number("n", 0, 3)]), "inputs[1].choices", "(1, 2)", "(1, 2, 3)");
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 4]), number("n", 0, 3)]), "inputs[1].choices");
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3, 4]), number("n", 0, 3)]), "inputs[1].choices");
      expectModelError(declared([number("v", 1, 100), number("k", 1, 3), number("n", 0, 3)]), "inputs[1].kind", "choice input");
      // The same values in another order are the same set: the form shows the choices' order, the tuple the categories'.
      expect(parseModel(declared([number("v", 1, 100), choice("k", [3, 1, 2]), number("n", 0, 3)])).inputs![1]!.kind).to.equal("choice");
    });

    it("refuses choices on a number input and a range or unit on a choice input", function () {
      expectModelError(declared([number("v", 1, 100, { choices: [{ value: 1, label: "one" }, { value: 2, label: "two" }] }), choice("k", [1, 2, 3]), number("n", 0, 3)]), "inputs[0]", 'number inputs have no choices (choices are only for kind "choice")');
      for (const extra of [{ min: 1 }, { max: 3 }, { unit: "1" }, { step: 1 }]) {
        expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3], extra), number("n", 0, 3)]), "inputs[1]", `choice inputs have no ${Object.keys(extra)[0]!}`);
      }
      expectModelError(declared([number("v", 1, 100), { ...choice("k", [1, 2, 3]), choices: undefined }, number("n", 0, 3)]), "inputs[1].choices");
    });

    it("refuses min >= max, a step wider than the range, non-integer bounds of an integer input, and malformed entries", function () {
      const others = [choice("k", [1, 2, 3]), number("n", 0, 3)];
      expectModelError(declared([number("v", 100, 1), ...others]), "inputs[0].max", "min (100) must be less than max (1)");
      expectModelError(declared([number("v", 5, 5), ...others]), "inputs[0].max");
      expectModelError(declared([number("v", 1, 100, { step: 200 }), ...others]), "inputs[0].step");
      expectModelError(declared([number("v", 1, 100, { step: 0 }), ...others]), "inputs[0].step");
      expect(parseModel(declared([number("v", 1, 100, { step: 0.5 }), ...others])).inputs![0]).to.include({ step: 0.5 });
      const integer = (min: number, max: number, extra = {}) => ({ ...number("n", min, max), kind: "integer", ...extra });
      expectModelError(declared([number("v", 1, 100), others[0]!, integer(0, 2.5)]), "inputs[2].max");
      expectModelError(declared([number("v", 1, 100), others[0]!, integer(0, 3, { step: 0.5 })]), "inputs[2].step");
      expectModelError(declared([number("v", 1, 100, { unit: "mm Hg" }), ...others]), "inputs[0].unit", "UCUM");
      expectModelError(declared([number("v", 1, 100, { unit: "" }), ...others]), "inputs[0].unit");
      expectModelError(declared([number("v", 1, 100, { label: "" }), ...others]), "inputs[0].label");
      expectModelError(declared([number("v", 1, 100, { kind: "text" }), ...others]), "inputs[0]");
      expectModelError(declared([number("v", 1, 100, { source: { loinc: "2093-3" } }), ...others]), "inputs[0]", "source");
      expectModelError(declared([number("v", 1, 100), choice("k", [1, 2, 3, 2]), others[1]!]), "inputs[1].choices", "distinct");
      expectModelError(declared([number("v", 1, 100), choice("k", [1]), others[1]!]), "inputs[1].choices", "at least two");
    });

    it("refuses a range or a choice outside the domain of a transform of the input", function () {
      const others = [choice("k", [1, 2, 3]), number("n", 0, 3)];
      expectModelError(declared([number("v", 0, 100), ...others]), "inputs[0]", 'feature "log(v)"', '"v" > 0');
      const reciprocal = (input: Record<string, unknown>) => withFeatures([entry("1/v", "v", "reciprocal")], { inputs: [input] });
      expectModelError(reciprocal(number("v", -1, 1)), "inputs[0]", '"v" != 0');
      expect(parseModel(reciprocal(number("v", -3, -1))).inputs).to.have.length(1);
      expectModelError(reciprocal(choice("v", [0, 1])), "inputs[0]", "choice 0");
      expect(parseModel(reciprocal(choice("v", [1, 2]))).inputs).to.have.length(1);
      const sqrt = withFeatures([entry("sqrt(v)", "v", "sqrt")], { inputs: [number("v", -1, 4)] });
      expectModelError(sqrt, "inputs[0]", '"v" >= 0');
    });

    it("refuses inputs in a pmhe-model/1 document", function () {
      const v1 = committedRaw() as unknown as Record<string, unknown> & { features: RawFeature[]; metrics: Record<string, unknown> };
      v1.format = "pmhe-model/1";
      v1.features = v1.features.map(({ input: _input, ...rest }) => rest);
      delete v1.metrics.crossValidation;
      expectModelError(v1, "inputs", "pmhe-model/2");
    });
  });

  describe("readings", function () {
    const committed = (): Model => parseModel(committedRaw());
    const valid: Reading = { age: 63, sex: 1, cp: 4, trestbps: 145, chol: 233, fbs: 1, restecg: 2, thalach: 150, exang: 0, oldpeak: 2.3, slope: 3, ca: 0, thal: 6 };

    function expectRefused(model: Model, reading: Reading, input: string, ...mentions: string[]): ReadingError {
      const err = errorOf(() => buildTuple(model, reading));
      expect(err, JSON.stringify(reading)).to.be.instanceOf(ReadingError);
      expect((err as ReadingError).input).to.equal(input);
      expect(err.message).to.include(`"${input}"`);
      for (const m of mentions) expect(err.message).to.include(m);
      return err as ReadingError;
    }

    it("accepts readings inside every range, at the edges too, and builds the same tuple as the model without inputs", function () {
      const model = committed();
      expect(buildTuple(model, valid)).to.deep.equal(buildTuple(parseModel(rawModel()), valid));
      expect(() => checkReading(model, valid)).to.not.throw();
      expect(buildTuple(model, { ...valid, age: 18, trestbps: 60, chol: 700, thalach: 230, oldpeak: 0, ca: 3 })).to.have.length(13);
      expect(buildTuple(model, { ...valid, trestbps: 131.5, oldpeak: 10 })).to.have.length(13);
    });

    it("refuses a value outside its input's range, naming the input, its label, range and unit", function () {
      const model = committed();
      const err = expectRefused(model, { ...valid, trestbps: 300 }, "trestbps", "Resting blood pressure", "from 60 to 260 mm[Hg]", "got 300");
      expect(err.message).to.equal('"trestbps" (Resting blood pressure) must be from 60 to 260 mm[Hg], got 300');
      expectRefused(model, { ...valid, trestbps: 59.9 }, "trestbps", "from 60 to 260 mm[Hg]");
      expectRefused(model, { ...valid, chol: 5.2 }, "chol", "Serum cholesterol", "from 80 to 700 mg/dL"); // mmol/L entered as mg/dL
      expectRefused(model, { ...valid, thalach: 250 }, "thalach", "Maximum heart rate", "/min");
      expectRefused(model, { ...valid, oldpeak: -0.5 }, "oldpeak", "ST depression", "from 0 to 10 mm");
      expectRefused(model, { ...valid, age: 12 }, "age", "Age", "from 18 to 110 a");
    });

    it("refuses a non-integer for an integer input", function () {
      const model = committed();
      const err = expectRefused(model, { ...valid, ca: 1.5 }, "ca", "Major vessels coloured by fluoroscopy", "a whole number from 0 to 3 vessels", "got 1.5");
      expect(err.message).to.equal('"ca" (Major vessels coloured by fluoroscopy) must be a whole number from 0 to 3 vessels, got 1.5');
      expectRefused(model, { ...valid, age: 63.5 }, "age", "whole number");
      expectRefused(model, { ...valid, ca: 4 }, "ca", "whole number from 0 to 3");
    });

    it("refuses a value that is not one of a choice input's choices, listing them with their labels", function () {
      const model = committed();
      const err = expectRefused(model, { ...valid, thal: 5 }, "thal", "Thallium stress test", "3 = normal, 6 = fixed defect, 7 = reversible defect", "got 5");
      expect(err.message).to.equal('"thal" (Thallium stress test) must be one of 3 = normal, 6 = fixed defect, 7 = reversible defect, got 5');
      expectRefused(model, { ...valid, sex: 2 }, "sex", "0 = female, 1 = male");
      expectRefused(model, { ...valid, cp: 0 }, "cp", "1 = typical angina");
      expectRefused(model, { ...valid, fbs: 0.5 }, "fbs", "0 = no, 1 = yes");
      // A one-hot input of the two-round test model: the choices come before the one-hot's own check.
      expectRefused(parseModel(declared()), { v: 10, k: 4, n: 1 }, "k", "the k", "1 = code 1, 2 = code 2, 3 = code 3");
    });

    it("refuses a missing value or a non-number, naming the input and its label", function () {
      const model = committed();
      const { chol: _chol, ...noChol } = valid;
      expectRefused(model, noChol, "chol", "reading has no value for", "Serum cholesterol");
      expectRefused(model, { ...valid, thalach: Number.NaN }, "thalach", "Maximum heart rate", "finite number");
      expectRefused(model, { ...valid, ca: "2" as unknown as number }, "ca", "finite number");
    });

    it("checkInputValue, checkReading, transformReading and roundInput apply the same checks", function () {
      const model = committed();
      const chol = inputOf(model, "chol")!;
      expect(checkInputValue(chol, 80)).to.equal(80);
      expect(() => checkInputValue(chol, 701)).to.throw(ReadingError, /"chol" \(Serum cholesterol\) must be from 80 to 700 mg\/dL, got 701/);
      expect(() => checkInputValue(chol, undefined)).to.throw(ReadingError, /no value for "chol" \(Serum cholesterol\), from 80 to 700 mg\/dL/);
      expect(() => checkReading(model, { ...valid, slope: 0 })).to.throw(ReadingError, /"slope"/);
      const feature = model.features.find((f) => f.name === "chol")!;
      expect(transformReading(feature, { chol: 701 })).to.equal(701); // without the input's description: no range
      expect(() => transformReading(feature, { chol: 701 }, chol)).to.throw(ReadingError, /"chol"/);
      expect(() => transformReading(feature, { chol: 200 }, inputOf(model, "age"))).to.throw(RangeError);
      expect(() => roundInput(model, 0, { ...valid, chol: 701 })).to.throw(ReadingError, /"chol"/);
      expect(() => predictPlaintext(model, { ...valid, chol: 701 })).to.throw(ReadingError, /"chol"/);
    });

    it("describes what an input accepts and shows UCUM units as a person reads them", function () {
      const model = committed();
      expect(describeAllowed(inputOf(model, "oldpeak")!)).to.equal("from 0 to 10 mm");
      expect(describeAllowed(inputOf(model, "exang")!)).to.equal("one of 0 = no, 1 = yes");
      const pure: ModelInput = { name: "x", label: "X", kind: "number", unit: "1", min: 0, max: 1 };
      expect(describeAllowed(pure)).to.equal("from 0 to 1");
      expect([displayUnit("mm[Hg]"), displayUnit("1"), displayUnit("{vessels}"), displayUnit("/min")]).to.deep.equal(["mm[Hg]", "", "vessels", "/min"]);
    });
  });
});

describe("protocol/model: missing-value policy", function () {
  const valid: Reading = { age: 63, sex: 1, cp: 4, trestbps: 145, chol: 233, fbs: 1, restecg: 2, thalach: 150, exang: 0, oldpeak: 2.3, slope: 3, ca: 0, thal: 6 };
  const MEDIANS = { age: 55.5, sex: 1, cp: 3, trestbps: 130, chol: 244, fbs: 0, restecg: 1.5, thalach: 154, exang: 0, oldpeak: 0.8, slope: 2, ca: 0, thal: 3 };
  const withMissing = (missing: unknown, raw: Record<string, unknown> = committedRaw()): Record<string, unknown> => ({ ...raw, missing });

  it("is optional: the committed model has none and keeps its bytes and hash", function () {
    const model = parseModel(committedRaw());
    expect(model.missing).to.equal(undefined);
    expect(new TextDecoder().decode(modelBytes(model))).to.equal(committedText);
  });

  it("validates: drop takes nothing more; median one finite value per input the features read, inside the input's range", function () {
    expect(parseModel(withMissing({ policy: "drop" })).missing).to.deep.equal({ policy: "drop" });
    const model = parseModel(withMissing({ policy: "median", medians: MEDIANS }));
    expect(model.missing).to.deep.equal({ policy: "median", medians: MEDIANS });
    // The median of an even count of codes may lie between two of a choice input's values (restecg 1.5 above).
    expect(JSON.parse(new TextDecoder().decode(modelBytes(model))).missing.medians.restecg).to.equal(1.5);
    expectModelError(withMissing({ policy: "drop", medians: MEDIANS }), "medians");
    expectModelError(withMissing({ policy: "mean" }), "missing");
    expectModelError(withMissing({ policy: "median", medians: { ...MEDIANS, trestbps: 300 } }), "missing.medians.trestbps", "outside its range 60 to 260");
    expectModelError(withMissing({ policy: "median", medians: { ...MEDIANS, thal: 8 } }), "missing.medians.thal", "outside its range 3 to 7");
    expectModelError(withMissing({ policy: "median", medians: { ...MEDIANS, weight: 70 } }), "missing.medians.weight", '"weight" is not the input of any feature');
    const { ca: _ca, ...noCa } = MEDIANS;
    expectModelError(withMissing({ policy: "median", medians: noCa }), 'no median for "ca"');
    expectModelError(withMissing({ policy: "median", medians: { ...MEDIANS, ca: Number.POSITIVE_INFINITY } }), "missing.medians.ca");
    // Without inputs: the transforms' domains still apply (log needs > 0; a one-hot median is one of its categories).
    const logModel = withFeatures([entry("log(v)", "v", "log"), entry("k=1", "k", "one-hot", { categories: [1, 2], category: 1 })]);
    expect(() => parseModel(withMissing({ policy: "median", medians: { v: 2, k: 2 } }, logModel as RawModel))).to.not.throw();
    expectModelError(withMissing({ policy: "median", medians: { v: 0, k: 2 } }, logModel as RawModel), "missing.medians.v", "log needs");
    expectModelError(withMissing({ policy: "median", medians: { v: 2, k: 1.5 } }, logModel as RawModel), "missing.medians.k", "categories");
    // Not part of pmhe-model/1.
    const v1 = { ...rawModel(), format: "pmhe-model/1", features: rawModel().features.map(({ input: _i, ...f }) => f), missing: { policy: "drop" } };
    expectModelError(v1, "missing", "pmhe-model/2");
  });

  it("median: fills a missing or NaN input with the model's median, the same tuple as the median typed in", function () {
    const model = parseModel(withMissing({ policy: "median", medians: MEDIANS }));
    const { ca: _ca, ...noCa } = valid;
    const typed = buildTuple(model, { ...valid, ca: MEDIANS.ca });
    expect(buildTuple(model, noCa)).to.deep.equal(typed);
    expect(buildTuple(model, { ...valid, ca: Number.NaN })).to.deep.equal(typed);
    expect(predictPlaintext(model, noCa)).to.deep.equal(predictPlaintext(model, { ...valid, ca: MEDIANS.ca }));
    expect(() => checkReading(model, noCa)).to.not.throw();
    // A median between two codes is put in as it is (no check against the choices: the model's validation did that).
    const { restecg: _r, ...noRestecg } = valid;
    expect(buildTuple(model, noRestecg)).to.deep.equal(buildTuple(parseModel(withMissing({ policy: "median", medians: MEDIANS }, rawModel())), { ...valid, restecg: 1.5 }));
    // A present value is still checked.
    expect(() => buildTuple(model, { ...valid, ca: 4 })).to.throw(ReadingError, /"ca"/);
    const feature = model.features.find((f) => f.name === "chol")!;
    expect(transformReading(feature, {}, inputOf(model, "chol"), model.missing)).to.equal(244);
  });

  it("drop: refuses a reading that lacks an input, naming the input, its label and the policy", function () {
    const model = parseModel(withMissing({ policy: "drop" }));
    const { ca: _ca, ...noCa } = valid;
    const message = 'reading has no value for "ca" (Major vessels coloured by fluoroscopy); this model\'s missing-value policy is "drop": such a reading cannot be predicted';
    for (const reading of [noCa, { ...valid, ca: Number.NaN }]) {
      const err = errorOf(() => buildTuple(model, reading));
      expect(err).to.be.instanceOf(ReadingError);
      expect(err.message).to.equal(message);
      expect((err as ReadingError).input).to.equal("ca");
      expect(() => checkReading(model, reading)).to.throw(ReadingError, message);
    }
    expect(buildTuple(model, valid)).to.deep.equal(buildTuple(parseModel(committedRaw()), valid));
    // Without inputs, the message names the input alone.
    const bare = parseModel(withMissing({ policy: "drop" }, rawModel()));
    expect(() => buildTuple(bare, noCa)).to.throw(ReadingError, /^reading has no value for "ca"; this model's missing-value policy is "drop"/);
  });

  it("no policy: the messages stay as they were", function () {
    const model = parseModel(committedRaw());
    const { ca: _ca, ...noCa } = valid;
    expect(() => buildTuple(model, noCa)).to.throw(ReadingError, /^reading has no value for "ca" \(Major vessels coloured by fluoroscopy\), needed by feature "ca"$/);
    expect(() => buildTuple(model, { ...valid, ca: Number.NaN })).to.throw(ReadingError, /finite number/);
  });
});
