import { expect } from "chai";
import { CkksEngine, type LayoutEvaluationKeys, type PatientCipher } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { expectClose } from "../helpers/close.js";
import { expectFheError, openCipher, TEST_PATIENT } from "../helpers/fhe.js";

describe("protocol/fhe hidden-layer rows (h dot products over one replicated tuple)", function () {
  let engine: CkksEngine;
  let cipher: PatientCipher;
  let keys: LayoutEvaluationKeys;
  const binding = { jobId: "0x01", recordHash: "0x02", modelHash: "0x03" };

  before(async function () {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    const keySet = engine.generateKeySetFor("packed-records", { patient: TEST_PATIENT });
    cipher = openCipher(engine, keySet);
    keys = engine.openEvaluationKeys(keySet.keyBundle);
  });
  after(function () {
    keys?.dispose();
    cipher?.dispose();
    engine?.dispose();
  });

  it("gives row k's w·x + b in block k, for every row", function () {
    const tuple = [0.5, -1.25, 2, 0.75, -0.3, 1.1, 0, -2.2, 0.9, 1.7, -0.6, 0.05, 1.3, -1.9, 0.4, 2.5];
    const rows = Array.from({ length: 8 }, (_, k) => tuple.map((_, i) => Math.sin(k * 16 + i + 1) * 0.9));
    const biases = rows.map((_, k) => (k - 3.5) / 4);
    const record = cipher.encryptRecords("packed-records", rows.map(() => tuple), { round: 0 });
    // Round 0 has one encoding: no `round` at all.
    expect(engine.readRecordsHeader(record)).to.include({ layout: "packed-records", records: 8, values: 16 });
    expect(engine.readRecordsHeader(record)).to.not.have.property("round");
    expect(engine.readRecordsHeader(cipher.encryptRecords("packed-records", [tuple], { round: 2 }))).to.include({ round: 2 });

    const result = engine.evaluateLinearRows(keys, record, rows, biases, binding);
    const { values } = cipher.decryptBatch(result);
    expect(values).to.have.length(8);
    rows.forEach((row, k) => {
      let expected = biases[k]!;
      for (let i = 0; i < tuple.length; i++) expected += row[i]! * tuple[i]!;
      expectClose(values[k]!, expected, 1e-5, `row ${k}`);
    });
  });

  it("refuses a record whose copy count differs from the stage's rows, or a single-record record", function () {
    const tuple = [1, 2, 3];
    const rows = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]];
    const three = cipher.encryptRecords("packed-records", [tuple, tuple, tuple]);
    const err = (() => {
      try {
        engine.evaluateLinearRows(keys, three, rows, [0, 0], binding);
      } catch (e) {
        return e;
      }
    })();
    expect(err).to.be.instanceOf(FheError);
    expect((err as FheError).code).to.equal("ParameterMismatch");
    expect((err as FheError).message).to.match(/3 copies of the tuple, the stage has 2 rows/);

    const single = cipher.encryptTuple(tuple);
    expect(() => engine.evaluateLinearRows(keys, single, rows, [0, 0], binding)).to.throw(FheError, /needs a packed-records record/);
    expect(() => cipher.encryptRecords("packed-records", [tuple], { round: 16 })).to.throw(FheError, /round must be 0..15/);
  });

  it("is refused on a parameter set with no level to clear the slots between the rows' results", async function () {
    const small = await CkksEngine.create("ckks-n4096-linear");
    try {
      const keySet = small.generateKeySetFor("single-record", { patient: TEST_PATIENT });
      const smallKeys = small.openEvaluationKeys(keySet.keyBundle);
      const smallCipher = openCipher(small, keySet);
      try {
        const record = smallCipher.encryptRecords("feature-major", [[1, 2], [1, 2]]);
        expectFheError(() => small.evaluateLinearRows(smallKeys, record, [[1, 0], [0, 1]], [0, 0], binding), "ParameterMismatch", /hidden rounds on ckks-n8192-d3/);
      } finally {
        smallCipher.dispose();
        smallKeys.dispose();
      }
    } finally {
      small.dispose();
    }
  });
});
