import { expect } from "chai";
import { readFileSync } from "node:fs";
import { loadDataset } from "../../hospital/dataset.js";
import { fitLogisticRegression, solveCholesky } from "../../hospital/logistic-regression.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { fitStandardiser, standardiseRow } from "../../hospital/standardise.js";
import { expectClose } from "../helpers/close.js";

const sigma = (t: number): number => 1 / (1 + Math.exp(-t));

/** Gradient of 0.5*||w||^2 + C * sum log-loss, written out independently of the solver. */
function regularisedGradient(X: number[][], y: number[], w: number[], b: number, C: number): number[] {
  const gw = [...w];
  let gb = 0;
  X.forEach((row, i) => {
    const z = row.reduce((s, x, j) => s + x * w[j]!, b);
    const residual = sigma(z) - y[i]!;
    row.forEach((x, j) => (gw[j]! += C * residual * x));
    gb += C * residual;
  });
  return [...gw, gb];
}

const norm = (v: number[]): number => Math.hypot(...v);

describe("hospital/logistic-regression", () => {
  it("solveCholesky solves a hand-built SPD system and refuses an indefinite one", () => {
    // A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,2,3]  =>  b = [8, 15, 11]
    const x = solveCholesky([[4, 2, 0], [2, 5, 1], [0, 1, 3]], [8, 15, 11]);
    x.forEach((v, i) => expectClose(v, i + 1, 1e-12));
    expect(() => solveCholesky([[1, 2], [2, 1]], [1, 1])).to.throw(RangeError, /positive definite/);
  });

  it("reaches a zero regularised gradient on the standardised Statlog (Heart) training split", () => {
    const ds = loadDataset(readFileSync(new URL("../../data/statlog_heart.csv", import.meta.url), "utf8"), "target");
    const { train } = stratifiedSplit(ds.labels, 0.2, 42);
    const raw = train.map((i) => ds.features[i]!);
    const s = fitStandardiser(raw, ds.featureNames);
    const X = raw.map((r) => standardiseRow(s, r));
    const y = train.map((i) => ds.labels[i]!);
    for (const C of [0.01, 1, 100]) {
      const fit = fitLogisticRegression(X, y, { C });
      expect(fit.converged, `C=${C}`).to.equal(true);
      expect(fit.iterations).to.be.within(1, 30);
      expect(fit.gradientNorm).to.be.below(1e-10 * C);
      const g = regularisedGradient(X, y, fit.weights, fit.bias, C);
      expect(norm(g), `C=${C}`).to.be.below(1e-8);
      // The gradient is zero at a minimum, not a saddle: moving any coordinate raises the objective.
      const objective = (w: number[], b: number): number =>
        0.5 * w.reduce((a, v) => a + v * v, 0) +
        C * X.reduce((a, row, i) => { const z = row.reduce((t, x, j) => t + x * w[j]!, b); return a + Math.log1p(Math.exp(z)) - y[i]! * z; }, 0);
      const f0 = objective(fit.weights, fit.bias);
      for (let j = 0; j <= fit.weights.length; j++) {
        for (const h of [-1e-3, 1e-3]) {
          const w = [...fit.weights];
          let b = fit.bias;
          if (j < w.length) w[j]! += h;
          else b += h;
          expect(objective(w, b)).to.be.greaterThan(f0);
        }
      }
    }
  });

  it("with C very small, weights vanish and the bias is the log-odds of the class ratio", () => {
    // 3 positives out of 10: bias -> log(0.3 / 0.7) = log(3/7) = -0.8472978603872037
    const X = [[1, 5], [2, -1], [3, 0], [4, 2], [5, 1], [-1, 3], [0, 0], [2, 2], [7, -3], [1, 1]];
    const y = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0];
    const fit = fitLogisticRegression(X, y, { C: 1e-9 });
    expect(fit.converged).to.equal(true);
    for (const w of fit.weights) expect(Math.abs(w)).to.be.below(1e-7);
    expectClose(fit.bias, -0.8472978603872037, 1e-6);
  });

  it("separable pair x = -1 (class 0), x = +1 (class 1) with C = 1: b = 0 and w = 2 sigma(-w)", () => {
    // By symmetry b = 0; dL/dw = w - sigma(-w) - sigma(-w) = 0  =>  w = 2 / (1 + e^w).
    // Fixed point by hand: w = 0.6748 gives 2/(1+1.96365) = 0.67484; w = 0.6749 gives 0.67480  =>  w ~ 0.67483.
    const fit = fitLogisticRegression([[-1], [1]], [0, 1], { C: 1 });
    const w = fit.weights[0]!;
    expectClose(fit.bias, 0, 1e-12);
    expectClose(w - 2 * sigma(-w), 0, 1e-12);
    expectClose(w, 0.67483, 1e-4);
    // The penalty keeps w finite; with a weaker penalty it grows (the unpenalised optimum is at infinity).
    expect(fitLogisticRegression([[-1], [1]], [0, 1], { C: 100 }).weights[0]!).to.be.greaterThan(3);
  });

  it("non-separable two-group case matches the closed form", () => {
    // x = 0: 4 rows, 1 positive; x = 1: 4 rows, 3 positive.
    const X = [[0], [0], [0], [0], [1], [1], [1], [1]];
    const y = [1, 0, 0, 0, 1, 1, 1, 0];
    // Unpenalised MLE: sigma(b) = 1/4, sigma(w + b) = 3/4  =>  b = -ln 3, w = 2 ln 3. C = 1e6 is nearly unpenalised,
    // where the gradient of f cannot get below ~C * n * 1e-16: the stopping rule scales with C.
    const loose = fitLogisticRegression(X, y, { C: 1e6 });
    expect(loose.converged).to.equal(true);
    expectClose(loose.weights[0]!, 2 * Math.log(3), 1e-4);
    expectClose(loose.bias, -Math.log(3), 1e-4);
    // C = 1: symmetry gives sigma(b) = 1 - sigma(w + b), so b = -w/2, and dL/dw = 0 gives w = 4 (3/4 - sigma(w/2)).
    // By hand: w = 0.66 -> 0.67296, w = 0.67 -> 0.66808, so w ~ 0.6687, b ~ -0.3344.
    const fit = fitLogisticRegression(X, y, { C: 1 });
    const w = fit.weights[0]!;
    expectClose(fit.bias, -w / 2, 1e-12);
    expectClose(w - 4 * (0.75 - sigma(w / 2)), 0, 1e-12);
    expectClose(w, 0.6687, 1e-3);
    expectClose(fit.bias, -0.3344, 1e-3);
  });

  it("rejects labels other than 0/1, ragged rows and a non-positive C", () => {
    expect(() => fitLogisticRegression([[1], [2]], [0, 2], { C: 1 })).to.throw(RangeError, /0 or 1/);
    expect(() => fitLogisticRegression([[1], [2, 3]], [0, 1], { C: 1 })).to.throw(RangeError);
    expect(() => fitLogisticRegression([[1], [2]], [0, 1], { C: 0 })).to.throw(RangeError);
  });
});
