import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeEnvelope } from "../../protocol/envelope.js";
import {
  CkksEngine,
  type KeySet,
  type LayoutEvaluationKeys,
  type PatientCipher,
  type ResultBinding,
} from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { layoutCapacity, LAYOUTS, type Layout } from "../../protocol/fhe/layouts.js";
import {
  coefficientsInLogit,
  evaluateSigmoidPolynomial,
  fitSigmoidPolynomial,
  logitInterval,
  type SigmoidPolynomial,
} from "../../protocol/fhe/sigmoid.js";
import { expectClose } from "../helpers/close.js";
import { mulberry32 as prng } from "../../hospital/split.js";
import { dot, expectFheError, openCipher, TEST_PATIENT } from "../helpers/fhe.js";

const root = fileURLToPath(new URL("../../", import.meta.url));


/** References written out here, independent of the code under test. */
function sigma(t: number): number {
  return 1 / (1 + Math.exp(-t));
}
/** The fitted polynomial in plaintext: Σ c_k u^k with u = (2T − a − b)/(b − a). */
function polyAt(poly: SigmoidPolynomial, t: number): number {
  const [a, b] = poly.interval;
  const u = (2 * t - a - b) / (b - a);
  return poly.coefficients.reduce((sum, c, k) => sum + c * u ** k, 0);
}

interface RawModel {
  features: { name: string; mean: number; std: number }[];
  server: { weights: number[]; bias: number };
}

/** The committed heart model and its data set's rows as standardised tuples. */
function heart(): { weights: number[]; bias: number; tuples: number[][] } {
  const model = JSON.parse(readFileSync(join(root, "models", "statlog-heart-logreg.v1.json"), "utf8")) as RawModel;
  const lines = readFileSync(join(root, "data", "statlog_heart.csv"), "utf8").trim().split(/\r?\n/);
  const columns = lines[0]!.split(",");
  const tuples = lines.slice(1).map((line) => {
    const row = line.split(",").map(Number);
    return model.features.map((f) => (row[columns.indexOf(f.name)]! - f.mean) / f.std);
  });
  return { weights: model.server.weights, bias: model.server.bias, tuples };
}

const binding: ResultBinding = { jobId: "9", recordHash: `0x${"12".repeat(32)}`, modelHash: `0x${"34".repeat(32)}` };

describe("sigmoid polynomial (non-interactive variant)", function () {
  describe("fitSigmoidPolynomial", function () {
    it("defaults to degree 3 and reports its max error over the interval", function () {
      const poly = fitSigmoidPolynomial([-6, 8]);
      expect(poly.coefficients).to.have.length(4);
      expect(poly.interval).to.deep.equal([-6, 8]);
      let max = 0;
      for (let i = 0; i <= 40_000; i++) {
        const t = -6 + (14 * i) / 40_000;
        max = Math.max(max, Math.abs(polyAt(poly, t) - sigma(t)));
      }
      expectClose(poly.maxError, max, max * 1e-3, "reported max error");
      expect(poly.maxError).to.be.within(0.01, 0.2);
    });

    it("is the least-squares fit on Chebyshev nodes: moving any coefficient raises the squared residual", function () {
      const poly = fitSigmoidPolynomial([-5, 7], 3);
      const nodes = Array.from({ length: 256 }, (_, j) => Math.cos((Math.PI * (j + 0.5)) / 256));
      const residual = (c: readonly number[]) =>
        nodes.reduce((sum, u) => {
          const t = (12 * u + 2) / 2;
          const p = c.reduce((acc, ck, k) => acc + ck * u ** k, 0);
          return sum + (p - sigma(t)) ** 2;
        }, 0);
      const best = residual(poly.coefficients);
      for (let k = 0; k < 4; k++) {
        for (const delta of [-1e-3, 1e-3]) {
          const moved = [...poly.coefficients];
          moved[k]! += delta;
          expect(residual(moved), `c${k} ${delta}`).to.be.greaterThan(best);
        }
      }
    });

    it("gives an odd polynomial (plus 1/2) on a symmetric interval, and errors that shrink with the degree", function () {
      const errors = [1, 3, 5, 7].map((d) => fitSigmoidPolynomial([-8, 8], d));
      for (const poly of errors.slice(1)) {
        poly.coefficients.forEach((c, k) => {
          if (k > 0 && k % 2 === 0) expect(c, `c${k}`).to.equal(0);
        });
        expectClose(poly.coefficients[0]!, 0.5, 1e-12);
      }
      for (let i = 1; i < errors.length; i++) expect(errors[i]!.maxError).to.be.lessThan(errors[i - 1]!.maxError);
    });

    it("converts to coefficients in T that evaluate the same polynomial", function () {
      const poly = fitSigmoidPolynomial([-4.5, 6.25], 3);
      const inT = coefficientsInLogit(poly);
      for (const t of [-4.5, -1, 0, 0.3, 6.25, 10]) {
        const direct = inT.reduce((sum, c, k) => sum + c * t ** k, 0);
        expectClose(direct, polyAt(poly, t), 1e-12);
        expectClose(evaluateSigmoidPolynomial(poly, t), polyAt(poly, t), 1e-12);
      }
    });

    it("refuses bad intervals and degrees; logitInterval pads the observed range", function () {
      expect(() => fitSigmoidPolynomial([1, 1])).to.throw(RangeError);
      expect(() => fitSigmoidPolynomial([2, 1])).to.throw(RangeError);
      expect(() => fitSigmoidPolynomial([0, Number.POSITIVE_INFINITY])).to.throw(RangeError);
      expect(() => fitSigmoidPolynomial([-1, 1], 0)).to.throw(RangeError);
      expect(() => fitSigmoidPolynomial([-1, 1], 8)).to.throw(RangeError);
      expect(() => fitSigmoidPolynomial([-1, 1], 2.5)).to.throw(RangeError);
      expect(logitInterval([-2, 3, 1])).to.deep.equal([-2.5, 3.5]);
      expect(logitInterval([1, 2], 0)).to.deep.equal([1, 2]);
      expect(() => logitInterval([])).to.throw(RangeError);
      expect(() => logitInterval([1, Number.NaN])).to.throw(RangeError);
    });
  });

  describe("under encryption (ckks-n8192-d3)", function () {
    let engine: CkksEngine;
    const keySets = new Map<Layout, KeySet>();
    const ciphers = new Map<Layout, PatientCipher>();
    const keys = new Map<Layout, LayoutEvaluationKeys>();
    const model = heart();
    const logits = model.tuples.map((x) => dot(model.weights, x, model.bias));
    const interval = logitInterval(logits);
    const poly = fitSigmoidPolynomial(interval, 3);

    before(async function () {
      engine = await CkksEngine.create("ckks-n8192-d3");
      for (const layout of ["packed-records", "feature-major"] as const) {
        const keySet = engine.generateKeySetFor(layout, { sigmoid: true, patient: TEST_PATIENT });
        keySets.set(layout, keySet);
        ciphers.set(layout, openCipher(engine, keySet));
        keys.set(layout, engine.openEvaluationKeys(keySet.keyBundle));
      }
      // single-record uses the packed-records bundle: same rotations.
      keySets.set("single-record", keySets.get("packed-records")!);
      ciphers.set("single-record", ciphers.get("packed-records")!);
      keys.set("single-record", keys.get("packed-records")!);
    });

    after(function () {
      for (const layout of ["packed-records", "feature-major"] as const) {
        keys.get(layout)?.dispose();
        ciphers.get(layout)?.dispose();
      }
      engine?.dispose();
    });

    for (const layout of LAYOUTS) {
      it(`${layout}: decrypts p(T) within 1e-4 of the plaintext polynomial and within its fit error of σ(T)`, function () {
        const cipher = ciphers.get(layout)!;
        const capacity = layoutCapacity(layout);
        // The data set's rows (all 270 where they fit), each T inside the fitted interval.
        const jobs = layout === "single-record" ? model.tuples.slice(0, 8).map((x) => [x]) : [model.tuples.slice(0, capacity)];
        let checked = 0;
        let worstPoly = 0;
        for (const tuples of jobs) {
          const record = cipher.encryptRecords(layout, tuples);
          const result = engine.evaluateSigmoidPoly(keys.get(layout)!, record, model.weights, model.bias, poly, binding);
          const out = cipher.decryptBatch(result);
          expect(out.stage).to.equal("sigmoid-poly");
          expect(out.layout).to.equal(layout);
          tuples.forEach((x, r) => {
            const t = dot(model.weights, x, model.bias);
            expect(t).to.be.within(interval[0], interval[1]);
            const p = out.values[r]!;
            worstPoly = Math.max(worstPoly, Math.abs(p - polyAt(poly, t)));
            expectClose(p, polyAt(poly, t), 1e-4, `record ${r}: polynomial`);
            expectClose(p, sigma(t), poly.maxError + 1e-4, `record ${r}: sigmoid`);
          });
          checked += tuples.length;
        }
        expect(checked).to.be.at.least(8);
        // In practice the CKKS error is far below the tolerance.
        expect(worstPoly).to.be.lessThan(1e-5);
      });
    }

    it("names the stage in the result header; the original decryptResult refuses a probability", function () {
      const cipher = ciphers.get("single-record")!;
      const record = cipher.encryptRecords("single-record", [model.tuples[0]!]);
      const result = engine.evaluateSigmoidPoly(keys.get("single-record")!, record, model.weights, model.bias, poly, binding);
      expect(engine.readJobResultHeader(result)).to.deep.equal({ parameterSet: "ckks-n8192-d3", stage: "sigmoid-poly", slot: 0, ...binding });
      expectFheError(() => engine.readResultHeader(result), "MalformedResult", /stage/);
      expectFheError(() => cipher.decryptResult(result), "MalformedResult", /stage/);
      const packed = engine.evaluateSigmoidPoly(
        keys.get("packed-records")!,
        cipher.encryptRecords("packed-records", model.tuples.slice(0, 3)),
        model.weights,
        model.bias,
        poly,
        binding,
      );
      expect(engine.readJobResultHeader(packed)).to.deep.equal({
        parameterSet: "ckks-n8192-d3",
        layout: "packed-records",
        stage: "sigmoid-poly",
        records: 3,
        ...binding,
      });
    });

    it("stays exact far outside the interval: every record at the model's extreme logit (no wrap-around)", function () {
      const cipher = ciphers.get("feature-major")!;
      // x = ±32 aligned with the weights' signs: T = ±(Σ|w|·32) + b, the largest the bounds allow for this model.
      const extreme = model.weights.map((w) => Math.sign(w) * 32);
      const tuples = Array.from({ length: 4096 }, (_, r) => (r % 2 === 0 ? extreme : extreme.map((v) => -v)));
      const result = engine.evaluateSigmoidPoly(keys.get("feature-major")!, cipher.encryptRecords("feature-major", tuples), model.weights, model.bias, poly, binding);
      const { values } = cipher.decryptBatch(result);
      for (const r of [0, 1, 2, 4095]) {
        const expected = polyAt(poly, dot(model.weights, tuples[r]!, model.bias));
        expect(Math.abs(expected)).to.be.greaterThan(100); // a cubic far outside its interval
        expectClose(values[r]!, expected, Math.abs(expected) * 1e-6, `record ${r}`);
      }
    });

    it("refuses without relinearization keys, beyond the depth, for constant or unusable polynomials", function () {
      const cipher = ciphers.get("packed-records")!;
      const record = cipher.encryptRecords("packed-records", model.tuples.slice(0, 4));
      const linearOnly = engine.openEvaluationKeys(engine.generateKeySetFor("packed-records", { patient: TEST_PATIENT }).keyBundle);
      try {
        expect(linearOnly.relinKeys).to.equal(undefined);
        expectFheError(() => engine.evaluateSigmoidPoly(linearOnly, record, model.weights, model.bias, poly, binding), "ParameterMismatch", /relinearization/);
      } finally {
        linearOnly.dispose();
      }
      const k = keys.get("packed-records")!;
      const degree4 = fitSigmoidPolynomial(interval, 4);
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, degree4, binding), "ParameterMismatch", /degree 4/);
      const constant = { interval, coefficients: [0.5, 0], maxError: 1 } as const;
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, constant, binding), "ParameterMismatch", /constant/);
      const badInterval = { ...poly, interval: [3, 3] as const };
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, badInterval, binding), "ParameterMismatch", /interval/);
      const nan = { ...poly, coefficients: [0.5, Number.NaN, 0, 0] };
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, nan, binding), "ParameterMismatch", /finite/);
      // A model at the edge of the bounds (|T| up to 998) with a cubic fitted on [-8, 8]: p can reach ~1.3e6 over the
      // model's range, which would leave an output scale below 2^30: refused, not wrapped.
      const steep = model.weights.map(() => 2.4);
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, steep, 0, fitSigmoidPolynomial([-8, 8]), binding), "ParameterMismatch", /widen the interval/);
      expectFheError(() => engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, fitSigmoidPolynomial([0, 1e-4]), binding), "ParameterMismatch", /too narrow/);
      // Degree 1 and 2 take one and two levels and work too.
      for (const degree of [1, 2]) {
        const low = fitSigmoidPolynomial(interval, degree);
        const out = cipher.decryptBatch(engine.evaluateSigmoidPoly(k, record, model.weights, model.bias, low, binding));
        model.tuples.slice(0, 4).forEach((x, r) => expectClose(out.values[r]!, polyAt(low, dot(model.weights, x, model.bias)), 1e-4));
      }
    });

    it("puts relinearization keys in the bundle only for the sigmoid variant; the original loader still reads it", function () {
      const sections = [...decodeEnvelope(keySets.get("packed-records")!.keyBundle, "key-bundle").sections.keys()];
      expect(sections).to.deep.equal(["publicKey", "galoisKeys", "relinKeys"]);
      const fm = [...decodeEnvelope(keySets.get("feature-major")!.keyBundle, "key-bundle").sections.keys()];
      expect(fm).to.deep.equal(["publicKey", "relinKeys"]);
      engine.openKeyBundle(keySets.get("packed-records")!.keyBundle).dispose();
    });
  });

  it("refuses the sigmoid variant on a parameter set without the depth (ckks-n4096-linear)", async function () {
    const small = await CkksEngine.create("ckks-n4096-linear");
    try {
      expectFheError(() => small.generateKeySetFor("single-record", { sigmoid: true, patient: TEST_PATIENT }), "ParameterMismatch", /depth 1/);
      const keySet = small.generateKeySetFor("feature-major", { patient: TEST_PATIENT });
      const cipher = openCipher(small, keySet);
      const keys = small.openEvaluationKeys(keySet.keyBundle);
      try {
        const record = cipher.encryptRecords("feature-major", [[1, 2]]);
        expectFheError(() => small.evaluateSigmoidPoly(keys, record, [1, 1], 0, fitSigmoidPolynomial([-4, 4]), binding), "ParameterMismatch", /depth 1/);
      } finally {
        keys.dispose();
        cipher.dispose();
      }
    } finally {
      small.dispose();
    }
  });

  it("is not fooled by a random polynomial: the decrypted value follows the coefficients given", async function () {
    const engine = await CkksEngine.create("ckks-n8192-d3");
    const keySet = engine.generateKeySetFor("feature-major", { sigmoid: true, patient: TEST_PATIENT });
    const cipher = openCipher(engine, keySet);
    const keys = engine.openEvaluationKeys(keySet.keyBundle);
    try {
      const random = prng(5);
      const tuples = Array.from({ length: 64 }, () => Array.from({ length: 5 }, () => random() * 4 - 2));
      const weights = [0.4, -0.3, 0.8, 0.1, -0.6];
      for (let trial = 0; trial < 3; trial++) {
        const custom: SigmoidPolynomial = { interval: [-3, 3], coefficients: [random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5], maxError: 1 };
        const { values } = cipher.decryptBatch(engine.evaluateSigmoidPoly(keys, cipher.encryptRecords("feature-major", tuples), weights, 0.2, custom, binding));
        tuples.forEach((x, r) => expectClose(values[r]!, polyAt(custom, dot(weights, x, 0.2)), 1e-4, `trial ${trial} record ${r}`));
      }
    } finally {
      keys.dispose();
      cipher.dispose();
      engine.dispose();
    }
  });
});
