/**
 * The hidden layer of a two-round model: h = W x + b evaluated by the server, a = F(h) by the client.
 *
 * Method (deterministic: same data, options and seed give the same bits on every run):
 *  1. initial weights W_jk ~ N(0, 1/d) and v_j ~ N(0, 1/h) from a mulberry32(seed) stream (Box-Muller),
 *     biases 0;
 *  2. full-batch gradient descent with heavy-ball momentum on the one-hidden-layer network
 *     p = sigmoid(v · F(W x + b) + c), minimising the mean log-loss plus (||W||^2 + ||v||^2) / (2 C n),
 *     which is scikit-learn's L2 objective 0.5 ||w||^2 + C sum logloss divided by C n;
 *  3. a fixed number of epochs, no early stopping, no data shuffling.
 * Only W and b are kept: the trainer then standardises the activations F(W x + b) on the training rows and
 * fits the final linear stage by the same Newton logistic regression as a one-round model.
 */
import { activate, sigmoid, type Activation } from "../protocol/model.js";
import { mulberry32 } from "./split.js";

export interface HiddenLayerOptions {
  units: number;
  activation: Activation;
  /** Inverse L2 strength, as in the logistic regression. */
  C: number;
  seed: number;
  epochs: number;
  learningRate: number;
  momentum: number;
}

export const HIDDEN_DEFAULTS = { activation: "tanh", epochs: 2000, learningRate: 0.1, momentum: 0.9 } as const;

export interface HiddenLayerFit {
  weights: number[][];
  bias: number[];
  /** The network's own output layer (v, c); the trainer replaces it by a Newton fit on standardised activations. */
  output: { weights: number[]; bias: number };
  /** Objective (mean log-loss plus penalty) at the returned weights. */
  loss: number;
}

/** dF/dt written with the activation's value a = F(t) where that is cheaper. */
function derivative(activation: Activation, t: number, a: number): number {
  switch (activation) {
    case "tanh":
      return 1 - a * a;
    case "sigmoid":
      return a * (1 - a);
    case "softplus":
      return sigmoid(t);
  }
}

/** Standard normal samples from a uniform stream (Box-Muller, both values used). */
function normalStream(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - random(); // (0, 1]
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

export function describeHiddenMethod(o: Omit<HiddenLayerOptions, "units" | "C">): string {
  return (
    `full-batch gradient descent, momentum ${o.momentum}, learning rate ${o.learningRate}, ${o.epochs} epochs, ` +
    `N(0, 1/fan-in) initial weights from mulberry32(${o.seed}), ${o.activation}, mean log-loss + L2 / (2 C n); ` +
    "hidden outputs standardised on the training rows, then the final stage refitted by newton-irls"
  );
}

export function fitHiddenLayer(X: readonly (readonly number[])[], y: readonly number[], o: HiddenLayerOptions): HiddenLayerFit {
  const n = X.length;
  if (n === 0 || y.length !== n) throw new RangeError(`need one label per row and at least one row (${n} rows, ${y.length} labels)`);
  const d = X[0]!.length;
  const h = o.units;
  if (!Number.isInteger(h) || h < 1) throw new RangeError(`units must be a positive integer, got ${h}`);
  if (!(o.C > 0) || !(o.learningRate > 0) || !(o.momentum >= 0 && o.momentum < 1) || !Number.isInteger(o.epochs) || o.epochs < 1) {
    throw new RangeError("C and the learning rate must be positive, momentum in [0, 1), epochs a positive integer");
  }

  const normal = normalStream(mulberry32(o.seed));
  const W = Array.from({ length: h }, () => Array.from({ length: d }, () => normal() * Math.sqrt(1 / d)));
  const b = new Array<number>(h).fill(0);
  const v = Array.from({ length: h }, () => normal() * Math.sqrt(1 / h));
  let c = 0;
  // Momentum buffers.
  const mW = Array.from({ length: h }, () => new Array<number>(d).fill(0));
  const mb = new Array<number>(h).fill(0);
  const mv = new Array<number>(h).fill(0);
  let mc = 0;

  const penalty = 1 / (o.C * n);
  const z = new Array<number>(h);
  const a = new Array<number>(h);
  const gW = Array.from({ length: h }, () => new Array<number>(d).fill(0));
  const gb = new Array<number>(h).fill(0);
  const gv = new Array<number>(h).fill(0);
  let gc = 0;

  /** The objective at the current weights; with `withGradient`, also its gradient into gW, gb, gv, gc (unscaled sums). */
  const evaluate = (withGradient: boolean): number => {
    for (let j = 0; j < h; j++) {
      gW[j]!.fill(0);
      gb[j] = 0;
      gv[j] = 0;
    }
    gc = 0;
    let logLoss = 0;
    for (let i = 0; i < n; i++) {
      const x = X[i]!;
      let t = c;
      for (let j = 0; j < h; j++) {
        let s = b[j]!;
        const row = W[j]!;
        for (let k = 0; k < d; k++) s += row[k]! * x[k]!;
        z[j] = s;
        a[j] = activate(o.activation, s);
        t += v[j]! * a[j]!;
      }
      // log-loss of label y at logit t, overflow-free: softplus(t) - y t.
      logLoss += (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t))) - y[i]! * t;
      if (!withGradient) continue;
      const r = sigmoid(t) - y[i]!;
      gc += r;
      for (let j = 0; j < h; j++) {
        gv[j]! += r * a[j]!;
        const delta = r * v[j]! * derivative(o.activation, z[j]!, a[j]!);
        gb[j]! += delta;
        const g = gW[j]!;
        for (let k = 0; k < d; k++) g[k]! += delta * x[k]!;
      }
    }
    let norm2 = 0;
    for (let j = 0; j < h; j++) {
      norm2 += v[j]! ** 2;
      for (let k = 0; k < d; k++) norm2 += W[j]![k]! ** 2;
    }
    return logLoss / n + 0.5 * penalty * norm2;
  };

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    evaluate(true);
    const step = (m: number, g: number): number => o.momentum * m - o.learningRate * g;
    for (let j = 0; j < h; j++) {
      for (let k = 0; k < d; k++) {
        mW[j]![k] = step(mW[j]![k]!, gW[j]![k]! / n + penalty * W[j]![k]!);
        W[j]![k]! += mW[j]![k]!;
      }
      mb[j] = step(mb[j]!, gb[j]! / n);
      b[j]! += mb[j]!;
      mv[j] = step(mv[j]!, gv[j]! / n + penalty * v[j]!);
      v[j]! += mv[j]!;
    }
    mc = step(mc, gc / n);
    c += mc;
  }
  const loss = evaluate(false);
  if (!Number.isFinite(loss)) throw new Error("hidden-layer training diverged; lower the learning rate");
  return { weights: W, bias: b, output: { weights: v, bias: c }, loss };
}
