import { expect } from "chai";
import { decodeEnvelope } from "../../protocol/envelope.js";
import {
  CkksEngine,
  featureSectionName,
  LINEAR_ROTATION_STEPS,
  type KeySet,
  type LayoutEvaluationKeys,
  type PatientCipher,
  type ResultBinding,
} from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { chooseLayout, layoutCapacity, layoutProblem, layoutRotationSteps, LAYOUTS, type Layout } from "../../protocol/fhe/layouts.js";
import { PARAMETER_SET_NAMES, type ParameterSetName } from "../../protocol/fhe/params.js";
import { expectClose } from "../helpers/close.js";
import { mulberry32 as prng } from "../../hospital/split.js";
import { contentHash } from "../../protocol/hash.js";
import { dot, expectFheError, openCipher, TEST_PATIENT } from "../helpers/fhe.js";


function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const binding: ResultBinding = { jobId: "7", recordHash: `0x${"ab".repeat(32)}`, modelHash: `0x${"cd".repeat(32)}` };

interface SetFixture {
  engine: CkksEngine;
  rotation: KeySet;
  featureMajor: KeySet;
  cipher: PatientCipher;
  rotationKeys: LayoutEvaluationKeys;
  featureMajorKeys: LayoutEvaluationKeys;
}

describe("CkksEngine layouts (single-record, packed-records, feature-major)", function () {
  const fixtures = new Map<ParameterSetName, SetFixture>();

  before(async function () {
    for (const name of PARAMETER_SET_NAMES) {
      const engine = await CkksEngine.create(name);
      const rotation = engine.generateKeySetFor("single-record", { patient: TEST_PATIENT });
      // Same secret key for both bundles is not possible (each key set is fresh), so the feature-major tests use
      // their own cipher below; the rotation cipher serves single-record and packed-records.
      const featureMajor = engine.generateKeySetFor("feature-major", { patient: TEST_PATIENT });
      fixtures.set(name, {
        engine,
        rotation,
        featureMajor,
        cipher: openCipher(engine, rotation),
        rotationKeys: engine.openEvaluationKeys(rotation.keyBundle),
        featureMajorKeys: engine.openEvaluationKeys(featureMajor.keyBundle),
      });
    }
  });

  after(function () {
    for (const f of fixtures.values()) {
      f.rotationKeys.dispose();
      f.featureMajorKeys.dispose();
      f.cipher.dispose();
      f.engine.dispose();
    }
  });

  /** Keys and cipher that belong together for a layout. */
  function materialFor(name: ParameterSetName, layout: Layout): { f: SetFixture; keys: LayoutEvaluationKeys; cipher: PatientCipher; dispose: () => void } {
    const f = fixtures.get(name)!;
    if (layout !== "feature-major") return { f, keys: f.rotationKeys, cipher: f.cipher, dispose: () => {} };
    const cipher = openCipher(f.engine, f.featureMajor);
    return { f, keys: f.featureMajorKeys, cipher, dispose: () => cipher.dispose() };
  }

  for (const name of PARAMETER_SET_NAMES) {
    describe(name, function () {
      // Layouts a parameter set cannot mask are refused there (fhe-masking.test.ts); every other one is evaluated.
      for (const layout of LAYOUTS.filter((l) => !layoutProblem(l, name))) {
        it(`${layout}: decrypts T = w·x + b within 1e-5 for every record of a full job`, function () {
          const { f, keys, cipher, dispose } = materialFor(name, layout);
          try {
            const random = prng(1000 + LAYOUTS.indexOf(layout) + 17 * PARAMETER_SET_NAMES.indexOf(name));
            const capacity = layoutCapacity(layout, name);
            const jobs = layout === "single-record" ? 12 : 1;
            let checked = 0;
            for (let job = 0; job < jobs; job++) {
              const n = layout === "single-record" ? 1 + (job % 16) : 13;
              const tuples = Array.from({ length: capacity }, () => Array.from({ length: n }, () => (random() * 2 - 1) * 5));
              const weights = Array.from({ length: n }, () => (random() * 2 - 1) * 1.5);
              const bias = (random() * 2 - 1) * 2;
              const record = cipher.encryptRecords(layout, tuples);
              const result = f.engine.evaluateLinearBatch(keys, record, weights, bias, binding);
              const decrypted = cipher.decryptBatch(result);
              expect(decrypted.layout).to.equal(layout);
              expect(decrypted.stage).to.equal("linear");
              expect(decrypted.values).to.have.length(capacity);
              tuples.forEach((x, r) => expectClose(decrypted.values[r]!, dot(weights, x, bias), 1e-5, `${layout} record ${r}`));
              checked += capacity;
            }
            expect(checked).to.be.at.least(12);
          } finally {
            dispose();
          }
        });

        it(`${layout}: keeps T exact at the edge of the bounds (|x| = 32, |T| = 1000 in every record)`, function () {
          const { f, keys, cipher, dispose } = materialFor(name, layout);
          try {
            const capacity = layoutCapacity(layout, name);
            const x = Array.from({ length: 13 }, (_, i) => (i % 2 === 0 ? 32 : -32));
            const weights = x.map((v) => (Math.sign(v) * 1000) / 32 / 13);
            // Alternate T = +1000 and -1000 across records (the negated tuple flips the sign).
            const tuples = Array.from({ length: capacity }, (_, r) => (r % 2 === 0 ? x : x.map((v) => -v)));
            const { values } = cipher.decryptBatch(f.engine.evaluateLinearBatch(keys, cipher.encryptRecords(layout, tuples), weights, 0, binding));
            values.forEach((v, r) => expectClose(v, r % 2 === 0 ? 1000 : -1000, 1e-4, `record ${r}`));
          } finally {
            dispose();
          }
        });
      }

      it("evaluates partial jobs (fewer records than the layout holds)", function () {
        const partial = ([["packed-records", 3], ["feature-major", 5]] as const).filter(([layout]) => !layoutProblem(layout, name));
        expect(partial.length).to.be.at.least(1);
        for (const [layout, count] of partial) {
          const { f, keys, cipher, dispose } = materialFor(name, layout);
          try {
            const random = prng(count);
            const tuples = Array.from({ length: count }, () => Array.from({ length: 4 }, () => random() * 4 - 2));
            const weights = [0.5, -1.5, 2, 0.25];
            const record = cipher.encryptRecords(layout, tuples);
            expect(f.engine.readRecordsHeader(record)).to.deep.equal({
              parameterSet: name,
              layout,
              values: 4,
              records: count,
              patient: TEST_PATIENT,
              keyBundle: contentHash((layout === "feature-major" ? f.featureMajor : f.rotation).keyBundle),
            });
            const result = f.engine.evaluateLinearBatch(keys, record, weights, -0.75, binding);
            expect(f.engine.readJobResultHeader(result)).to.deep.equal({ parameterSet: name, layout, stage: "linear", records: count, ...binding });
            const { values } = cipher.decryptBatch(result);
            expect(values).to.have.length(count);
            tuples.forEach((x, r) => expectClose(values[r]!, dot(weights, x, -0.75), 1e-5, `record ${r}`));
          } finally {
            dispose();
          }
        }
      });

      it("single-record through the batch API is the original format, byte for byte", function () {
        const { engine, cipher, rotation, rotationKeys } = fixtures.get(name)!;
        const tuple = [0.5, -1.25, 2, 4.75, -4.9];
        const weights = [0.2, -0.7, 0.55, 0.17, 0.37];
        const viaBatch = cipher.encryptRecords("single-record", [tuple]);
        expect(engine.readRecordHeader(viaBatch)).to.deep.equal({
          parameterSet: name,
          layout: "single-record",
          values: 5,
          patient: TEST_PATIENT,
          keyBundle: contentHash(rotation.keyBundle),
        });
        const oldKeys = engine.openKeyBundle(rotation.keyBundle);
        try {
          const old = engine.evaluateLinear(oldKeys, viaBatch, weights, 0.1, binding);
          const batch = engine.evaluateLinearBatch(rotationKeys, viaBatch, weights, 0.1, binding);
          expect(equalBytes(old, batch)).to.equal(true);
          expect(engine.readResultHeader(batch)).to.deep.equal({ parameterSet: name, stage: "linear", slot: 0, ...binding });
          const { value } = cipher.decryptResult(batch);
          expect(cipher.decryptBatch(batch).values).to.deep.equal([value]);
          expectClose(value, dot(weights, tuple, 0.1), 1e-5);
        } finally {
          oldKeys.dispose();
        }
      });

      it("the original API works on this parameter set", function () {
        const { engine, cipher, rotation } = fixtures.get(name)!;
        const keys = engine.openKeyBundle(rotation.keyBundle);
        try {
          const random = prng(77);
          for (let k = 0; k < 5; k++) {
            const tuple = Array.from({ length: 13 }, () => (random() * 2 - 1) * 5);
            const weights = Array.from({ length: 13 }, () => (random() * 2 - 1) * 1.5);
            const { value } = cipher.decryptResult(engine.evaluateLinear(keys, cipher.encryptTuple(tuple), weights, 0.3, binding));
            expectClose(value, dot(weights, tuple, 0.3), 1e-5);
          }
        } finally {
          keys.dispose();
        }
      });

      it("keeps the old single-record readers strict: batch records and results are refused", function () {
        const { engine, rotationKeys } = fixtures.get(name)!;
        const layout = chooseLayout(2, 2, name);
        const { cipher, dispose } = materialFor(name, layout);
        const record = cipher.encryptRecords(layout, [[1, 2], [3, 4]]);
        expectFheError(() => engine.readRecordHeader(record), "MalformedRecord", /layout/);
        const result = engine.evaluateLinearBatch(rotationKeys, record, [1, 1], 0, binding);
        expectFheError(() => engine.readResultHeader(result), "MalformedResult");
        expectFheError(() => cipher.decryptResult(result), "MalformedResult");
        const keys = engine.openKeyBundle(fixtures.get(name)!.rotation.keyBundle);
        try {
          expectFheError(() => engine.evaluateLinear(keys, record, [1, 1], 0, binding), "MalformedRecord");
        } finally {
          keys.dispose();
          dispose();
        }
      });
    });
  }

  describe("key bundles per layout", function () {
    it("makes Galois keys only for the steps a layout needs: none at all for feature-major", function () {
      for (const name of PARAMETER_SET_NAMES) {
        const { engine, rotation, featureMajor } = fixtures.get(name)!;
        const rot = decodeEnvelope(rotation.keyBundle, "key-bundle");
        const fm = decodeEnvelope(featureMajor.keyBundle, "key-bundle");
        expect(rot.header).to.deep.equal({ parameterSet: name, galoisSteps: [...LINEAR_ROTATION_STEPS], patient: TEST_PATIENT });
        expect(engine.readKeyBundleHeader(rotation.keyBundle)).to.deep.equal(rot.header);
        expect([...rot.sections.keys()]).to.deep.equal(["publicKey", "galoisKeys"]);
        expect(fm.header).to.deep.equal({ parameterSet: name, galoisSteps: [], patient: TEST_PATIENT });
        expect([...fm.sections.keys()]).to.deep.equal(["publicKey"]);
        // The feature-major bundle is the public key alone: a small fraction of the rotation bundle.
        expect(featureMajor.keyBundle.length).to.be.lessThan(rotation.keyBundle.length / 2);
        expect(fixtures.get(name)!.featureMajorKeys.galoisKeys).to.equal(undefined);
        expect(layoutRotationSteps("feature-major")).to.deep.equal([]);
        expect(layoutRotationSteps("single-record")).to.deep.equal([1, 2, 4, 8]);
        expect(layoutRotationSteps("packed-records")).to.deep.equal([1, 2, 4, 8]);
        // The rotation bundle stays readable by the original loader; the feature-major one has nothing it needs.
        engine.openKeyBundle(rotation.keyBundle).dispose();
        expectFheError(() => engine.openKeyBundle(featureMajor.keyBundle), "MalformedKeyBundle", /galoisKeys/);
      }
    });

    it("makes the single-record and packed-records bundles in the original format", function () {
      const { engine } = fixtures.get("ckks-n8192-d3")!;
      for (const layout of ["single-record", "packed-records"] as const) {
        const made = decodeEnvelope(engine.generateKeySetFor(layout, { patient: TEST_PATIENT }).keyBundle, "key-bundle");
        const original = decodeEnvelope(engine.generateKeySet({ patient: TEST_PATIENT }).keyBundle, "key-bundle");
        expect(made.header).to.deep.equal(original.header);
        expect([...made.sections.keys()]).to.deep.equal([...original.sections.keys()]);
      }
    });

    it("refuses rotation layouts with a bundle that has no Galois keys", function () {
      for (const name of PARAMETER_SET_NAMES) {
        const { engine, cipher, featureMajorKeys } = fixtures.get(name)!;
        if (!layoutProblem("packed-records", name)) {
          const packed = cipher.encryptRecords("packed-records", [[1, 2], [3, 4]]);
          expectFheError(() => engine.evaluateLinearBatch(featureMajorKeys, packed, [1, 1], 0, binding), "ParameterMismatch", /1,2,4,8/);
        }
        const single = cipher.encryptRecords("single-record", [[1, 2]]);
        expectFheError(() => engine.evaluateLinearBatch(featureMajorKeys, single, [1, 1], 0, binding), "ParameterMismatch", /1,2,4,8/);
      }
    });

    it("a rotation bundle also serves feature-major jobs (its Galois keys go unused)", function () {
      const { engine, cipher, rotationKeys } = fixtures.get("ckks-n4096-linear")!;
      const tuples = [[1, 2, 3], [-1, 0.5, 2]];
      const { values } = cipher.decryptBatch(engine.evaluateLinearBatch(rotationKeys, cipher.encryptRecords("feature-major", tuples), [0.5, 0.25, -1], 1, binding));
      tuples.forEach((x, r) => expectClose(values[r]!, dot([0.5, 0.25, -1], x, 1), 1e-5));
    });
  });

  describe("chooseLayout", function () {
    it("picks single-record for one record, packed-records up to slots/16, feature-major beyond", function () {
      expect(chooseLayout(1, 13)).to.equal("single-record");
      expect(chooseLayout(2, 13)).to.equal("packed-records");
      expect(chooseLayout(256, 13)).to.equal("packed-records");
      expect(chooseLayout(257, 13)).to.equal("feature-major");
      expect(chooseLayout(4096, 13)).to.equal("feature-major");
      // ckks-n4096-linear cannot mask packed results: every batch is feature-major there.
      expect(chooseLayout(1, 13, "ckks-n4096-linear")).to.equal("single-record");
      expect(chooseLayout(2, 13, "ckks-n4096-linear")).to.equal("feature-major");
      expect(chooseLayout(128, 13, "ckks-n4096-linear")).to.equal("feature-major");
      expect(chooseLayout(129, 13, "ckks-n4096-linear")).to.equal("feature-major");
      expect(chooseLayout(2048, 16, "ckks-n4096-linear")).to.equal("feature-major");
      // One feature: one ciphertext either way, and feature-major needs no rotations.
      expect(chooseLayout(50, 1)).to.equal("feature-major");
      expect(chooseLayout(1, 1)).to.equal("single-record");
    });

    it("agrees with the capacities and refuses jobs that do not fit one job", function () {
      expect(layoutCapacity("single-record")).to.equal(1);
      expect(layoutCapacity("packed-records")).to.equal(256);
      expect(layoutCapacity("feature-major")).to.equal(4096);
      expect(layoutCapacity("packed-records", "ckks-n4096-linear")).to.equal(128);
      expectFheError(() => chooseLayout(4097, 13), "MalformedRecord", /split/);
      expectFheError(() => chooseLayout(2049, 13, "ckks-n4096-linear"), "MalformedRecord", /split/);
      expectFheError(() => chooseLayout(0, 13), "MalformedRecord");
      expectFheError(() => chooseLayout(1.5, 13), "MalformedRecord");
      expectFheError(() => chooseLayout(10, 0), "MalformedRecord");
      expectFheError(() => chooseLayout(10, 257), "MalformedRecord", /1\.\.256 values, got 257/);
      expectFheError(() => chooseLayout(10, 129, "ckks-n4096-linear"), "MalformedRecord", /1\.\.128 values, got 129/);
      // Wider tuples take a wider stride, so fewer of them share a packed ciphertext.
      expect(layoutCapacity("packed-records", "ckks-n8192-d3", 17)).to.equal(128);
      expect(layoutCapacity("packed-records", "ckks-n8192-d3", 256)).to.equal(16);
      expect(chooseLayout(16, 256)).to.equal("packed-records");
      expect(chooseLayout(17, 256)).to.equal("feature-major");
    });
  });

  describe("client-side validation of batch encryption", function () {
    it("refuses wrong record counts, ragged tuples, out-of-bound and non-finite values", function () {
      const { cipher } = fixtures.get("ckks-n8192-d3")!;
      const small = fixtures.get("ckks-n4096-linear")!.cipher;
      expectFheError(() => cipher.encryptRecords("packed-records", []), "MalformedRecord", /1\.\.256/);
      expectFheError(() => cipher.encryptRecords("packed-records", Array.from({ length: 257 }, () => [1])), "MalformedRecord", /got 257/);
      expectFheError(() => small.encryptRecords("feature-major", Array.from({ length: 2049 }, () => [1])), "MalformedRecord", /got 2049/);
      expectFheError(() => small.encryptRecords("single-record", [[1], [2]]), "MalformedRecord", /got 2/);
      expectFheError(() => cipher.encryptRecords("packed-records", [[1, 2], [3]]), "MalformedRecord", /record 1 holds 1/);
      expectFheError(() => cipher.encryptRecords("packed-records", [Array.from({ length: 257 }, () => 0)]), "MalformedRecord", /got 257/);
      expectFheError(() => cipher.encryptRecords("packed-records", Array.from({ length: 17 }, () => Array.from({ length: 256 }, () => 0))), "MalformedRecord", /256-value tuples holds 1\.\.16 records, got 17/);
      expectFheError(() => small.encryptRecords("feature-major", [[]]), "MalformedRecord", /got 0/);
      expectFheError(() => small.encryptRecords("feature-major", [[1, 2], [3, 32.5]]), "MalformedRecord", /record 1 value 1 is 32.5/);
      expectFheError(() => cipher.encryptRecords("packed-records", [[1, Number.NaN]]), "MalformedRecord", /finite/);
      expectFheError(() => small.encryptRecords("single-record", [[Number.POSITIVE_INFINITY]]), "MalformedRecord", /finite/);
      // The client refuses to make what the server would refuse (see fhe-masking.test.ts).
      expectFheError(() => small.encryptRecords("packed-records", [[1, 2], [3, 4]]), "ParameterMismatch", /feature-major/);
    });

    it("writes one ciphertext per feature for feature-major, named in order", function () {
      const { cipher, rotation } = fixtures.get("ckks-n4096-linear")!;
      const record = cipher.encryptRecords("feature-major", [[1, 2, 3]]);
      const envelope = decodeEnvelope(record, "record");
      expect([...envelope.sections.keys()]).to.deep.equal([0, 1, 2].map(featureSectionName));
      expect(envelope.header).to.deep.equal({
        parameterSet: "ckks-n4096-linear",
        layout: "feature-major",
        values: 3,
        records: 1,
        patient: TEST_PATIENT,
        keyBundle: contentHash(rotation.keyBundle),
      });
    });

    it("refuses a model that cannot be evaluated exactly, or has no usable weight", function () {
      const { engine, cipher, rotationKeys } = fixtures.get("ckks-n8192-d3")!;
      const record = cipher.encryptRecords("packed-records", [[1, 2], [3, 4]]);
      expectFheError(() => engine.evaluateLinearBatch(rotationKeys, record, [40, 1], 0, binding), "ParameterMismatch", /exact range 1000/);
      expectFheError(() => engine.evaluateLinearBatch(rotationKeys, record, [1, Number.NaN], 0, binding), "ParameterMismatch", /finite/);
      expectFheError(() => engine.evaluateLinearBatch(rotationKeys, record, [1, 1, 1], 0, binding), "ParameterMismatch", /2 values.*3 weights/);
      expectFheError(() => engine.evaluateLinearBatch(rotationKeys, record, [0, 0], 1, binding), "ParameterMismatch", /no weight/);
    });
  });
});
