import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildTuple,
  linearLogit,
  ModelFormatError,
  parseModel,
  predictPlaintext,
  ReadingError,
  sigmoid,
  type Model,
  type Reading,
} from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const committedText = readFileSync(join(root, "models", "statlog-heart-logreg.v1.json"), "utf8");

interface RawFeature {
  name: string;
  transform: string;
  mean: number;
  std: number;
}

interface RawModel {
  [key: string]: unknown;
  features: RawFeature[];
  server: { stage: string; weights: number[]; bias: number };
  fhe: { parameterSet: string };
}

/** A fresh, mutable copy of the committed model as plain JSON. */
function rawModel(): RawModel {
  return JSON.parse(committedText) as RawModel;
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
      format.format = "pmhe-model/2";
      expectModelError(format, "format");

      const wide = rawModel();
      const template = wide.features[0]!;
      wide.features = Array.from({ length: 17 }, (_, i) => ({ ...template, name: `f${i}` }));
      wide.server.weights = Array.from({ length: 17 }, () => 0.1);
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
