import { expect } from "chai";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { CkksEngine, type KeySet, type LayoutEvaluationKeys, type PatientCipher, type ResultBinding } from "../../protocol/fhe/engine.js";
import { layoutProblem, LAYOUTS, MIN_RECORD_STRIDE, resultSlot } from "../../protocol/fhe/layouts.js";
import { PARAMETER_SET_NAMES, type ParameterSetName } from "../../protocol/fhe/params.js";
import { evaluateSigmoidPolynomial, fitSigmoidPolynomial, logitInterval, type SigmoidPolynomial } from "../../protocol/fhe/sigmoid.js";
import { mulberry32 as prng } from "../../hospital/split.js";
import { dot, expectFheError, openCipher, SealProbe, TEST_PATIENT } from "../helpers/fhe.js";

/**
 * A result must reveal its result slots and nothing else: every slot of the result ciphertext is decrypted here with
 * the patient's secret key (through SEAL directly: the engine itself only ever returns result slots) and compared
 * with the plaintext model. Without masking, the rotate-and-sum leaves partial sums of w_i·x_i in the slots next
 * to each result (adjacent differences give every w_i·x_i), and unused feature-major slots hold the bias.
 */

const binding: ResultBinding = { jobId: "11", recordHash: `0x${"a1".repeat(32)}`, modelHash: `0x${"b2".repeat(32)}` };
/** Slots that are not result slots must decrypt to this little (CKKS noise is ~1e-7 here). */
const ZERO = 1e-3;
/** Result slots must match the plaintext model to this. */
const CLOSE = 1e-4;

type Stage = "linear" | "sigmoid-poly";

interface Fixture {
  engine: CkksEngine;
  keySet: KeySet;
  keys: LayoutEvaluationKeys;
  cipher: PatientCipher;
  probe: SealProbe;
}

/** What every slot of a result must decrypt to: `expected[s]` where given, 0 elsewhere. */
function checkEverySlot(all: Float64Array, expected: Map<number, number>, what: string): { worstResult: number; worstOther: number } {
  let worstResult = 0;
  let worstOther = 0;
  all.forEach((v, s) => {
    const want = expected.get(s);
    if (want === undefined) {
      worstOther = Math.max(worstOther, Math.abs(v));
      if (!(Math.abs(v) < ZERO)) expect.fail(`${what}: slot ${s} is not a result slot but decrypts to ${v}`);
    } else {
      worstResult = Math.max(worstResult, Math.abs(v - want));
      if (!(Math.abs(v - want) < CLOSE)) expect.fail(`${what}: result slot ${s} decrypts to ${v}, expected ${want}`);
    }
  });
  return { worstResult, worstOther };
}

describe("CKKS results reveal nothing but the result (every slot decrypted)", function () {
  const fixtures = new Map<ParameterSetName, Fixture>();
  const random = prng(8128);
  const features = 13;
  const weights = Array.from({ length: features }, () => (random() * 2 - 1) * 1.2);
  const bias = -0.35;

  before(async function () {
    for (const name of PARAMETER_SET_NAMES) {
      const engine = await CkksEngine.create(name);
      // Rotation keys serve feature-major too; relinearization keys where the depth allows the sigmoid stage.
      const keySet = engine.generateKeySetFor("single-record", { patient: TEST_PATIENT, sigmoid: engine.params.depth >= 3 });
      fixtures.set(name, {
        engine,
        keySet,
        keys: engine.openEvaluationKeys(keySet.keyBundle),
        cipher: openCipher(engine, keySet),
        probe: new SealProbe(engine, keySet.secretKey),
      });
    }
  });

  after(function () {
    for (const f of fixtures.values()) {
      f.probe.dispose();
      f.keys.dispose();
      f.cipher.dispose();
      f.engine.dispose();
    }
  });

  function evaluate(f: Fixture, stage: Stage, record: Uint8Array, polynomial: SigmoidPolynomial): Uint8Array {
    return stage === "linear"
      ? f.engine.evaluateLinearBatch(f.keys, record, weights, bias, binding)
      : f.engine.evaluateSigmoidPoly(f.keys, record, weights, bias, polynomial, binding);
  }

  for (const name of PARAMETER_SET_NAMES) {
    describe(name, function () {
      for (const layout of LAYOUTS) {
        for (const stage of ["linear", "sigmoid-poly"] as const) {
          // Partial batch jobs, so that slots beyond the job's records are checked too.
          const count = layout === "single-record" ? 1 : layout === "packed-records" ? 37 : 301;
          const supported = !layoutProblem(layout, name) && (stage === "linear" || name === "ckks-n8192-d3");
          if (!supported) continue; // refusals: the tests at the end of this block

          it(`${layout} ${stage}: result slots hold the model's values, every other slot ${layout === "single-record" ? "holds T too" : "holds 0"}; deterministic`, function () {
            const f = fixtures.get(name)!;
            const tuples = Array.from({ length: count }, () => Array.from({ length: features }, () => (random() * 2 - 1) * 4));
            const ts = tuples.map((x) => dot(weights, x, bias));
            const polynomial = fitSigmoidPolynomial(logitInterval(ts), 3);
            const values = stage === "linear" ? ts : ts.map((t) => evaluateSigmoidPolynomial(polynomial, t));
            const record = f.cipher.encryptRecords(layout, tuples);
            const result = evaluate(f, stage, record, polynomial);
            const all = f.probe.decryptAllSlots(result);
            expect(all).to.have.length(f.engine.params.slots);

            const expected = new Map<number, number>();
            if (layout === "single-record") all.forEach((_, s) => expected.set(s, values[0]!));
            else values.forEach((v, r) => expected.set(resultSlot(layout, r), v));
            const { worstResult, worstOther } = checkEverySlot(all, expected, `${name} ${layout} ${stage}`);
            expect(worstResult).to.be.lessThan(CLOSE);
            expect(worstOther).to.be.lessThan(ZERO);
            if (layout === "single-record") {
              // The header names slot 0, and the slot next to it (a partial sum if the tuple filled one block only)
              // holds T too.
              expect(f.engine.readJobResultHeader(result)).to.include({ slot: 0 });
              expect(Math.abs(all[1]! - values[0]!)).to.be.lessThan(CLOSE);
            } else {
              // Unmasked, the slot after packed record 0's result would hold a partial sum of w_i·x_i, and the first
              // slot beyond the job b (linear) or p(0) (sigmoid-poly).
              if (layout === "packed-records") expect(Math.abs(all[1]!)).to.be.lessThan(ZERO);
              expect(Math.abs(all[resultSlot(layout, count)]!)).to.be.lessThan(ZERO);
            }
            // The patient's own decryption agrees on the result slots.
            f.cipher.decryptBatch(result).values.forEach((v, r) => expect(Math.abs(v - values[r]!)).to.be.lessThan(CLOSE));
            // Deterministic: a second evaluation is byte-identical (k-of-n agreement compares result hashes).
            expect(Buffer.from(evaluate(f, stage, record, polynomial)).equals(Buffer.from(result))).to.equal(true);
          });
        }
      }

      if (name === "ckks-n8192-d3") {
        it("hidden-layer rows: row k's value at slot 16k, 0 everywhere else", function () {
          const f = fixtures.get(name)!;
          const tuple = Array.from({ length: 16 }, (_, i) => Math.sin(i + 1) * 2);
          const rows = Array.from({ length: 9 }, (_, k) => tuple.map((_, i) => Math.cos(k * 16 + i) * 0.8));
          const biases = rows.map((_, k) => (k - 4) / 3);
          const record = f.cipher.encryptRecords("packed-records", rows.map(() => tuple), { round: 1 });
          const result = f.engine.evaluateLinearRows(f.keys, record, rows, biases, binding);
          const expected = new Map(rows.map((row, k) => [k * MIN_RECORD_STRIDE, dot(row, tuple, biases[k]!)] as const));
          checkEverySlot(f.probe.decryptAllSlots(result), expected, "rows");
          expect(Buffer.from(f.engine.evaluateLinearRows(f.keys, record, rows, biases, binding)).equals(Buffer.from(result))).to.equal(true);
        });
      }

      it("refuses what it cannot mask with ParameterMismatch, naming why and what to use", function () {
        const f = fixtures.get(name)!;
        const unsupported = LAYOUTS.filter((layout) => layoutProblem(layout, name));
        if (name === "ckks-n4096-linear") expect(unsupported).to.deep.equal(["packed-records"]);
        else expect(unsupported).to.deep.equal([]);
        for (const layout of unsupported) {
          expectFheError(() => f.cipher.encryptRecords(layout, [[1, 2], [3, 4]]), "ParameterMismatch", /no level left.*use feature-major/);
          // A packed header around a valid ciphertext of this set: refused before any evaluation.
          const single = decodeEnvelope(f.cipher.encryptRecords("single-record", [[1, 2]]), "record");
          const packed = encodeEnvelope("record", { ...single.header, layout, records: 2 }, [["ciphertext", single.sections.get("ciphertext")!]]);
          expectFheError(() => f.engine.evaluateLinearBatch(f.keys, packed, [1, 1], 0, binding), "ParameterMismatch", /partial sums of w·x; use feature-major/);
          expectFheError(() => f.engine.evaluateLinearRows(f.keys, packed, [[1, 0], [0, 1]], [0, 0], binding), "ParameterMismatch", /ckks-n8192-d3/);
        }
      });
    });
  }

  it("single-record records hold the tuple in every block of 16 slots (what makes every result slot T)", function () {
    const f = fixtures.get("ckks-n4096-linear")!;
    // Evaluate with weight 1 on the first value only: slot s then holds the tuple's first value in every slot iff
    // the tuple was written into every block.
    const tuple = [1.5, -2, 0.25];
    const result = f.engine.evaluateLinearBatch(f.keys, f.cipher.encryptTuple(tuple), [1, 0, 0], 0, binding);
    const all = f.probe.decryptAllSlots(result);
    for (const s of [0, 1, 15, 16, 1000, all.length - 1]) expect(Math.abs(all[s]! - 1.5), `slot ${s}`).to.be.lessThan(CLOSE);
  });
});
