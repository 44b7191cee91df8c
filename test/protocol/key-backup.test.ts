import { gcm } from "@noble/ciphers/aes.js";
import { expect } from "chai";
import { getBytes, Signature, TypedDataEncoder, Wallet, type Signer } from "ethers";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { CkksEngine, type KeySet } from "../../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { expectClose } from "../helpers/close.js";
import {
  backupKeyFromSignature,
  checkKeyBackupBlob,
  KEY_BACKUP_HKDF_INFO,
  KEY_BACKUP_HKDF_SALT,
  KEY_BACKUP_PURPOSE,
  KEY_BACKUP_TYPES,
  KeyBackupError,
  keyBackupDomain,
  keyBackupTypedData,
  MAX_KEY_BACKUP_BYTES,
  openKeyBackup,
  readKeyBackupHeader,
  sealKeyBackup,
  signKeyBackup,
  type KeyBackupDomain,
} from "../../protocol/key-backup.js";
import { hospitalKeyPair, sealShare } from "../../protocol/result-share.js";

const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const DOMAIN = keyBackupDomain(31337, CONTRACT);

function backupErrorOf(fn: () => unknown): KeyBackupError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeyBackupError) return err;
    throw err;
  }
  throw new Error("expected a KeyBackupError, but nothing was thrown");
}

/** Every window of `width` bytes of `needle` that occurs in `haystack` (none, for a real encryption). */
function sharedWindows(haystack: Uint8Array, needle: Uint8Array, width = 16): number {
  const text = Buffer.from(haystack).toString("latin1");
  let found = 0;
  for (let i = 0; i + width <= needle.length; i += width) if (text.includes(Buffer.from(needle.subarray(i, i + width)).toString("latin1"))) found++;
  return found;
}

describe("key backup format (protocol/key-backup.ts): EIP-712 signature → HKDF-SHA256 → AES-256-GCM envelope", function () {
  let engine: CkksEngine;
  let keys: KeySet;
  let patient: Wallet;
  let keyBundleHash: Hash;

  before(async function () {
    engine = await CkksEngine.create("ckks-n8192-d3");
    patient = Wallet.createRandom() as unknown as Wallet;
    keys = engine.generateKeySet({ patient: patient.address });
    keyBundleHash = contentHash(keys.keyBundle);
  });

  after(function () {
    engine?.dispose();
  });

  const input = () => ({ secretKey: keys.secretKey, keyBundleHash, patient: patient.address });

  it("derives the same key from the same wallet on another device: typed-data signatures are deterministic (RFC 6979)", async function () {
    const first = await signKeyBackup(patient, DOMAIN);
    const second = await signKeyBackup(patient, DOMAIN);
    const otherDevice = new Wallet(patient.privateKey); // the same key, a new instance: nothing shared but the key
    const third = await signKeyBackup(otherDevice, DOMAIN);
    expect(second).to.equal(first);
    expect(third).to.equal(first);
    const backup = sealKeyBackup(input(), DOMAIN, first);
    const { header, secretKey } = openKeyBackup(backup, { patient: otherDevice.address, domain: DOMAIN, signature: third });
    expect(secretKey).to.deep.equal(keys.secretKey);
    expect(header).to.include({ patient: patient.address.toLowerCase(), keyBundle: keyBundleHash, chainId: "31337", verifyingContract: CONTRACT.toLowerCase() });
    // The opened key is the bundle's key: it encrypts a tuple the bundle's evaluation keys evaluate, and decrypts
    // the result to w·x + b (a different key would decrypt noise).
    const cipher = engine.openSecretKey(secretKey, { patient: patient.address, keyBundleHash });
    const evaluation = engine.openKeyBundle(keys.keyBundle);
    try {
      const record = cipher.encryptTuple([0.5, -1.25, 2]);
      const binding = { jobId: keyBundleHash, recordHash: contentHash(record), modelHash: keyBundleHash };
      const result = engine.evaluateLinear(evaluation, record, [1, 2, 3], 0.25, binding);
      expectClose(cipher.decryptResult(result).value, 0.5 - 2.5 + 6 + 0.25, 1e-4);
    } finally {
      evaluation.dispose();
      cipher.dispose();
    }
  });

  it("documents its derivation exactly: HKDF-SHA256 over the 65-byte signature (v as 27/28) with the fixed salt and info, checked with WebCrypto", async function () {
    const signature = await signKeyBackup(patient, DOMAIN);
    const raw = getBytes(signature);
    expect(raw.length).to.equal(65);
    expect([27, 28]).to.include(raw[64]);
    const material = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode(KEY_BACKUP_HKDF_SALT), info: new TextEncoder().encode(KEY_BACKUP_HKDF_INFO) },
      material,
      256,
    );
    expect(backupKeyFromSignature(signature)).to.deep.equal(new Uint8Array(bits));
    // A wallet that writes v as 0/1 gives the same key.
    const zeroOne = Uint8Array.from(raw);
    zeroOne[64] = raw[64]! - 27;
    expect(backupKeyFromSignature(`0x${Buffer.from(zeroOne).toString("hex")}`)).to.deep.equal(backupKeyFromSignature(signature));
    // And the section is AES-256-GCM of the secret key with the canonical header as associated data.
    const backup = sealKeyBackup(input(), DOMAIN, signature);
    const { header, sections } = decodeEnvelope(backup, "key-backup");
    const plain = gcm(new Uint8Array(bits), getBytes(header.nonce as string), new TextEncoder().encode(canonicalJson(header))).decrypt(sections.get("ciphertext")!);
    expect(plain).to.deep.equal(keys.secretKey);
  });

  it("signs the message the web app sends as eth_signTypedData_v4: the same digest, the fixed purpose, the patient", async function () {
    const document = keyBackupTypedData(DOMAIN, patient.address);
    expect(document.message).to.deep.equal({ purpose: KEY_BACKUP_PURPOSE, patient: patient.address });
    expect(document.domain).to.deep.equal({ name: "PMHE Key Backup", version: "1", chainId: 31337, verifyingContract: CONTRACT });
    const { EIP712Domain: _, ...types } = document.types;
    const digest = TypedDataEncoder.hash(document.domain, types, document.message);
    const signature = await signKeyBackup(patient, DOMAIN);
    expect(Signature.from(signature).serialized).to.equal(patient.signingKey.sign(digest).serialized);
    expect(types).to.deep.equal(KEY_BACKUP_TYPES);
  });

  it("refuses to open with a wrong wallet, plainly, before anything is signed; a stranger's signature opens nothing", async function () {
    const signature = await signKeyBackup(patient, DOMAIN);
    const backup = sealKeyBackup(input(), DOMAIN, signature);
    const stranger = Wallet.createRandom();
    const strangerSignature = await signKeyBackup(stranger, DOMAIN);
    const wrong = backupErrorOf(() => openKeyBackup(backup, { patient: stranger.address, domain: DOMAIN, signature: strangerSignature }));
    expect(wrong.code).to.equal("wrong_wallet");
    expect(wrong.message).to.match(/^this backup was made with another wallet/);
    // Even pretending to be the patient: the stranger cannot make the patient's signature, and their own over the
    // patient's message derives a key that opens nothing.
    const forged = await stranger.signTypedData(DOMAIN, KEY_BACKUP_TYPES, { purpose: KEY_BACKUP_PURPOSE, patient: patient.address });
    expect(backupErrorOf(() => openKeyBackup(backup, { patient: patient.address, domain: DOMAIN, signature: forged })).code).to.equal("bad_signature");
    const { header, sections } = decodeEnvelope(backup, "key-backup");
    expect(() => gcm(backupKeyFromSignature(forged), getBytes(header.nonce as string), new TextEncoder().encode(canonicalJson(header))).decrypt(sections.get("ciphertext")!)).to.throw();
    // And nothing of the key is in the clear: no 16-byte window of the secret key appears in the blob.
    expect(sharedWindows(backup, keys.secretKey)).to.equal(0);
  });

  it("binds the header: a backup whose header was altered (another bundle) or moved to another deployment does not open", async function () {
    const signature = await signKeyBackup(patient, DOMAIN);
    const backup = sealKeyBackup(input(), DOMAIN, signature);
    const { header, sections } = decodeEnvelope(backup, "key-backup");
    const altered = encodeEnvelope("key-backup", { ...header, keyBundle: `0x${"ab".repeat(32)}` }, [["ciphertext", sections.get("ciphertext")!]]);
    expect(backupErrorOf(() => openKeyBackup(altered, { patient: patient.address, domain: DOMAIN, signature })).code).to.equal("does_not_open");

    const otherDomain: KeyBackupDomain = keyBackupDomain(1, CONTRACT);
    expect(backupErrorOf(() => openKeyBackup(backup, { patient: patient.address, domain: otherDomain, signature })).code).to.equal("wrong_deployment");
    // Re-labelled for the other deployment and opened with that deployment's signature: the key differs.
    const relabelled = encodeEnvelope("key-backup", { ...header, chainId: "1" }, [["ciphertext", sections.get("ciphertext")!]]);
    const otherSignature = await signKeyBackup(patient, otherDomain);
    expect(otherSignature).to.not.equal(signature);
    expect(backupErrorOf(() => openKeyBackup(relabelled, { patient: patient.address, domain: otherDomain, signature: otherSignature })).code).to.equal("does_not_open");
  });

  it("refuses a signature from a wallet that signs something else than it was asked", async function () {
    const liar = {
      getAddress: async () => patient.address,
      signTypedData: (domain: KeyBackupDomain, types: typeof KEY_BACKUP_TYPES, message: Record<string, unknown>) =>
        patient.signTypedData(domain, types, { ...message, purpose: "something else" }),
    } as unknown as Signer;
    expect((await signKeyBackup(liar, DOMAIN).then(() => undefined, (e: unknown) => e as KeyBackupError))?.code).to.equal("bad_signature");
  });

  it("is bounded and checkable without opening: the largest secret key fits, too large / wrong kind / extra section / bad header are named", async function () {
    const signature = await signKeyBackup(patient, DOMAIN);
    const backup = sealKeyBackup(input(), DOMAIN, signature);
    expect(backup.length).to.be.lessThan(MAX_KEY_BACKUP_BYTES);
    expect(MAX_KEY_BACKUP_BYTES).to.be.lessThan(400 * 1024); // a secret key's worth, not a key bundle's megabytes
    expect(readKeyBackupHeader(backup).patient).to.equal(patient.address.toLowerCase());

    const { header, sections } = decodeEnvelope(backup, "key-backup");
    const ciphertext = sections.get("ciphertext")!;
    const code = (bytes: Uint8Array) => {
      const checked = checkKeyBackupBlob(bytes);
      return checked.ok ? "ok" : checked.code;
    };
    expect(code(backup)).to.equal("ok");
    expect(code(new Uint8Array(MAX_KEY_BACKUP_BYTES + 1))).to.equal("too_large");
    const share = sealShare({ jobId: keyBundleHash, modelId: keyBundleHash, probability: 0.5, predictedClass: 1 }, { patient: patient.address, hospital: patient.address, hospitalKey: hospitalKeyPair().publicKey });
    expect(code(share)).to.equal("wrong_kind");
    expect(code(encodeEnvelope("key-backup", header, [["ciphertext", ciphertext], ["extra", new Uint8Array(4)]]))).to.equal("bad_sections");
    expect(code(encodeEnvelope("key-backup", { ...header, scheme: "plaintext/1" }, [["ciphertext", ciphertext]]))).to.equal("bad_header");
    expect(code(encodeEnvelope("key-backup", { ...header, patient: patient.address }, [["ciphertext", ciphertext]]))).to.equal("bad_header"); // mixed case: one encoding only
    expect(backupErrorOf(() => readKeyBackupHeader(share)).code).to.equal("not_a_backup");
  });
});
