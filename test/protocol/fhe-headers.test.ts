import { expect } from "chai";
import { getAddress, Wallet } from "ethers";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { CkksEngine, type KeySet, type LayoutEvaluationKeys, type PatientCipher, type ResultBinding } from "../../protocol/fhe/engine.js";
import { normaliseAddress } from "../../protocol/fhe/headers.js";
import { sealHeapBytes } from "../../protocol/fhe/runtime.js";
import { contentHash } from "../../protocol/hash.js";
import { expectFheError, headerEnd, openCipher, TEST_PATIENT } from "../helpers/fhe.js";

const binding: ResultBinding = { jobId: "21", recordHash: `0x${"c3".repeat(32)}`, modelHash: `0x${"d4".repeat(32)}` };

/** A SEAL header (16 bytes, zstd) around `payload`, claiming the right total size. */
function sealBlob(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xa15e, true);
  out.set([16, 4, 1, 2], 2);
  view.setBigUint64(8, BigInt(out.length), true);
  out.set(payload, 16);
  return out;
}

/** A zstd frame that honestly declares and holds `blocks` RLE blocks of 128 KiB (4 bytes of input each). */
function honestRleFrame(blocks: number): Uint8Array {
  const out = new Uint8Array(9 + blocks * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0b1010_0000;
  view.setUint32(5, blocks * 128 * 1024, true);
  for (let i = 0; i < blocks; i++) {
    const header = (i === blocks - 1 ? 1 : 0) | (1 << 1) | ((128 * 1024) << 3);
    out.set([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0], 9 + i * 4);
  }
  return out;
}

/** The blob with its header text replaced (sections kept). */
function withHeaderText(bytes: Uint8Array, text: string): Uint8Array {
  const end = headerEnd(bytes);
  const header = new TextEncoder().encode(text);
  const out = new Uint8Array(9 + header.length + bytes.length - end);
  out.set(bytes.subarray(0, 5));
  new DataView(out.buffer).setUint32(5, header.length, false);
  out.set(header, 9);
  out.set(bytes.subarray(end), 9 + header.length);
  return out;
}

/** The blob's full header (kind and sections included), as decodeEnvelope read it. */
function fullHeader(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes.subarray(9, headerEnd(bytes)))) as Record<string, unknown>;
}

describe("FHE blob headers: bound to one patient, one encoding per meaning", function () {
  let engine: CkksEngine;
  let keySet: KeySet;
  let keys: LayoutEvaluationKeys;
  let cipher: PatientCipher;
  let record: Uint8Array;
  let result: Uint8Array;

  before(async function () {
    engine = await CkksEngine.create("ckks-n8192-d3");
    keySet = engine.generateKeySetFor("packed-records", { patient: TEST_PATIENT });
    keys = engine.openEvaluationKeys(keySet.keyBundle);
    cipher = openCipher(engine, keySet);
    record = cipher.encryptRecords("packed-records", [[1, 2], [3, 4]]);
    result = engine.evaluateLinearBatch(keys, record, [0.5, -1], 0.25, binding);
  });

  after(function () {
    keys?.dispose();
    cipher?.dispose();
    engine?.dispose();
  });

  describe("patient binding", function () {
    it("names the patient in the key bundle and the patient and key-bundle hash in every record", function () {
      expect(engine.readKeyBundleHeader(keySet.keyBundle)).to.deep.equal({ parameterSet: "ckks-n8192-d3", galoisSteps: [1, 2, 4, 8], patient: TEST_PATIENT });
      const expected = { patient: TEST_PATIENT, keyBundle: contentHash(keySet.keyBundle) };
      expect(engine.readRecordsHeader(record)).to.include(expected);
      expect(engine.readRecordsHeader(cipher.encryptTuple([1, 2]))).to.include(expected);
      expect(engine.readRecordsHeader(cipher.encryptRecords("feature-major", [[1, 2]]))).to.include(expected);
      // Results stay bound to the job instead: no patient field.
      expect(engine.readJobResultHeader(result)).to.not.have.property("patient");
    });

    it("writes the address in lower case, accepting an EIP-55 checksummed one and refusing a wrong checksum", function () {
      const wallet = Wallet.createRandom();
      const lower = wallet.address.toLowerCase();
      expect(wallet.address).to.not.equal(lower);
      const bundle = engine.generateKeySet({ patient: wallet.address }).keyBundle;
      expect(engine.readKeyBundleHeader(bundle).patient).to.equal(lower);
      expect(normaliseAddress(getAddress(lower))).to.equal(lower);
      expect(normaliseAddress(`0x${lower.slice(2).toUpperCase()}`)).to.equal(lower);
      // Flip the case of one letter of a checksummed address: the checksum no longer holds.
      const at = [...wallet.address].findIndex((c, i) => i > 1 && /[a-fA-F]/.test(c));
      const c = wallet.address[at]!;
      const typo = wallet.address.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + wallet.address.slice(at + 1);
      expect(normaliseAddress(typo)).to.equal(undefined);
      expectFheError(() => engine.generateKeySet({ patient: typo }), "MalformedKeyBundle", /patient must be an address/);
    });

    it("refuses key sets and ciphers without a valid patient or key-bundle hash", function () {
      const hash = contentHash(keySet.keyBundle);
      for (const patient of ["", "0x1234", `0x${"g".repeat(40)}`, `${"ab".repeat(20)}`, undefined as unknown as string]) {
        expectFheError(() => engine.generateKeySetFor("feature-major", { patient }), "MalformedKeyBundle", /patient/);
        expectFheError(() => engine.openSecretKey(keySet.secretKey, { patient, keyBundleHash: hash }), "MalformedKeyBundle", /patient/);
      }
      for (const keyBundleHash of ["", "0x12", `0x${"ab".repeat(31)}`, "ab".repeat(32), `0x${"zz".repeat(32)}`]) {
        expectFheError(() => engine.openSecretKey(keySet.secretKey, { patient: TEST_PATIENT, keyBundleHash }), "MalformedKeyBundle", /keyBundleHash/);
      }
      // Any case is accepted and written in lower case.
      const upper = engine.openSecretKey(keySet.secretKey, { patient: TEST_PATIENT, keyBundleHash: `0x${hash.slice(2).toUpperCase()}` });
      try {
        expect(engine.readRecordsHeader(upper.encryptTuple([1])).keyBundle).to.equal(hash);
      } finally {
        upper.dispose();
      }
    });

    it("another binding of the same key writes other owners into the same kind of record", function () {
      const other = Wallet.createRandom().address.toLowerCase();
      const otherHash = `0x${"77".repeat(32)}`;
      const rebound = engine.openSecretKey(keySet.secretKey, { patient: other, keyBundleHash: otherHash });
      try {
        expect(engine.readRecordsHeader(rebound.encryptRecords("packed-records", [[1, 2]]))).to.include({ patient: other, keyBundle: otherHash });
      } finally {
        rebound.dispose();
      }
    });
  });

  describe("one encoding per meaning", function () {
    it("refuses a re-serialised header (same fields, other key order or whitespace) of every kind", function () {
      for (const [kind, bytes, read, code] of [
        ["key-bundle", keySet.keyBundle, (b: Uint8Array) => engine.readKeyBundleHeader(b), "MalformedKeyBundle"],
        ["record", record, (b: Uint8Array) => engine.readRecordsHeader(b), "MalformedRecord"],
        ["result", result, (b: Uint8Array) => engine.readJobResultHeader(b), "MalformedResult"],
      ] as const) {
        const header = fullHeader(bytes);
        // The canonical text round-trips: the blob is unchanged.
        expect(Buffer.from(withHeaderText(bytes, canonicalJson(header))).equals(Buffer.from(bytes)), kind).to.equal(true);
        const reordered = Object.fromEntries(Object.entries(header).reverse());
        for (const text of [JSON.stringify(header), JSON.stringify(reordered, null, 2) + "\n", canonicalJson(header).replace(/\n/g, "\r\n"), " " + canonicalJson(header)]) {
          const bad = withHeaderText(bytes, text);
          expectFheError(() => read(bad), code, /canonical form/);
        }
      }
      const bad = withHeaderText(record, JSON.stringify(fullHeader(record)));
      expectFheError(() => engine.evaluateLinearBatch(keys, bad, [0.5, -1], 0.25, binding), "MalformedRecord", /canonical form/);
      expectFheError(() => cipher.decryptBatch(withHeaderText(result, JSON.stringify(fullHeader(result)))), "MalformedResult", /canonical form/);
    });

    it("refuses round 0 written out (round 0 is no round field), and writes none for it", function () {
      const envelope = decodeEnvelope(record, "record");
      const zero = encodeEnvelope("record", { ...envelope.header, round: 0 }, [...envelope.sections]);
      expectFheError(() => engine.readRecordsHeader(zero), "MalformedRecord", /round/);
      expectFheError(() => engine.evaluateLinearBatch(keys, zero, [0.5, -1], 0.25, binding), "MalformedRecord", /round/);
      expect(engine.readRecordsHeader(cipher.encryptRecords("packed-records", [[1, 2]], { round: 0 }))).to.not.have.property("round");
      const one = encodeEnvelope("record", { ...envelope.header, round: 1 }, [...envelope.sections]);
      expect(engine.readRecordsHeader(one)).to.include({ round: 1 });
    });

    it("refuses a key bundle whose steps repeat before SEAL sees its Galois keys (no heap growth)", function () {
      const envelope = decodeEnvelope(keySet.keyBundle, "key-bundle");
      const publicKey = envelope.sections.get("publicKey")!;
      // 64 claimed steps would raise the Galois-key size bound 16-fold (to 168 MB); a 4 KB frame that honestly
      // declares 125 MiB of RLE blocks fits that bound, but not the one of a real bundle's 4 steps (10.5 MB).
      const repeated = [...Array.from({ length: 60 }, () => 1), 2, 4, 8, 8];
      const bomb = sealBlob(honestRleFrame(1000));
      const bad = encodeEnvelope("key-bundle", { parameterSet: "ckks-n8192-d3", galoisSteps: repeated, patient: TEST_PATIENT }, [["publicKey", publicKey], ["galoisKeys", bomb]]);
      expect(bomb.length).to.be.lessThan(5_000);
      const heapBefore = sealHeapBytes()!;
      expectFheError(() => engine.readKeyBundleHeader(bad), "MalformedKeyBundle", /rotation steps/);
      expectFheError(() => engine.openEvaluationKeys(bad), "MalformedKeyBundle", /rotation steps/);
      expectFheError(() => engine.openKeyBundle(bad), "MalformedKeyBundle", /rotation steps/);
      // With the exact steps the same frame is refused by the size check instead, still before SEAL.
      const exact = encodeEnvelope("key-bundle", { parameterSet: "ckks-n8192-d3", galoisSteps: [1, 2, 4, 8], patient: TEST_PATIENT }, [["publicKey", publicKey], ["galoisKeys", bomb]]);
      expectFheError(() => engine.openEvaluationKeys(exact), "MalformedKeyBundle", /Galois keys: zstd frame declares/);
      expect(sealHeapBytes()! - heapBefore).to.be.at.most(1_000_000);
      for (const steps of [[1, 2, 4, 8, 8], [8, 4, 2, 1], [1, 2, 4], [2, 4, 8, 16], [0], [1, 2, 4, 8, 32], [1, 2, 4, 8, 16, 32, 64, 128, 256]]) {
        const header = { parameterSet: "ckks-n8192-d3", galoisSteps: steps, patient: TEST_PATIENT };
        expectFheError(() => engine.readKeyBundleHeader(encodeEnvelope("key-bundle", header, [...envelope.sections])), "MalformedKeyBundle", /rotation steps/);
      }
    });
  });
});
