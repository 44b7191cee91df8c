import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import {
  CkksEngine,
  EvaluationKeys,
  LINEAR_ROTATION_STEPS,
  type KeySet,
  type PatientCipher,
  type ResultHeader,
} from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { contentHash } from "../../protocol/hash.js";
import { mulberry32 as prng } from "../../hospital/split.js";
import { bindingOf, dot, expectFheError as expectCodedFheError, headerEnd, openCipher, SealProbe, TEST_PATIENT } from "../helpers/fhe.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

function logistic(t: number): number {
  return 1 / (1 + Math.exp(-t));
}

/** The shared check, plus the code prefix the engine puts on every message. */
function expectFheError(fn: () => unknown, code: FheErrorCode, message?: RegExp): FheError {
  const err = expectCodedFheError(fn, code, message);
  expect(err.message.startsWith(`${code}: `)).to.equal(true);
  return err;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

interface RawModel {
  features: { name: string; mean: number; std: number }[];
  server: { weights: number[]; bias: number };
}

const binding = {
  jobId: "42",
  recordHash: `0x${"ab".repeat(32)}`,
  modelHash: `0x${"cd".repeat(32)}`,
} as const satisfies Pick<ResultHeader, "jobId" | "recordHash" | "modelHash">;

describe("CkksEngine (node-seal CKKS)", function () {
  let engine: CkksEngine;
  let keySet: KeySet;
  let cipher: PatientCipher;
  let keys: EvaluationKeys;

  // A fixed 13-value tuple and model used by the rejection and determinism tests.
  const tuple = [0.5, -1.25, 2, 4.75, -4.9, 0, 1e-3, -0.3, 3.3, -2.2, 1.1, 0.05, -5];
  const weights = [0.2, -0.7, 0.55, 0.17, 0.37, -0.18, 0.21, -0.33, 0.36, 0.53, 0.19, 1.09, 0.71];
  const bias = -0.29;
  let record: Uint8Array;
  let result: Uint8Array;

  before(async function () {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    keySet = engine.generateKeySet({ patient: TEST_PATIENT });
    cipher = openCipher(engine, keySet);
    keys = engine.openKeyBundle(keySet.keyBundle);
    record = cipher.encryptTuple(tuple);
    result = engine.evaluateLinear(keys, record, weights, bias, binding);
  });

  after(function () {
    keys?.dispose();
    cipher?.dispose();
    engine?.dispose();
  });

  describe("linear evaluation under encryption", function () {
    it("decrypts T = w·x + b within 1e-5 for varied tuples, weights and biases", function () {
      const random = prng(20240607);
      const cases: { values: number[]; weights: number[]; bias: number }[] = [
        { values: tuple, weights, bias },
        // all-negative values at the edge of the stated magnitude
        { values: Array.from({ length: 13 }, (_, i) => -5 + i * 0.01), weights: weights.map((w) => -w), bias: 1.5 },
        // a single feature and the full 16-value window
        { values: [-4.2], weights: [1.75], bias: 0.125 },
        { values: Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 1 : -1) * (i / 3)), weights: Array.from({ length: 16 }, (_, i) => 0.1 * (i + 1)), bias: 0 },
      ];
      for (let k = 0; k < 4; k++) {
        const n = 13;
        cases.push({
          values: Array.from({ length: n }, () => (random() * 2 - 1) * 5),
          weights: Array.from({ length: n }, () => (random() * 2 - 1) * 1.5),
          bias: (random() * 2 - 1) * 2,
        });
      }
      for (const c of cases) {
        const expected = dot(c.weights, c.values, c.bias);
        const rec = cipher.encryptTuple(c.values);
        const res = engine.evaluateLinear(keys, rec, c.weights, c.bias, binding);
        const { value } = cipher.decryptResult(res);
        expect(Math.abs(value - expected), `T=${expected}, decrypted ${value}`).to.be.lessThan(1e-5);
      }
    });

    it("reproduces the committed model's probability on rows of data/statlog_heart.csv within 1e-6", function () {
      const model = JSON.parse(readFileSync(join(root, "models", "statlog-heart-logreg.v1.json"), "utf8")) as RawModel;
      const lines = readFileSync(join(root, "data", "statlog_heart.csv"), "utf8").trim().split(/\r?\n/);
      const columns = lines[0]!.split(",");
      const rows = [1, 2, 3, 50, 150, 270].map((i) => lines[i]!.split(",").map(Number));
      expect(model.features).to.have.length(13);
      for (const row of rows) {
        const values = model.features.map((f) => {
          const column = columns.indexOf(f.name);
          expect(column, f.name).to.be.at.least(0);
          return (row[column]! - f.mean) / f.std;
        });
        const expectedT = dot(model.server.weights, values, model.server.bias);
        const res = engine.evaluateLinear(keys, cipher.encryptTuple(values), model.server.weights, model.server.bias, binding);
        const { value } = cipher.decryptResult(res);
        expect(Math.abs(value - expectedT)).to.be.lessThan(1e-5);
        expect(Math.abs(logistic(value) - logistic(expectedT))).to.be.lessThan(1e-6);
      }
    });

    it("keeps T exact across the whole range the bounds allow (|x| = 32, |T| = 1000)", function () {
      for (const sign of [-1, 1]) {
        const values = Array.from({ length: 13 }, (_, i) => (i % 2 === 0 ? 32 : -32));
        // sum|w| * 32 = 1000: the largest model the engine accepts, fed the largest tuple a client sends.
        const w = values.map((v) => (sign * Math.sign(v) * 1000) / 32 / 13);
        const { value } = cipher.decryptResult(engine.evaluateLinear(keys, cipher.encryptTuple(values), w, 0, binding));
        expect(Math.abs(value - sign * 1000), `T=${sign * 1000}`).to.be.lessThan(1e-4);
      }
    });

    it("refuses, rather than silently wrapping, tuples and models beyond the exact range", function () {
      // Unbounded, 0.3698 * 2.7e6 decrypted as about -1603 (the last-level modulus wraps): now refused up front.
      const huge = [2_700_000, ...Array.from({ length: 12 }, () => 0)];
      expectFheError(() => cipher.encryptTuple(huge), "MalformedRecord", /outside ±32/);
      expectFheError(() => cipher.encryptTuple([32.5]), "MalformedRecord", /outside ±32/);
      const tooLarge = weights.map((w, i) => (i === 0 ? 40 : w));
      expectFheError(() => engine.evaluateLinear(keys, record, tooLarge, bias, binding), "ParameterMismatch", /above the exact range 1000/);
      expectFheError(() => engine.evaluateLinear(keys, record, weights, Number.NaN, binding), "ParameterMismatch", /finite/);
    });

    it("is deterministic: the same record and binding give byte-identical results", function () {
      const again = engine.evaluateLinear(keys, record, weights, bias, binding);
      expect(equalBytes(again, result)).to.equal(true);
    });

    it("a different binding changes the bytes but not the ciphertext or the decrypted value", function () {
      const other = engine.evaluateLinear(keys, record, weights, bias, { ...binding, jobId: "43" });
      expect(equalBytes(other, result)).to.equal(false);
      expect(engine.readResultHeader(other).jobId).to.equal("43");
      const a = decodeEnvelope(result, "result").sections.get("ciphertext")!;
      const b = decodeEnvelope(other, "result").sections.get("ciphertext")!;
      expect(equalBytes(a, b)).to.equal(true);
      expect(cipher.decryptResult(other).value).to.equal(cipher.decryptResult(result).value);
    });

    it("encrypting the same tuple twice gives different records (fresh randomness) that evaluate to the same T", function () {
      const second = cipher.encryptTuple(tuple);
      expect(equalBytes(second, record)).to.equal(false);
      const expected = dot(weights, tuple, bias);
      const value = cipher.decryptResult(engine.evaluateLinear(keys, second, weights, bias, binding)).value;
      expect(Math.abs(value - expected)).to.be.lessThan(1e-5);
    });

    it("keeps record, result and key bundle within their size targets", function () {
      expect(record.length).to.be.lessThan(220_000);
      expect(result.length).to.be.lessThan(120_000);
      expect(keySet.keyBundle.length).to.be.lessThan(5_000_000);
    });

    it("puts the binding, the stage and slot 0 in the result header", function () {
      const expected = { parameterSet: DEFAULT_PARAMETER_SET, stage: "linear", slot: 0, ...binding };
      expect(engine.readResultHeader(result)).to.deep.equal(expected);
      expect(cipher.decryptResult(result).header).to.deep.equal(expected);
      expect(engine.readRecordHeader(record)).to.deep.equal({
        parameterSet: DEFAULT_PARAMETER_SET,
        layout: "single-record",
        values: 13,
        patient: TEST_PATIENT,
        keyBundle: contentHash(keySet.keyBundle),
      });
    });

    it("a different secret key does not decrypt the result to T", function () {
      const otherKeys = engine.generateKeySet({ patient: TEST_PATIENT });
      const otherCipher = openCipher(engine, otherKeys);
      try {
        const expected = dot(weights, tuple, bias);
        const { value } = otherCipher.decryptResult(result);
        expect(Math.abs(value - expected)).to.be.greaterThan(1);
      } finally {
        otherCipher.dispose();
      }
    });
  });

  describe("rejection of bad input", function () {
    it("refuses truncated records as MalformedRecord", function () {
      for (const cut of [0, 5, 8, 9, 20, headerEnd(record), Math.floor(record.length / 2), record.length - 1]) {
        expectFheError(() => engine.evaluateLinear(keys, record.subarray(0, cut), weights, bias, binding), "MalformedRecord");
        expectFheError(() => engine.readRecordHeader(record.subarray(0, cut)), "MalformedRecord");
      }
    });

    it("refuses a record whose header names an unknown parameter set", function () {
      const ct = decodeEnvelope(record, "record").sections.get("ciphertext")!;
      const bad = encodeEnvelope("record", { ...engine.readRecordHeader(record), parameterSet: "ckks-n16384-d9" }, [["ciphertext", ct]]);
      expectFheError(() => engine.evaluateLinear(keys, bad, weights, bias, binding), "MalformedRecord", /parameterSet/);
    });

    it("refuses a record whose value count differs from the number of weights", function () {
      expectFheError(() => engine.evaluateLinear(keys, record, weights.slice(0, 12), bias, binding), "ParameterMismatch", /13 values.*12 weights/);
      expectFheError(() => engine.evaluateLinear(keys, record, [...weights, 0.5], bias, binding), "ParameterMismatch", /13 values.*14 weights/);
    });

    it("refuses record headers with out-of-range values, another layout, extra fields or no ciphertext section", function () {
      const ct = decodeEnvelope(record, "record").sections.get("ciphertext")!;
      const base: Record<string, unknown> = { ...engine.readRecordHeader(record) };
      const variants: [Record<string, unknown>, [string, Uint8Array][]][] = [
        [{ ...base, values: 0 }, [["ciphertext", ct]]],
        [{ ...base, values: 257 }, [["ciphertext", ct]]],
        [{ ...base, values: 12.5 }, [["ciphertext", ct]]],
        [{ ...base, layout: "batched" }, [["ciphertext", ct]]],
        [{ ...base, extra: true }, [["ciphertext", ct]]],
        [{ ...base, values: undefined }, [["ciphertext", ct]]],
        [{ ...base, patient: undefined }, [["ciphertext", ct]]],
        [{ ...base, keyBundle: undefined }, [["ciphertext", ct]]],
        [{ ...base, patient: `0x${TEST_PATIENT.slice(2).toUpperCase()}` }, [["ciphertext", ct]]],
        [{ ...base, keyBundle: "0x1234" }, [["ciphertext", ct]]],
        [{ ...base, round: 1 }, [["ciphertext", ct]]],
        [base, [["payload", ct]]],
        [base, []],
      ];
      for (const [header, sections] of variants) {
        const bad = encodeEnvelope("record", header, sections);
        expectFheError(() => engine.evaluateLinear(keys, bad, weights, bias, binding), "MalformedRecord");
      }
    });

    it("refuses a record whose ciphertext keeps fewer primes than the job needs (a result's ciphertext, at the last level)", function () {
      const resultCt = decodeEnvelope(result, "result").sections.get("ciphertext")!;
      const bad = encodeEnvelope("record", engine.readRecordHeader(record), [["ciphertext", resultCt]]);
      expectFheError(() => engine.evaluateLinear(keys, bad, weights, bias, binding), "MalformedRecord", /keeps 1 of the parameter set's primes, and this job needs at least 2/);
    });

    it("refuses blobs of the wrong kind with a message naming both kinds", function () {
      expectFheError(() => engine.evaluateLinear(keys, keySet.keyBundle, weights, bias, binding), "MalformedRecord", /expected a record blob, got "key-bundle"/);
      expectFheError(() => engine.evaluateLinear(keys, result, weights, bias, binding), "MalformedRecord", /got "result"/);
      expectFheError(() => cipher.decryptResult(record), "MalformedResult", /expected a result blob, got "record"/);
      expectFheError(() => engine.openKeyBundle(record), "MalformedKeyBundle", /expected a key-bundle blob, got "record"/);
      expectFheError(() => engine.readResultHeader(record), "MalformedResult");
      expectFheError(() => engine.readRecordHeader(result), "MalformedRecord");
    });

    it("refuses garbage bytes everywhere", function () {
      const random = prng(7);
      const garbage = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
      expectFheError(() => engine.evaluateLinear(keys, garbage, weights, bias, binding), "MalformedRecord", /magic/);
      expectFheError(() => cipher.decryptResult(garbage), "MalformedResult");
      expectFheError(() => engine.openKeyBundle(garbage), "MalformedKeyBundle");
      const owner = bindingOf(engine, keySet);
      expectFheError(() => engine.openSecretKey(garbage, owner), "MalformedSecretKey");
      expectFheError(() => engine.openSecretKey(new Uint8Array(0), owner), "MalformedSecretKey");
      expectFheError(() => engine.openSecretKey(keySet.keyBundle, owner), "MalformedSecretKey");
    });

    it("refuses a key bundle whose Galois section is corrupted in the middle of the zstd stream", function () {
      const galois = decodeEnvelope(keySet.keyBundle, "key-bundle").sections.get("galoisKeys")!;
      const start = galois.byteOffset - keySet.keyBundle.byteOffset + Math.floor(galois.length / 2);
      for (const fill of [0x00, 0xff]) {
        const bad = keySet.keyBundle.slice();
        bad.fill(fill, start, start + 64);
        expectFheError(() => engine.openKeyBundle(bad), "MalformedKeyBundle", /Galois/);
      }
      const cut = keySet.keyBundle.slice();
      // Same length, but the section is replaced by its first half followed by zeros.
      cut.fill(0, start);
      expectFheError(() => engine.openKeyBundle(cut), "MalformedKeyBundle");
    });

    it("refuses key bundles with a bad header or missing Galois section", function () {
      const sections = decodeEnvelope(keySet.keyBundle, "key-bundle").sections;
      const publicKey = sections.get("publicKey")!;
      const galois = sections.get("galoisKeys")!;
      const steps = [...LINEAR_ROTATION_STEPS];
      const header = { parameterSet: DEFAULT_PARAMETER_SET, galoisSteps: steps, patient: TEST_PATIENT };
      const both: [string, Uint8Array][] = [["publicKey", publicKey], ["galoisKeys", galois]];
      // The intact pieces re-wrapped are accepted: each variant below fails for its one defect.
      engine.openKeyBundle(encodeEnvelope("key-bundle", header, both)).dispose();
      const variants = [
        encodeEnvelope("key-bundle", { ...header, parameterSet: "ckks-n4096-d1" }, both),
        encodeEnvelope("key-bundle", { ...header, galoisSteps: undefined }, both),
        encodeEnvelope("key-bundle", { ...header, galoisSteps: [1.5] }, both),
        encodeEnvelope("key-bundle", { ...header, patient: undefined }, both),
        encodeEnvelope("key-bundle", { ...header, patient: "0x1234" }, both),
        encodeEnvelope("key-bundle", { ...header, patient: `0x${TEST_PATIENT.slice(2).toUpperCase()}` }, both),
        encodeEnvelope("key-bundle", header, [["publicKey", publicKey]]),
        encodeEnvelope("key-bundle", header, [["galoisKeys", galois], ["publicKey", publicKey]]),
        // the public key is a valid SEAL object, but not Galois keys
        encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", publicKey]]),
      ];
      for (const bad of variants) expectFheError(() => engine.openKeyBundle(bad), "MalformedKeyBundle");
    });

    it("refuses to evaluate with keys that lack a needed rotation step, and bundles whose keys lack a claimed one", function () {
      const probe = new SealProbe(engine, keySet.secretKey);
      try {
        // Keys that hold steps 1, 2, 4 only: the evaluation refuses them before any rotation.
        const loaded = engine.openKeyBundle(keySet.keyBundle);
        try {
          const partialView = new EvaluationKeys(loaded.galoisKeys, [1, 2, 4]);
          expectFheError(() => engine.evaluateLinear(partialView, record, weights, bias, binding), "ParameterMismatch", /\b8\b/);
        } finally {
          loaded.dispose();
        }

        // A bundle that claims steps 1, 2, 4 is not a bundle of any layout.
        const publicKey = decodeEnvelope(keySet.keyBundle, "key-bundle").sections.get("publicKey")!;
        const partialGalois = probe.galoisKeys([1, 2, 4]);
        const partial = encodeEnvelope("key-bundle", { parameterSet: DEFAULT_PARAMETER_SET, galoisSteps: [1, 2, 4], patient: TEST_PATIENT }, [["publicKey", publicKey], ["galoisKeys", partialGalois]]);
        expectFheError(() => engine.openKeyBundle(partial), "MalformedKeyBundle", /rotation steps \[1,2,4\]/);

        // A bundle whose header claims step 8 while its Galois keys lack it must still fail cleanly.
        const lying = encodeEnvelope(
          "key-bundle",
          { parameterSet: DEFAULT_PARAMETER_SET, galoisSteps: [1, 2, 4, 8], patient: TEST_PATIENT },
          [["publicKey", publicKey], ["galoisKeys", partialGalois]],
        );
        let lyingKeys: EvaluationKeys | undefined;
        try {
          expectCodedFheError(
            () => {
              lyingKeys = engine.openKeyBundle(lying);
              return engine.evaluateLinear(lyingKeys, record, weights, bias, binding);
            },
            "MalformedKeyBundle",
            /claims rotation steps 8/,
          );
        } finally {
          lyingKeys?.dispose();
        }
      } finally {
        probe.dispose();
      }
    });

    it("refuses tuples with no values, wider than the parameter set takes (256 here), or non-finite values", function () {
      expectFheError(() => cipher.encryptTuple([]), "MalformedRecord", /got 0/);
      expectFheError(() => cipher.encryptTuple(Array.from({ length: 257 }, () => 1)), "MalformedRecord", /1\.\.256 values, got 257/);
      expectFheError(() => cipher.encryptTuple([1, Number.NaN, 3]), "MalformedRecord", /finite/);
      expectFheError(() => cipher.encryptTuple([Number.POSITIVE_INFINITY]), "MalformedRecord", /finite/);
      expectFheError(() => cipher.encryptTuple([0, Number.NEGATIVE_INFINITY]), "MalformedRecord", /finite/);
    });

    it("refuses results that are truncated, name an unknown parameter set, or point at a slot out of range", function () {
      for (const cut of [0, 5, 20, Math.floor(result.length / 2), result.length - 1]) {
        expectFheError(() => cipher.decryptResult(result.subarray(0, cut)), "MalformedResult");
      }
      const ct = decodeEnvelope(result, "result").sections.get("ciphertext")!;
      const header = { parameterSet: DEFAULT_PARAMETER_SET, stage: "linear", slot: 0, ...binding };
      const reencoded = encodeEnvelope("result", header, [["ciphertext", ct]]);
      expect(cipher.decryptResult(reencoded).value).to.equal(cipher.decryptResult(result).value);
      const bad = [
        encodeEnvelope("result", { ...header, parameterSet: "ckks-n16384-d9" }, [["ciphertext", ct]]),
        encodeEnvelope("result", { ...header, slot: engine.params.slots }, [["ciphertext", ct]]),
        encodeEnvelope("result", { ...header, slot: -1 }, [["ciphertext", ct]]),
        encodeEnvelope("result", { ...header, stage: "sigmoid" }, [["ciphertext", ct]]),
        encodeEnvelope("result", { ...header, jobId: 42 }, [["ciphertext", ct]]),
        encodeEnvelope("result", header, [["ciphertext", ct.subarray(0, ct.length - 1)]]),
      ];
      for (const blob of bad) expectFheError(() => cipher.decryptResult(blob), "MalformedResult");
    });

    it("survives 100+ corrupted records: each throws an FheError or, for payload damage zstd accepts, returns a result", function () {
      const random = prng(99);
      const end = headerEnd(record);
      const ctStart = end;
      const isJsonWhitespace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
      const variants: { kind: "truncate" | "header" | "append" | "payload"; bytes: Uint8Array }[] = [];

      for (let i = 0; i < 40; i++) {
        variants.push({ kind: "truncate", bytes: record.slice(0, Math.floor(random() * record.length)) });
      }
      for (let i = 0; i < 45; i++) {
        const bytes = record.slice();
        const at = Math.floor(random() * end);
        let flipped: number;
        do {
          flipped = bytes[at]! ^ (1 + Math.floor(random() * 255));
          // Swapping one JSON whitespace byte for another leaves the same header, so it is not a corruption.
        } while (isJsonWhitespace(bytes[at]!) && isJsonWhitespace(flipped));
        bytes[at] = flipped;
        variants.push({ kind: "header", bytes });
      }
      for (let i = 0; i < 10; i++) {
        const extra = Uint8Array.from({ length: 1 + Math.floor(random() * 100) }, () => Math.floor(random() * 256));
        const bytes = new Uint8Array(record.length + extra.length);
        bytes.set(record);
        bytes.set(extra, record.length);
        variants.push({ kind: "append", bytes });
      }
      for (let i = 0; i < 20; i++) {
        const bytes = record.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const at = ctStart + Math.floor(random() * (record.length - ctStart));
          bytes[at] = bytes[at]! ^ (1 + Math.floor(random() * 255));
        }
        variants.push({ kind: "payload", bytes });
      }
      expect(variants.length).to.be.at.least(100);

      const threw = { truncate: 0, header: 0, append: 0, payload: 0 };
      let accepted = 0;
      let ownerFlips = 0;
      for (const { kind, bytes } of variants) {
        let out: Uint8Array | undefined;
        try {
          out = engine.evaluateLinear(keys, bytes, weights, bias, binding);
        } catch (err) {
          if (!(err instanceof FheError)) expect.fail(`${kind} corruption threw a non-FheError: ${String(err)}`);
          expect(["MalformedRecord", "ParameterMismatch"], `${kind}: ${err.message}`).to.include(err.code);
          threw[kind]++;
          continue;
        }
        expect(out).to.be.instanceOf(Uint8Array);
        if (kind === "header") {
          // A hex digit of the patient or key-bundle hash turned into another one: a valid header naming other
          // owners (which the coprocessor compares with the job); nothing else in the header may change silently.
          const { patient, keyBundle, ...rest } = engine.readRecordHeader(bytes);
          expect(rest).to.deep.equal({ parameterSet: DEFAULT_PARAMETER_SET, layout: "single-record", values: 13 });
          expect(patient !== TEST_PATIENT || keyBundle !== contentHash(keySet.keyBundle)).to.equal(true);
          ownerFlips++;
          continue;
        }
        expect(kind, "only payload damage may produce a result").to.equal("payload");
        accepted++;
      }
      expect(threw.truncate).to.equal(40);
      expect(threw.header + ownerFlips).to.equal(45);
      expect(threw.header).to.be.at.least(35);
      expect(threw.append).to.equal(10);
      expect(threw.payload + accepted).to.equal(20);

      // The WASM module is still healthy afterwards.
      const value = cipher.decryptResult(engine.evaluateLinear(keys, record, weights, bias, binding)).value;
      expect(Math.abs(value - dot(weights, tuple, bias))).to.be.lessThan(1e-5);
    });
  });
});
