import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { layoutRotationSteps } from "../../protocol/fhe/layouts.js";
import { keyOptionsFor, modelKeysProblem, widestTuple } from "../../protocol/model-keys.js";
import { parseModel, parseModelBytes, type Model } from "../../protocol/model.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The committed heart model widened to `width` identity inputs (zero weights beyond its own), optionally non-interactive. */
function widened(base: Model, width: number, sigmoid = false): Model {
  const extra = Array.from({ length: width - base.features.length }, (_, i) => ({ name: `z${i}`, input: `z${i}`, transform: "identity" as const, mean: 0, std: 1 }));
  const poly = { degree: 3, interval: [-8, 8], coefficients: [0.5, 0.6, 0, -0.12], maxError: 0.05 };
  return parseModel({
    ...base,
    inputs: undefined,
    features: [...base.features, ...extra],
    server: { ...base.server, weights: [...base.server.weights, ...extra.map(() => 0)], ...(sigmoid ? { sigmoid: poly } : {}) },
  });
}

describe("protocol/model-keys: which keys evaluate which model", function () {
  let heart: Model;
  let mlp: Model;

  before(async function () {
    heart = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
    mlp = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-mlp.v1.json")));
  });

  const keysFor = (width: number, relinKeys = false) => ({ parameterSet: "ckks-n8192-d3" as const, galoisSteps: [...layoutRotationSteps("single-record", width)], relinKeys });

  it("measures a model's widest tuple over its rounds", function () {
    expect(widestTuple(heart)).to.equal(13);
    expect(widestTuple(mlp)).to.equal(16);
    expect(widestTuple(widened(heart, 200))).to.equal(200);
  });

  it("accepts keys of the model's set whose rotation keys cover its widest tuple, and names what is missing otherwise", function () {
    expect(modelKeysProblem(heart, keysFor(16))).to.equal(undefined);
    expect(modelKeysProblem(widened(heart, 200), keysFor(256))).to.equal(undefined);
    expect(modelKeysProblem(widened(heart, 200), keysFor(16))).to.match(/tuples of 200 values.*up to 16 .*missing rotation steps 16,64.*width 200/);
    // A 32-value bundle (steps 1..16) also serves strides of 64: the radix-4 stage on 16 covers both.
    expect(modelKeysProblem(widened(heart, 64), keysFor(32))).to.equal(undefined);
    expect(modelKeysProblem(widened(heart, 100), keysFor(32))).to.match(/up to 64 .*missing rotation steps 64/);
    expect(modelKeysProblem(heart, { ...keysFor(16), parameterSet: "ckks-n4096-linear" })).to.match(/evaluated under ckks-n8192-d3.*keys are for ckks-n4096-linear/);
    expect(modelKeysProblem(heart, { parameterSet: "ckks-n8192-d3", galoisSteps: [], relinKeys: false })).to.match(/up to 0/);
  });

  it("needs relinearization keys for a non-interactive model only", function () {
    const ni = widened(heart, 13, true);
    expect(modelKeysProblem(ni, keysFor(16))).to.match(/non-interactive.*no relinearization keys/);
    expect(modelKeysProblem(ni, keysFor(16, true))).to.equal(undefined);
  });

  it("makes key options that fit every model of the set offered, and ignores models of other sets", function () {
    expect(keyOptionsFor([heart, mlp], "ckks-n8192-d3")).to.deep.equal({ maxValues: 16, sigmoid: false });
    expect(keyOptionsFor([heart, widened(heart, 30), widened(heart, 20, true)], "ckks-n8192-d3")).to.deep.equal({ maxValues: 30, sigmoid: true });
    expect(keyOptionsFor([widened(heart, 200)], "ckks-n4096-linear")).to.deep.equal({ maxValues: 16, sigmoid: false });
    expect(keyOptionsFor([], "ckks-n8192-d3")).to.deep.equal({ maxValues: 16, sigmoid: false });
  });
});
