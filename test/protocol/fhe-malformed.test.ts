import { expect } from "chai";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import {
  CkksEngine,
  featureSectionName,
  type KeySet,
  type LayoutEvaluationKeys,
  type PatientCipher,
  type ResultBinding,
} from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import type { Layout } from "../../protocol/fhe/layouts.js";
import { sealHeapBytes } from "../../protocol/fhe/runtime.js";
import { sealBytesProblem } from "../../protocol/fhe/serialized.js";
import { fitSigmoidPolynomial } from "../../protocol/fhe/sigmoid.js";
import { expectClose } from "../helpers/close.js";
import { mulberry32 as prng } from "../../hospital/split.js";
import { expectFheError, fheErrorOf, headerEnd, openCipher, TEST_PATIENT } from "../helpers/fhe.js";


const isJsonWhitespace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** A SEAL header (16 bytes) followed by `payload`, claiming the right total size unless told otherwise. */
function sealBlob(payload: Uint8Array, mode = 2, size?: number): Uint8Array {
  const out = new Uint8Array(16 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xa15e, true);
  out[2] = 16;
  out[3] = 4;
  out[4] = 1;
  out[5] = mode;
  view.setBigUint64(8, BigInt(size ?? out.length), true);
  out.set(payload, 16);
  return out;
}

/**
 * A zstd "bomb": a single-segment frame that declares a content size (by default a plausible one), then RLE blocks
 * of 128 KiB each (4 bytes apiece). 2,000 blocks are 8 KB of input and 256 MiB of output.
 */
function zstdBomb(blocks: number, declaredSize = 262_322): Uint8Array {
  const out = new Uint8Array(4 + 1 + 4 + blocks * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0b1010_0000; // FCS 4 bytes, single segment
  view.setUint32(5, declaredSize, true);
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    const header = last | (1 << 1) | (128 * 1024) << 3; // RLE block of 128 KiB
    const at = 9 + i * 4;
    out[at] = header & 0xff;
    out[at + 1] = (header >> 8) & 0xff;
    out[at + 2] = (header >> 16) & 0xff;
    out[at + 3] = 0x41;
  }
  return out;
}

/** The same frame with a window descriptor instead of a declared content size. */
function withoutContentSize(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length - 3);
  out.set(frame.subarray(0, 4));
  out[4] = 0b0000_0000; // no FCS, not single segment
  out[5] = 0x38; // window descriptor: 2^17
  out.set(frame.subarray(9), 6);
  return out;
}

const binding: ResultBinding = { jobId: "3", recordHash: `0x${"ee".repeat(32)}`, modelHash: `0x${"ff".repeat(32)}` };
const weights = [0.5, -0.25, 1.5, 0.75];
const bias = 0.125;
const tuples = [
  [1, 2, -1, 0.5],
  [-2, 0.25, 3, -1],
  [0, 0, 1, 1],
  [4, -3, 0.5, 2],
  [-1, -1, -1, -1],
];
const dot = (x: readonly number[]) => x.reduce((t, v, j) => t + v * weights[j]!, bias);

describe("CkksEngine refuses malformed inputs of every layout with named FheError codes", function () {
  let engine: CkksEngine;
  let small: CkksEngine;
  let rotation: KeySet;
  let featureMajor: KeySet;
  let rotationKeys: LayoutEvaluationKeys;
  let featureMajorKeys: LayoutEvaluationKeys;
  let rotationCipher: PatientCipher;
  let featureMajorCipher: PatientCipher;
  const records = new Map<Layout, Uint8Array>();
  const results = new Map<Layout, Uint8Array>();
  const polynomial = fitSigmoidPolynomial([-8, 8]);

  const keysFor = (layout: Layout) => (layout === "feature-major" ? featureMajorKeys : rotationKeys);
  const cipherFor = (layout: Layout) => (layout === "feature-major" ? featureMajorCipher : rotationCipher);

  before(async function () {
    engine = await CkksEngine.create("ckks-n8192-d3");
    small = await CkksEngine.create("ckks-n4096-linear");
    rotation = engine.generateKeySetFor("packed-records", { sigmoid: true, patient: TEST_PATIENT });
    featureMajor = engine.generateKeySetFor("feature-major", { sigmoid: true, patient: TEST_PATIENT });
    rotationKeys = engine.openEvaluationKeys(rotation.keyBundle);
    featureMajorKeys = engine.openEvaluationKeys(featureMajor.keyBundle);
    rotationCipher = openCipher(engine, rotation);
    featureMajorCipher = openCipher(engine, featureMajor);
    records.set("single-record", rotationCipher.encryptRecords("single-record", [tuples[0]!]));
    records.set("packed-records", rotationCipher.encryptRecords("packed-records", tuples));
    records.set("feature-major", featureMajorCipher.encryptRecords("feature-major", tuples));
    for (const [layout, record] of records) results.set(layout, engine.evaluateLinearBatch(keysFor(layout), record, weights, bias, binding));
  });

  after(function () {
    rotationKeys?.dispose();
    featureMajorKeys?.dispose();
    rotationCipher?.dispose();
    featureMajorCipher?.dispose();
    small?.dispose();
    engine?.dispose();
  });

  it("evaluates the intact records (the baseline the corruptions start from)", function () {
    for (const [layout, result] of results) {
      const { values } = cipherFor(layout).decryptBatch(result);
      values.forEach((v, r) => expectClose(v, dot(tuples[r]!), 1e-5, `${layout} record ${r}`));
    }
  });

  it("survives 300+ randomly corrupted records across the layouts and both stages: an FheError each, or a result for damage that stays well-formed", function () {
    const random = prng(31337);
    type Kind = "truncate" | "header" | "append" | "payload";
    let total = 0;
    let accepted = 0;
    const codes = new Map<string, number>();
    for (const layout of ["single-record", "packed-records", "feature-major"] as const) {
      const record = records.get(layout)!;
      const end = headerEnd(record);
      const variants: { kind: Kind; bytes: Uint8Array }[] = [];
      for (let i = 0; i < 30; i++) variants.push({ kind: "truncate", bytes: record.slice(0, Math.floor(random() * record.length)) });
      for (let i = 0; i < 30; i++) {
        const bytes = record.slice();
        const at = Math.floor(random() * end);
        let flipped: number;
        do flipped = bytes[at]! ^ (1 + Math.floor(random() * 255));
        while (isJsonWhitespace(bytes[at]!) && isJsonWhitespace(flipped));
        bytes[at] = flipped;
        variants.push({ kind: "header", bytes });
      }
      for (let i = 0; i < 10; i++) {
        const extra = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
        const bytes = new Uint8Array(record.length + extra.length);
        bytes.set(record);
        bytes.set(extra, record.length);
        variants.push({ kind: "append", bytes });
      }
      for (let i = 0; i < 30; i++) {
        const bytes = record.slice();
        for (let f = 0; f < 1 + Math.floor(random() * 4); f++) {
          const at = end + Math.floor(random() * (record.length - end));
          bytes[at] = bytes[at]! ^ (1 + Math.floor(random() * 255));
        }
        variants.push({ kind: "payload", bytes });
      }
      variants.forEach(({ kind, bytes }, i) => {
        // Alternate the stages so both circuits see every kind of damage.
        const sigmoid = i % 2 === 1;
        const started = performance.now();
        let out: Uint8Array | undefined;
        const err = fheErrorOf(() => {
          out = sigmoid
            ? engine.evaluateSigmoidPoly(keysFor(layout), bytes, weights, bias, polynomial, binding)
            : engine.evaluateLinearBatch(keysFor(layout), bytes, weights, bias, binding);
        });
        expect(performance.now() - started, `${layout} ${kind} ${i} took too long`).to.be.lessThan(10_000);
        total++;
        if (err) {
          expect(["MalformedRecord", "ParameterMismatch"], `${layout} ${kind}: ${err.message}`).to.include(err.code);
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          return;
        }
        // Damage that leaves a well-formed blob: payload bits zstd and SEAL accept, or a header byte turned into
        // another valid header (say, a different record count). Either is a legitimate-looking job.
        expect(["payload", "header"], `${layout} ${kind} ${i} was accepted`).to.include(kind);
        if (kind === "header") engine.readRecordsHeader(bytes);
        expect(out).to.be.instanceOf(Uint8Array);
        accepted++;
      });
    }
    expect(total).to.equal(300);
    expect(total - accepted).to.be.at.least(200);
    expect(codes.get("MalformedRecord") ?? 0).to.be.at.least(150);
    // The module is still healthy.
    const { values } = rotationCipher.decryptBatch(engine.evaluateLinearBatch(rotationKeys, records.get("packed-records")!, weights, bias, binding));
    values.forEach((v, r) => expectClose(v, dot(tuples[r]!), 1e-5));
  });

  it("refuses structurally wrong record headers and sections for each layout", function () {
    const packed = decodeEnvelope(records.get("packed-records")!, "record");
    const fm = decodeEnvelope(records.get("feature-major")!, "record");
    const ct = packed.sections.get("ciphertext")!;
    const fmSections = [0, 1, 2, 3].map((j) => [featureSectionName(j), fm.sections.get(featureSectionName(j))!] as [string, Uint8Array]);
    const resultCt = decodeEnvelope(results.get("packed-records")!, "result").sections.get("ciphertext")!;
    const smallKeys = small.generateKeySetFor("single-record", { patient: TEST_PATIENT });
    const smallCipher = openCipher(small, smallKeys);
    const smallCt = decodeEnvelope(smallCipher.encryptRecords("single-record", [tuples[0]!]), "record").sections.get("ciphertext")!;
    smallCipher.dispose();
    const base = { ...engine.readRecordsHeader(records.get("packed-records")!) };
    expect(base).to.include({ parameterSet: "ckks-n8192-d3", layout: "packed-records", values: 4, records: 5, patient: TEST_PATIENT });
    const fmBase = { ...base, layout: "feature-major" };
    const cases: [string, Uint8Array, FheErrorCode, RegExp?][] = [
      ["records 0", encodeEnvelope("record", { ...base, records: 0 }, [["ciphertext", ct]]), "MalformedRecord", /records/],
      ["records over capacity", encodeEnvelope("record", { ...base, records: 257 }, [["ciphertext", ct]]), "MalformedRecord", /at most 256/],
      ["fm records over capacity", encodeEnvelope("record", { ...fmBase, records: 4097 }, fmSections), "MalformedRecord", /at most 4096/],
      ["records fractional", encodeEnvelope("record", { ...base, records: 2.5 }, [["ciphertext", ct]]), "MalformedRecord"],
      ["records missing", encodeEnvelope("record", { ...base, records: undefined }, [["ciphertext", ct]]), "MalformedRecord"],
      ["round 0 written out", encodeEnvelope("record", { ...base, round: 0 }, [["ciphertext", ct]]), "MalformedRecord", /round/],
      ["patient missing", encodeEnvelope("record", { ...base, patient: undefined }, [["ciphertext", ct]]), "MalformedRecord", /patient/],
      ["key bundle hash upper-case", encodeEnvelope("record", { ...base, keyBundle: base.keyBundle.toUpperCase().replace("0X", "0x") }, [["ciphertext", ct]]), "MalformedRecord", /keyBundle/],
      ["values 0", encodeEnvelope("record", { ...base, values: 0 }, [["ciphertext", ct]]), "MalformedRecord"],
      ["values 257 (wider than the set takes)", encodeEnvelope("record", { ...base, values: 257 }, [["ciphertext", ct]]), "MalformedRecord"],
      ["values vs weights", encodeEnvelope("record", { ...base, values: 3 }, [["ciphertext", ct]]), "ParameterMismatch", /3 values.*4 weights/],
      ["unknown layout", encodeEnvelope("record", { ...base, layout: "diagonal" }, [["ciphertext", ct]]), "MalformedRecord"],
      ["extra field", encodeEnvelope("record", { ...base, note: "x" }, [["ciphertext", ct]]), "MalformedRecord"],
      ["single-record with records", encodeEnvelope("record", { ...base, layout: "single-record" }, [["ciphertext", ct]]), "MalformedRecord"],
      ["unknown parameter set", encodeEnvelope("record", { ...base, parameterSet: "ckks-n16384-d9" }, [["ciphertext", ct]]), "MalformedRecord"],
      ["other parameter set", encodeEnvelope("record", { ...base, parameterSet: "ckks-n4096-linear" }, [["ciphertext", ct]]), "ParameterMismatch", /n4096/],
      ["packed: no section", encodeEnvelope("record", base, []), "MalformedRecord", /sections/],
      ["packed: renamed section", encodeEnvelope("record", base, [["payload", ct]]), "MalformedRecord", /sections/],
      ["packed: extra section", encodeEnvelope("record", base, [["ciphertext", ct], ["extra", ct]]), "MalformedRecord", /sections/],
      ["packed header on feature-major sections", encodeEnvelope("record", base, fmSections), "MalformedRecord", /sections/],
      ["fm header on a packed section", encodeEnvelope("record", fmBase, [["ciphertext", ct]]), "MalformedRecord", /feature-0/],
      ["fm: a feature missing", encodeEnvelope("record", fmBase, fmSections.slice(0, 3)), "MalformedRecord", /sections/],
      ["fm: features out of order", encodeEnvelope("record", fmBase, [fmSections[1]!, fmSections[0]!, fmSections[2]!, fmSections[3]!]), "MalformedRecord", /sections/],
      ["fm: an extra feature", encodeEnvelope("record", fmBase, [...fmSections, ["feature-4", ct]]), "MalformedRecord", /sections/],
      ["fm: empty feature", encodeEnvelope("record", fmBase, [...fmSections.slice(0, 3), ["feature-3", new Uint8Array(0)]]), "MalformedRecord", /too short/],
      ["a result's ciphertext (one prime: fewer than any job needs)", encodeEnvelope("record", base, [["ciphertext", resultCt]]), "MalformedRecord", /keeps 1 of the parameter set's primes/],
      ["fm: a result's ciphertext as a feature", encodeEnvelope("record", fmBase, [...fmSections.slice(0, 3), ["feature-3", resultCt]]), "MalformedRecord", /feature-3.*|keeps 1 of the parameter set's primes/],
      ["a ciphertext of the other parameter set", encodeEnvelope("record", base, [["ciphertext", smallCt]]), "MalformedRecord", /cannot load/],
      ["secret key bytes as the ciphertext", encodeEnvelope("record", base, [["ciphertext", rotation.secretKey]]), "MalformedRecord", /cannot load/],
      ["Galois keys as the ciphertext", encodeEnvelope("record", base, [["ciphertext", decodeEnvelope(rotation.keyBundle, "key-bundle").sections.get("galoisKeys")!]]), "MalformedRecord", /can take|declares/],
      ["zstd bomb", encodeEnvelope("record", base, [["ciphertext", sealBlob(zstdBomb(2000))]]), "MalformedRecord", /expand/],
      ["zstd bomb, huge declared size", encodeEnvelope("record", base, [["ciphertext", sealBlob(zstdBomb(4, 2 ** 31))]]), "MalformedRecord", /declares/],
      // Consistent with what it declares: 3.2 KB that SEAL alone would inflate to 100 MiB (measured: +600 MB of heap).
      ["zstd bomb, declared size honest", encodeEnvelope("record", base, [["ciphertext", sealBlob(zstdBomb(800, 800 * 131_072))]]), "MalformedRecord", /declares/],
      ["zstd frame without a content size", encodeEnvelope("record", base, [["ciphertext", sealBlob(withoutContentSize(zstdBomb(3)))]]), "MalformedRecord", /does not declare/],
      ["fm: zstd bomb in the last feature", encodeEnvelope("record", fmBase, [...fmSections.slice(0, 3), ["feature-3", sealBlob(zstdBomb(2000))]]), "MalformedRecord", /expand/],
      ["zlib compression", encodeEnvelope("record", base, [["ciphertext", sealBlob(ct.subarray(16), 1)]]), "MalformedRecord", /compression/],
      ["unknown compression", encodeEnvelope("record", base, [["ciphertext", sealBlob(ct.subarray(16), 7)]]), "MalformedRecord", /compression/],
      ["SEAL size field too small", encodeEnvelope("record", base, [["ciphertext", sealBlob(ct.subarray(16), 2, 1000)]]), "MalformedRecord", /claims/],
      ["bytes after the zstd frame", encodeEnvelope("record", base, [["ciphertext", sealBlob(Uint8Array.from([...ct.subarray(16), 0, 0]))]]), "MalformedRecord", /after the zstd frame/],
      ["uncompressed garbage", encodeEnvelope("record", base, [["ciphertext", sealBlob(new Uint8Array(5000).fill(7), 0)]]), "MalformedRecord", /cannot load/],
    ];
    const heapBefore = sealHeapBytes()!;
    for (const [what, bytes, code, message] of cases) {
      for (const evaluate of [
        () => engine.evaluateLinearBatch(rotationKeys, bytes, weights, bias, binding),
        () => engine.evaluateSigmoidPoly(rotationKeys, bytes, weights, bias, polynomial, binding),
      ]) {
        const err = fheErrorOf(evaluate);
        if (!err) expect.fail(`${what}: accepted`);
        expect(err.code, `${what}: ${err.message}`).to.equal(code);
        if (message) expect(err.message, what).to.match(message);
      }
    }
    expect(cases.length).to.be.at.least(30);
    // The bombs were refused before SEAL inflated them: the WASM heap did not grow by their 256 MiB.
    expect(sealHeapBytes()! - heapBefore).to.be.at.most(5_000_000);
    expect(sealBytesProblem(ct, 1_000_000)).to.equal(undefined);
  });

  it("refuses corrupted and mislabelled results with MalformedResult (or ParameterMismatch)", function () {
    const random = prng(99);
    let count = 0;
    for (const [layout, result] of results) {
      const cipher = cipherFor(layout);
      const end = headerEnd(result);
      for (let i = 0; i < 10; i++) {
        expectFheError(() => cipher.decryptBatch(result.slice(0, Math.floor(random() * result.length))), "MalformedResult");
        count++;
      }
      for (let i = 0; i < 10; i++) {
        const bytes = result.slice();
        const at = Math.floor(random() * end);
        let flipped: number;
        do flipped = bytes[at]! ^ (1 + Math.floor(random() * 255));
        while (isJsonWhitespace(bytes[at]!) && isJsonWhitespace(flipped));
        bytes[at] = flipped;
        const err = fheErrorOf(() => cipher.decryptBatch(bytes));
        // A flip inside the jobId/hash strings leaves a valid header: still decrypts.
        if (err) expect(["MalformedResult", "ParameterMismatch"], err.message).to.include(err.code);
        count++;
      }
    }
    const ct = decodeEnvelope(results.get("packed-records")!, "result").sections.get("ciphertext")!;
    const recordCt = decodeEnvelope(records.get("packed-records")!, "record").sections.get("ciphertext")!;
    const base = { parameterSet: "ckks-n8192-d3", layout: "packed-records", stage: "linear", records: 5, ...binding };
    const cases: [string, Uint8Array, FheErrorCode][] = [
      ["records over capacity", encodeEnvelope("result", { ...base, records: 257 }, [["ciphertext", ct]]), "MalformedResult"],
      ["records 0", encodeEnvelope("result", { ...base, records: 0 }, [["ciphertext", ct]]), "MalformedResult"],
      ["unknown stage", encodeEnvelope("result", { ...base, stage: "softmax" }, [["ciphertext", ct]]), "MalformedResult"],
      ["single-record layout field", encodeEnvelope("result", { ...base, layout: "single-record" }, [["ciphertext", ct]]), "MalformedResult"],
      ["slot and layout together", encodeEnvelope("result", { ...base, slot: 0 }, [["ciphertext", ct]]), "MalformedResult"],
      ["single slot out of range", encodeEnvelope("result", { parameterSet: "ckks-n8192-d3", stage: "linear", slot: 4096, ...binding }, [["ciphertext", ct]]), "MalformedResult"],
      ["other parameter set", encodeEnvelope("result", { ...base, parameterSet: "ckks-n4096-linear" }, [["ciphertext", ct]]), "ParameterMismatch"],
      ["no section", encodeEnvelope("result", base, []), "MalformedResult"],
      ["extra section", encodeEnvelope("result", base, [["ciphertext", ct], ["more", ct]]), "MalformedResult"],
      ["a record's ciphertext (not the last level)", encodeEnvelope("result", base, [["ciphertext", recordCt]]), "MalformedResult"],
      ["zstd bomb", encodeEnvelope("result", base, [["ciphertext", sealBlob(zstdBomb(2000))]]), "MalformedResult"],
      ["truncated ciphertext", encodeEnvelope("result", base, [["ciphertext", ct.subarray(0, ct.length - 1)]]), "MalformedResult"],
    ];
    for (const [what, bytes, code] of cases) {
      const err = fheErrorOf(() => rotationCipher.decryptBatch(bytes));
      if (!err) expect.fail(`${what}: accepted`);
      expect(err.code, `${what}: ${err.message}`).to.equal(code);
      count++;
    }
    expect(count).to.be.at.least(70);
  });

  it("refuses malformed key bundles of the new layouts with MalformedKeyBundle", function () {
    const sections = decodeEnvelope(rotation.keyBundle, "key-bundle").sections;
    const publicKey = sections.get("publicKey")!;
    const galois = sections.get("galoisKeys")!;
    const relin = sections.get("relinKeys")!;
    const steps = [1, 2, 4, 8];
    const header = { parameterSet: "ckks-n8192-d3", galoisSteps: steps, patient: TEST_PATIENT };
    const corruptRelin = relin.slice();
    corruptRelin.fill(0xff, relin.length >> 1, (relin.length >> 1) + 64);
    const cases: [string, Uint8Array, FheErrorCode, RegExp?][] = [
      ["no steps but Galois keys", encodeEnvelope("key-bundle", { ...header, galoisSteps: [] }, [["publicKey", publicKey], ["galoisKeys", galois]]), "MalformedKeyBundle", /no rotation steps/],
      ["steps but no Galois keys", encodeEnvelope("key-bundle", header, [["publicKey", publicKey]]), "MalformedKeyBundle", /galoisKeys/],
      ["unknown section", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", galois], ["bootstrapKeys", relin]]), "MalformedKeyBundle", /unknown/],
      ["no public key", encodeEnvelope("key-bundle", header, [["galoisKeys", galois]]), "MalformedKeyBundle", /publicKey/],
      ["Galois keys as relinearization keys", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", galois], ["relinKeys", galois]]), "MalformedKeyBundle", /relinearization/],
      ["relinearization keys corrupted", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", galois], ["relinKeys", corruptRelin]]), "MalformedKeyBundle", /relinearization/],
      ["relinearization keys truncated", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", galois], ["relinKeys", relin.subarray(0, 5000)]]), "MalformedKeyBundle", /relinearization/],
      ["public key as relinearization keys", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", galois], ["relinKeys", publicKey]]), "MalformedKeyBundle", /relinearization/],
      ["zstd bomb as Galois keys", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["galoisKeys", sealBlob(zstdBomb(20_000))]]), "MalformedKeyBundle", /Galois/],
      ["claims a step no layout has", encodeEnvelope("key-bundle", { ...header, galoisSteps: [1, 2, 4, 8, 32] }, [["publicKey", publicKey], ["galoisKeys", galois]]), "MalformedKeyBundle", /rotation steps \[1,2,4,8,32\]/],
      ["claims a wider stride than its keys hold", encodeEnvelope("key-bundle", { ...header, galoisSteps: [1, 2, 4, 8, 16] }, [["publicKey", publicKey], ["galoisKeys", galois]]), "MalformedKeyBundle", /claims rotation steps 16 but holds no keys/],
      ["repeats a step", encodeEnvelope("key-bundle", { ...header, galoisSteps: [1, 2, 4, 8, 8] }, [["publicKey", publicKey], ["galoisKeys", galois]]), "MalformedKeyBundle", /rotation steps/],
      ["steps out of order", encodeEnvelope("key-bundle", { ...header, galoisSteps: [8, 4, 2, 1] }, [["publicKey", publicKey], ["galoisKeys", galois]]), "MalformedKeyBundle", /rotation steps/],
      ["sections out of order", encodeEnvelope("key-bundle", header, [["publicKey", publicKey], ["relinKeys", relin], ["galoisKeys", galois]]), "MalformedKeyBundle", /order/],
      ["other parameter set", encodeEnvelope("key-bundle", { ...header, parameterSet: "ckks-n4096-linear" }, [["publicKey", publicKey], ["galoisKeys", galois]]), "ParameterMismatch"],
      ["truncated bundle", rotation.keyBundle.subarray(0, rotation.keyBundle.length - 10), "MalformedKeyBundle"],
      ["a record", records.get("packed-records")!, "MalformedKeyBundle", /expected a key-bundle blob/],
    ];
    for (const [what, bytes, code, message] of cases) {
      let keys: LayoutEvaluationKeys | undefined;
      const err = fheErrorOf(() => (keys = engine.openEvaluationKeys(bytes)));
      keys?.dispose();
      if (!err) expect.fail(`${what}: accepted`);
      expect(err.code, `${what}: ${err.message}`).to.equal(code);
      if (message) expect(err.message, what).to.match(message);
    }
  });
});
