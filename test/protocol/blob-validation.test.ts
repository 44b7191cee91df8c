import { expect } from "chai";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Wallet } from "ethers";
import {
  isValidatedPurpose,
  maxUploadBytes,
  UPLOAD_PROBLEMS,
  validateUpload,
  type UploadProblem,
  type UploadValidation,
  type ValidatedPurpose,
} from "../../protocol/blob-validation.js";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { CkksEngine, type KeySet, type PatientCipher, type ResultBinding } from "../../protocol/fhe/engine.js";
import { contentHash } from "../../protocol/hash.js";
import { openCipher } from "../helpers/fhe.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const binding: ResultBinding = { jobId: "0x01", recordHash: `0x${"12".repeat(32)}`, modelHash: `0x${"34".repeat(32)}` };

/** A SEAL header (16 bytes, zstd) around `payload`, claiming the right total size. */
function sealBlob(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xa15e, true);
  out[2] = 16;
  out[3] = 4;
  out[4] = 1;
  out[5] = 2;
  view.setBigUint64(8, BigInt(out.length), true);
  out.set(payload, 16);
  return out;
}

/** A zstd frame that declares a plausible size, then RLE blocks of 128 KiB: 4 bytes each, 2,000 of them 256 MiB. */
function zstdBomb(blocks: number, declaredSize = 100_000): Uint8Array {
  const out = new Uint8Array(9 + blocks * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0b1010_0000;
  view.setUint32(5, declaredSize, true);
  for (let i = 0; i < blocks; i++) {
    const header = (i === blocks - 1 ? 1 : 0) | (1 << 1) | ((128 * 1024) << 3);
    out.set([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x41], 9 + i * 4);
  }
  return out;
}

/** The blob's header text replaced by `text` (sections kept). */
function withHeaderText(bytes: Uint8Array, text: string): Uint8Array {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, false);
  const header = new TextEncoder().encode(text);
  const out = new Uint8Array(9 + header.length + bytes.length - 9 - length);
  out.set(bytes.subarray(0, 5));
  new DataView(out.buffer).setUint32(5, header.length, false);
  out.set(header, 9);
  out.set(bytes.subarray(9 + length), 9 + header.length);
  return out;
}

function rewrap(bytes: Uint8Array, kind: "key-bundle" | "record" | "result", change: (header: Record<string, unknown>) => Record<string, unknown>, sections?: [string, Uint8Array][]): Uint8Array {
  const envelope = decodeEnvelope(bytes, kind);
  return encodeEnvelope(kind, change({ ...envelope.header }), sections ?? [...envelope.sections]);
}

function expectRefused(result: UploadValidation, code: UploadProblem, what: string): void {
  if (result.ok) expect.fail(`${what}: accepted`);
  expect(result.code, `${what}: ${result.message}`).to.equal(code);
  expect(result.message, what).to.be.a("string").and.not.equal("");
}

describe("protocol/blob-validation: uploads checked by purpose, without SEAL", function () {
  const patient = Wallet.createRandom();
  const uploader = patient.address.toLowerCase();
  const stranger = Wallet.createRandom().address.toLowerCase();
  let engine: CkksEngine;
  let small: CkksEngine;
  let rotation: KeySet;
  let featureMajor: KeySet;
  let smallKeys: KeySet;
  let cipher: PatientCipher;
  let fmCipher: PatientCipher;
  let smallCipher: PatientCipher;
  const records = new Map<string, Uint8Array>();
  const results = new Map<string, Uint8Array>();
  const model = new Uint8Array(readFileSync(join(root, "models", "statlog-heart-logreg.v1.json")));

  before(async function () {
    engine = await CkksEngine.create("ckks-n8192-d3");
    small = await CkksEngine.create("ckks-n4096-linear");
    // An EIP-55 checksummed address is accepted and written in lower case.
    rotation = engine.generateKeySetFor("packed-records", { patient: patient.address, sigmoid: true });
    featureMajor = engine.generateKeySetFor("feature-major", { patient: patient.address });
    smallKeys = small.generateKeySetFor("single-record", { patient: patient.address });
    cipher = openCipher(engine, rotation);
    fmCipher = openCipher(engine, featureMajor);
    smallCipher = openCipher(small, smallKeys);
    const tuples = [[0.5, -1, 2], [1, 1, -0.25], [0, 2, 1]];
    records.set("single-record", cipher.encryptRecords("single-record", [tuples[0]!]));
    records.set("packed-records", cipher.encryptRecords("packed-records", tuples, { round: 2 }));
    records.set("feature-major", fmCipher.encryptRecords("feature-major", tuples));
    records.set("n4096 single-record", smallCipher.encryptTuple(tuples[0]!));
    records.set("n4096 feature-major", smallCipher.encryptRecords("feature-major", tuples));
    const rotationKeys = engine.openEvaluationKeys(rotation.keyBundle);
    const fmKeys = engine.openEvaluationKeys(featureMajor.keyBundle);
    try {
      results.set("single-record", engine.evaluateLinearBatch(rotationKeys, records.get("single-record")!, [1, 2, 3], 0, binding));
      results.set("packed-records", engine.evaluateLinearBatch(rotationKeys, records.get("packed-records")!, [1, 2, 3], 0, binding));
      results.set("feature-major", engine.evaluateLinearBatch(fmKeys, records.get("feature-major")!, [1, 2, 3], 0, binding));
    } finally {
      rotationKeys.dispose();
      fmKeys.dispose();
    }
  });

  after(function () {
    for (const c of [cipher, fmCipher, smallCipher]) c?.dispose();
    engine?.dispose();
    small?.dispose();
  });

  it("accepts what the engine makes: key bundles, records of every layout, results, and a model", function () {
    for (const [what, bundle, set] of [["rotation+sigmoid", rotation, "ckks-n8192-d3"], ["feature-major", featureMajor, "ckks-n8192-d3"], ["n4096", smallKeys, "ckks-n4096-linear"]] as const) {
      const checked = validateUpload("key-bundle", bundle.keyBundle, uploader);
      if (!checked.ok) expect.fail(`${what}: ${checked.code} ${checked.message}`);
      expect(checked).to.include({ kind: "key-bundle", parameterSet: set, owner: uploader });
    }
    for (const [what, record] of records) {
      const checked = validateUpload("record", record, uploader);
      if (!checked.ok) expect.fail(`${what}: ${checked.code} ${checked.message}`);
      const bundle = what.startsWith("n4096") ? smallKeys : what === "feature-major" ? featureMajor : rotation;
      expect(checked).to.include({ kind: "record", owner: uploader, keyBundle: contentHash(bundle.keyBundle) });
      expect(checked.parameterSet).to.equal(what.startsWith("n4096") ? "ckks-n4096-linear" : "ckks-n8192-d3");
    }
    for (const [what, result] of results) {
      const checked = validateUpload("result", result, stranger);
      if (!checked.ok) expect.fail(`${what}: ${checked.code} ${checked.message}`);
      expect(checked).to.include({ kind: "result", parameterSet: "ckks-n8192-d3" });
      expect(checked.header).to.include({ jobId: binding.jobId });
    }
    const checked = validateUpload("model", model, stranger);
    if (!checked.ok) expect.fail(`model: ${checked.code} ${checked.message}`);
    expect(checked.header).to.include({ name: "statlog-heart-logreg" });
  });

  it("refuses a blob of another kind than its purpose says", function () {
    expectRefused(validateUpload("key-bundle", records.get("single-record")!, uploader), "wrong_kind", "record as key bundle");
    expectRefused(validateUpload("record", rotation.keyBundle, uploader), "wrong_kind", "key bundle as record");
    expectRefused(validateUpload("result", records.get("packed-records")!, uploader), "wrong_kind", "record as result");
    expectRefused(validateUpload("record", results.get("single-record")!, uploader), "wrong_kind", "result as record");
    expectRefused(validateUpload("model", records.get("single-record")!, uploader), "wrong_kind", "record as model");
  });

  it("refuses bytes that are no envelope at all (a model uploaded as a record), and a model that is not one", function () {
    expectRefused(validateUpload("record", model, uploader), "not_an_envelope", "model JSON as record");
    expectRefused(validateUpload("key-bundle", new Uint8Array(5), uploader), "not_an_envelope", "five bytes");
    const notAModel = new TextEncoder().encode(canonicalJson({ format: "pmhe-model/2", name: "x" }));
    expectRefused(validateUpload("model", notAModel, stranger), "invalid_model", "incomplete model");
    expectRefused(validateUpload("model", new Uint8Array([0xff, 0xfe, 0x00]), stranger), "invalid_model", "not UTF-8");
  });

  it("refuses a key bundle that claims repeated, unsorted or foreign rotation steps", function () {
    for (const steps of [[1, 2, 4, 8, 8], [1, 1, 2, 4, 8], [8, 4, 2, 1], [1, 2, 4], [1, 2, 4, 8, 32], [1, 2, 4, 8, 16, 32, 64, 128, 256]]) {
      const bad = rewrap(rotation.keyBundle, "key-bundle", (h) => ({ ...h, galoisSteps: steps }));
      expectRefused(validateUpload("key-bundle", bad, uploader), "bad_rotation_steps", `steps ${steps}`);
    }
  });

  it("refuses key bundles and records that name another patient than the uploader", function () {
    expectRefused(validateUpload("key-bundle", rotation.keyBundle, stranger), "owner_mismatch", "bundle by a stranger");
    expectRefused(validateUpload("record", records.get("feature-major")!, stranger), "owner_mismatch", "record by a stranger");
    // A copy of the patient's ciphertext re-wrapped under the stranger's name passes the owner check for the
    // stranger, but names the patient's key bundle: the coprocessor compares that with the job's on-chain bundle.
    const rewrapped = rewrap(records.get("packed-records")!, "record", (h) => ({ ...h, patient: stranger }));
    const checked = validateUpload("record", rewrapped, stranger);
    if (!checked.ok) expect.fail(checked.message);
    expect(checked.keyBundle).to.equal(contentHash(rotation.keyBundle));
    // The uploader may be given in any case.
    expect(validateUpload("record", records.get("packed-records")!, patient.address).ok).to.equal(true);
  });

  it("refuses a header in any form but the canonical one", function () {
    const record = records.get("single-record")!;
    const header = { ...decodeEnvelope(record, "record").header, kind: "record", sections: [{ length: decodeEnvelope(record, "record").sections.get("ciphertext")!.length, name: "ciphertext" }] };
    expect(validateUpload("record", withHeaderText(record, canonicalJson(header)), uploader).ok).to.equal(true);
    expectRefused(validateUpload("record", withHeaderText(record, JSON.stringify(header)), uploader), "non_canonical_header", "compact JSON");
    expectRefused(validateUpload("record", withHeaderText(record, canonicalJson(header).replace("\n}", "\n }")), uploader), "non_canonical_header", "extra space");
  });

  it("refuses bad headers: unknown parameter set, round 0 written out, fields missing, records beyond capacity, layouts a set cannot mask", function () {
    const packed = records.get("packed-records")!;
    expectRefused(validateUpload("record", rewrap(packed, "record", (h) => ({ ...h, parameterSet: "ckks-n32768-d9" })), uploader), "unknown_parameter_set", "record");
    expectRefused(validateUpload("key-bundle", rewrap(rotation.keyBundle, "key-bundle", (h) => ({ ...h, parameterSet: "bfv" })), uploader), "unknown_parameter_set", "bundle");
    expectRefused(validateUpload("result", rewrap(results.get("packed-records")!, "result", (h) => ({ ...h, parameterSet: 7 })), uploader), "unknown_parameter_set", "result");
    expectRefused(validateUpload("record", rewrap(packed, "record", (h) => ({ ...h, round: 0 })), uploader), "bad_header", "round 0");
    expectRefused(validateUpload("record", rewrap(packed, "record", (h) => ({ ...h, keyBundle: undefined })), uploader), "bad_header", "no key bundle");
    expectRefused(validateUpload("key-bundle", rewrap(rotation.keyBundle, "key-bundle", (h) => ({ ...h, patient: undefined })), uploader), "bad_header", "no patient");
    expectRefused(validateUpload("record", rewrap(packed, "record", (h) => ({ ...h, records: 257 })), uploader), "too_many_records", "257 packed");
    expectRefused(validateUpload("result", rewrap(results.get("single-record")!, "result", (h) => ({ ...h, slot: 4096 })), uploader), "bad_header", "slot out of range");
    const smallRecord = decodeEnvelope(records.get("n4096 single-record")!, "record");
    const smallPacked = encodeEnvelope("record", { ...smallRecord.header, layout: "packed-records", records: 2 }, [...smallRecord.sections]);
    expectRefused(validateUpload("record", smallPacked, uploader), "unsupported_layout", "packed on ckks-n4096-linear");
  });

  it("refuses sections that are missing, extra, renamed or out of order, and trailing bytes", function () {
    const fm = decodeEnvelope(records.get("feature-major")!, "record");
    const fmSections = [...fm.sections];
    const bundle = decodeEnvelope(rotation.keyBundle, "key-bundle");
    const [publicKey, galois, relin] = ["publicKey", "galoisKeys", "relinKeys"].map((n) => bundle.sections.get(n)!);
    const cases: [ValidatedPurpose, Uint8Array, string][] = [
      ["record", encodeEnvelope("record", fm.header, fmSections.slice(0, 2)), "feature-major without its last feature"],
      ["record", encodeEnvelope("record", fm.header, [fmSections[1]!, fmSections[0]!, fmSections[2]!]), "features out of order"],
      ["record", rewrap(records.get("single-record")!, "record", (h) => h, []), "no ciphertext"],
      ["record", rewrap(records.get("single-record")!, "record", (h) => h, [["payload", fmSections[0]![1]]]), "renamed section"],
      ["key-bundle", encodeEnvelope("key-bundle", bundle.header, [["publicKey", publicKey!], ["relinKeys", relin!]]), "steps but no Galois keys"],
      ["key-bundle", encodeEnvelope("key-bundle", bundle.header, [["galoisKeys", galois!], ["publicKey", publicKey!], ["relinKeys", relin!]]), "out of order"],
      ["key-bundle", encodeEnvelope("key-bundle", bundle.header, [["publicKey", publicKey!], ["galoisKeys", galois!], ["bootstrapKeys", relin!]]), "unknown section"],
      ["key-bundle", rewrap(smallKeys.keyBundle, "key-bundle", (h) => h, [...decodeEnvelope(smallKeys.keyBundle, "key-bundle").sections, ["relinKeys", relin!]]), "relinearization keys on a depth-1 set"],
      ["result", rewrap(results.get("packed-records")!, "result", (h) => h, []), "result without a ciphertext"],
    ];
    for (const [purpose, bytes, what] of cases) expectRefused(validateUpload(purpose, bytes, uploader), "bad_sections", what);
    const record = records.get("packed-records")!;
    const longer = new Uint8Array(record.length + 7);
    longer.set(record);
    expectRefused(validateUpload("record", longer, uploader), "trailing_bytes", "trailing bytes");
  });

  it("refuses SEAL sections above the size their object can have, zstd bombs included, and malformed ones", function () {
    const bundle = decodeEnvelope(rotation.keyBundle, "key-bundle");
    const packed = decodeEnvelope(records.get("packed-records")!, "record");
    const recordCt = packed.sections.get("ciphertext")!;
    const cases: [ValidatedPurpose, Uint8Array, UploadProblem, string][] = [
      // Galois keys (4 keys) where the public key (1 key-sized object) belongs
      ["key-bundle", encodeEnvelope("key-bundle", bundle.header, [["publicKey", bundle.sections.get("galoisKeys")!], ["galoisKeys", bundle.sections.get("galoisKeys")!]]), "section_too_large", "Galois keys as the public key"],
      // a frame that declares a fresh ciphertext's size where a last-level result belongs
      ["result", rewrap(results.get("packed-records")!, "result", (h) => h, [["ciphertext", sealBlob(zstdBomb(2, 262_144))]]), "section_too_large", "a record-sized frame as a result"],
      ["record", encodeEnvelope("record", packed.header, [["ciphertext", sealBlob(zstdBomb(2000))]]), "section_too_large", "zstd bomb"],
      ["key-bundle", encodeEnvelope("key-bundle", bundle.header, [["publicKey", bundle.sections.get("publicKey")!], ["galoisKeys", sealBlob(zstdBomb(20_000))]]), "section_too_large", "zstd bomb as Galois keys"],
      ["record", encodeEnvelope("record", packed.header, [["ciphertext", recordCt.subarray(0, recordCt.length - 3)]]), "bad_section", "truncated ciphertext"],
      ["record", encodeEnvelope("record", packed.header, [["ciphertext", new Uint8Array(300).fill(7)]]), "bad_section", "not a SEAL object"],
    ];
    for (const [purpose, bytes, code, what] of cases) expectRefused(validateUpload(purpose, bytes, uploader), code, what);
  });

  it("refuses blobs larger than any legitimate one of their kind (and parameter set)", function () {
    const huge = new Uint8Array(Math.max(maxUploadBytes("key-bundle"), maxUploadBytes("record")) + 1);
    expectRefused(validateUpload("result", huge, stranger), "too_large", "beyond any upload");
    const result = decodeEnvelope(results.get("packed-records")!, "result");
    const paddedResult = encodeEnvelope("result", result.header, [["ciphertext", new Uint8Array(maxUploadBytes("result", "ckks-n8192-d3"))]]);
    expectRefused(validateUpload("result", paddedResult, stranger), "too_large", "oversized result");
    expectRefused(validateUpload("model", new Uint8Array(maxUploadBytes("model") + 1), stranger), "too_large", "oversized model");
    // Within what a ckks-n8192-d3 bundle may weigh, but not a ckks-n4096-linear one.
    const smallBundle = decodeEnvelope(smallKeys.keyBundle, "key-bundle");
    const padded = encodeEnvelope("key-bundle", smallBundle.header, [
      ["publicKey", smallBundle.sections.get("publicKey")!],
      ["galoisKeys", new Uint8Array(maxUploadBytes("key-bundle", "ckks-n4096-linear"))],
    ]);
    expect(padded.length).to.be.lessThan(maxUploadBytes("key-bundle", "ckks-n8192-d3"));
    expectRefused(validateUpload("key-bundle", padded, uploader), "too_large", "n4096 bundle of n8192 size");
    // Every blob the engine made is within its bound.
    expect(rotation.keyBundle.length).to.be.lessThan(maxUploadBytes("key-bundle", "ckks-n8192-d3"));
    for (const result of results.values()) expect(result.length).to.be.lessThan(maxUploadBytes("result", "ckks-n8192-d3"));
  });

  it("exports its codes and purposes as constant lists", function () {
    expect(UPLOAD_PROBLEMS).to.include.members(["not_an_envelope", "wrong_kind", "non_canonical_header", "bad_header", "unknown_parameter_set", "bad_sections", "bad_rotation_steps", "section_too_large", "owner_mismatch", "invalid_model", "too_large"]);
    expect(new Set(UPLOAD_PROBLEMS).size).to.equal(UPLOAD_PROBLEMS.length);
    for (const code of UPLOAD_PROBLEMS) expect(code).to.match(/^[a-z]+(_[a-z]+)*$/);
    expect(isValidatedPurpose("record")).to.equal(true);
    expect(isValidatedPurpose("result-share")).to.equal(false);
  });

  it("never loads SEAL and stays browser-safe: no module it imports touches node-seal or node:", function () {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      // Type-only imports are erased when compiled: they load nothing.
      for (const [, spec] of source.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/gms)) {
        expect(spec, `${file} imports ${spec}`).to.not.match(/^node:|^node-seal$/);
        if (spec!.startsWith(".")) visit(resolve(dirname(file), spec!.replace(/\.js$/, ".ts")));
      }
    };
    visit(join(root, "protocol", "blob-validation.ts"));
    expect(seen.size).to.be.at.least(8);
    expect([...seen].some((f) => f.endsWith("engine.ts") || f.endsWith("runtime.ts") || f.endsWith("circuits.ts"))).to.equal(false);
  });
});
