import { expect } from "chai";
import { fitHiddenLayer } from "../../hospital/hidden-layer.js";
import { expectClose } from "../helpers/close.js";

// XOR on the corners of a square, four copies with small offsets: not linearly separable.
const X: number[][] = [];
const y: number[] = [];
for (let copy = 0; copy < 4; copy++) {
  for (const [a, b] of [[-1, -1], [-1, 1], [1, -1], [1, 1]] as const) {
    X.push([a + 0.05 * copy, b - 0.03 * copy]);
    y.push(a * b < 0 ? 1 : 0);
  }
}
const options = { units: 4, activation: "tanh", C: 100, seed: 3, epochs: 3000, learningRate: 0.1, momentum: 0.9 } as const;

/** The objective the fit minimises, written out independently: mean log-loss of the network plus L2 / (2 C n). */
function networkLoss(W: number[][], b: number[], v: number[], c: number, C: number): number {
  let loss = 0;
  X.forEach((x, i) => {
    const t = W.reduce((s, row, j) => s + v[j]! * Math.tanh(row[0]! * x[0]! + row[1]! * x[1]! + b[j]!), c);
    loss += Math.log(1 + Math.exp(t)) - y[i]! * t;
  });
  const norm2 = W.flat().reduce((s, w) => s + w * w, 0) + v.reduce((s, w) => s + w * w, 0);
  return loss / X.length + norm2 / (2 * C * X.length);
}

describe("hospital/hidden-layer", () => {
  it("is deterministic: the same data, options and seed give the same bits; another seed does not", () => {
    const a = fitHiddenLayer(X, y, options);
    const b = fitHiddenLayer(X, y, options);
    expect(b).to.deep.equal(a);
    expect(fitHiddenLayer(X, y, { ...options, seed: 4 }).weights).to.not.deep.equal(a.weights);
    expect(a.weights).to.have.length(4);
    expect(a.weights.every((row) => row.length === 2)).to.equal(true);
    expect(a.bias).to.have.length(4);
  });

  it("reports the objective at the weights it returns (written out independently) and lowers it with more epochs", () => {
    for (const epochs of [1, 50, 3000]) {
      const fit = fitHiddenLayer(X, y, { ...options, epochs });
      expectClose(fit.loss, networkLoss(fit.weights, fit.bias, fit.output.weights, fit.output.bias, options.C), 1e-12, `${epochs} epochs`);
    }
    const losses = [1, 50, 3000].map((epochs) => fitHiddenLayer(X, y, { ...options, epochs }).loss);
    expect(losses[1]!).to.be.below(losses[0]!);
    expect(losses[2]!).to.be.below(losses[1]!);
  });

  it("learns XOR, which no linear stage can: every row on the right side, loss far below log 2", () => {
    // Any linear stage on XOR misclassifies at least one corner of four; the network starts near p = 1/2
    // everywhere (loss ≈ ln 2 = 0.693).
    const fit = fitHiddenLayer(X, y, options);
    expect(fit.loss).to.be.below(0.1);
    X.forEach((x, i) => {
      const t = fit.weights.reduce((s, row, j) => s + fit.output.weights[j]! * Math.tanh(row[0]! * x[0]! + row[1]! * x[1]! + fit.bias[j]!), fit.output.bias);
      expect(t > 0 ? 1 : 0, `row ${i}`).to.equal(y[i]);
    });
  });

  it("rejects bad options", () => {
    expect(() => fitHiddenLayer(X, y, { ...options, units: 0 })).to.throw(RangeError);
    expect(() => fitHiddenLayer(X, y, { ...options, epochs: 0 })).to.throw(RangeError);
    expect(() => fitHiddenLayer(X, y, { ...options, momentum: 1 })).to.throw(RangeError);
    expect(() => fitHiddenLayer([], [], options)).to.throw(RangeError);
  });
});
