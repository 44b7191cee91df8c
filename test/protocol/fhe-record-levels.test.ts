import { expect } from "chai";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { CkksEngine, type KeySet, type LayoutEvaluationKeys, type PatientCipher, type ResultBinding } from "../../protocol/fhe/engine.js";
import { recordPrimes, type Layout } from "../../protocol/fhe/layouts.js";
import { fitSigmoidPolynomial } from "../../protocol/fhe/sigmoid.js";
import { mulberry32 } from "../../hospital/split.js";
import { expectClose } from "../helpers/close.js";
import { dot, expectFheError, openCipher, TEST_PATIENT } from "../helpers/fhe.js";

const binding: ResultBinding = { jobId: "9", recordHash: `0x${"ab".repeat(32)}`, modelHash: `0x${"cd".repeat(32)}` };

/** The SEAL primes a record's ciphertext keeps: read back through a load into SEAL. */
function primesOf(engine: CkksEngine, record: Uint8Array, section = "ciphertext"): number {
  const seal = engine.seal;
  const ct = new seal.Ciphertext();
  try {
    ct.loadFromArray((engine as unknown as { context: Parameters<typeof ct.loadFromArray>[0] }).context, decodeEnvelope(record, "record").sections.get(section)!);
    return ct.coeffModulusSize();
  } finally {
    ct.delete();
  }
}

describe("records encrypted at the level their job needs", function () {
  let engine: CkksEngine;
  let keys: KeySet;
  let cipher: PatientCipher;
  let evaluation: LayoutEvaluationKeys;
  const next = mulberry32(11);
  const weights = Array.from({ length: 13 }, () => next() - 0.5);
  const bias = 0.3;
  const tuple = () => weights.map(() => 4 * (next() - 0.5));

  before(async function () {
    engine = await CkksEngine.create("ckks-n8192-d3");
    keys = engine.generateKeySetFor("packed-records", { patient: TEST_PATIENT, sigmoid: true });
    cipher = openCipher(engine, keys);
    evaluation = engine.openEvaluationKeys(keys.keyBundle);
  });

  after(function () {
    evaluation?.dispose();
    cipher?.dispose();
    engine?.dispose();
  });

  it("keeps two primes for a linear single-record or feature-major job and three for packed records, every prime otherwise", function () {
    expect(recordPrimes("single-record", "linear", engine.params)).to.equal(2);
    expect(recordPrimes("feature-major", "linear", engine.params)).to.equal(2);
    expect(recordPrimes("packed-records", "linear", engine.params)).to.equal(3);
    expect(recordPrimes("single-record", "sigmoid-poly", engine.params)).to.equal(4);
    expect(primesOf(engine, cipher.encryptTuple(tuple(), { stage: "linear" }))).to.equal(2);
    expect(primesOf(engine, cipher.encryptRecords("packed-records", [tuple(), tuple()], { stage: "linear" }))).to.equal(3);
    expect(primesOf(engine, cipher.encryptRecords("feature-major", [tuple(), tuple()], { stage: "linear" }), "feature-0")).to.equal(2);
    expect(primesOf(engine, cipher.encryptTuple(tuple()))).to.equal(4);
  });

  it("halves a linear single-record upload at N=8192 and gives the same T as a full record, in every layout", function () {
    const x = tuple();
    const low = cipher.encryptTuple(x, { stage: "linear" });
    const full = cipher.encryptTuple(x);
    expect(low.length).to.be.below(full.length * 0.6);
    for (const [layout, tuples] of [["single-record", [x]], ["packed-records", [x, tuple(), tuple()]], ["feature-major", [x, tuple()]]] as [Layout, number[][]][]) {
      const fromLow = cipher.decryptBatch(engine.evaluateLinearBatch(evaluation, cipher.encryptRecords(layout, tuples, { stage: "linear" }), weights, bias, binding)).values;
      const fromFull = cipher.decryptBatch(engine.evaluateLinearBatch(evaluation, cipher.encryptRecords(layout, tuples), weights, bias, binding)).values;
      tuples.forEach((t, r) => {
        expectClose(fromLow[r]!, dot(weights, t, bias), 1e-5, `${layout} record ${r} (linear level)`);
        expectClose(fromFull[r]!, dot(weights, t, bias), 1e-5, `${layout} record ${r} (full level)`);
      });
    }
  });

  it("refuses a record that keeps fewer primes than its job needs, naming both counts", function () {
    const polynomial = fitSigmoidPolynomial([-8, 8]);
    const low = cipher.encryptTuple(tuple(), { stage: "linear" });
    expectFheError(() => engine.evaluateSigmoidPoly(evaluation, low, weights, bias, polynomial, binding), "MalformedRecord", /keeps 2 of the parameter set's primes.*at least 4/);
    // A packed record made for one rescale (two primes) cannot be masked after its rotations.
    const header = decodeEnvelope(cipher.encryptRecords("packed-records", [tuple(), tuple()]), "record").header;
    const single = decodeEnvelope(low, "record");
    const packedLow = encodeEnvelope("record", header, [["ciphertext", single.sections.get("ciphertext")!]]);
    expectFheError(() => engine.evaluateLinearBatch(evaluation, packedLow, weights, bias, binding), "MalformedRecord", /keeps 2 .*at least 3/);
  });

  it("refuses an unknown stage on the device", function () {
    expectFheError(() => cipher.encryptTuple(tuple(), { stage: "cubic" as never }), "MalformedRecord", /stage must be linear or sigmoid-poly/);
  });
});
