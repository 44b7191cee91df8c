import { expect } from "chai";
import type { CKKSEncoder, Decryptor, SEALContext, SecretKey } from "node-seal";
import { decodeEnvelope } from "../../protocol/envelope.js";
import type { CkksEngine, KeyBinding, KeySet, PatientCipher } from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { contentHash } from "../../protocol/hash.js";

/** w·x + b in plaintext: what a linear stage decrypts to. */
export function dot(weights: readonly number[], values: readonly number[], bias: number): number {
  if (weights.length !== values.length) throw new RangeError(`${weights.length} weights for ${values.length} values`);
  let sum = bias;
  for (let i = 0; i < values.length; i++) sum += weights[i]! * values[i]!;
  return sum;
}

/** The FheError `fn` throws, or undefined if it throws nothing; anything else it throws fails the test. */
export function fheErrorOf(fn: () => unknown): FheError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof FheError) return err;
    expect.fail(`expected an FheError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  return undefined;
}

/** The FheError `fn` throws, which must have `code` (and a message matching `message`). */
export function expectFheError(fn: () => unknown, code: FheErrorCode, message?: RegExp): FheError {
  const err = fheErrorOf(fn);
  if (!err) expect.fail(`expected an FheError ${code}, but nothing was thrown`);
  expect(err.code, err.message).to.equal(code);
  if (message) expect(err.message).to.match(message);
  return err;
}

/** Where a blob's header JSON ends, read straight from the documented container prefix (magic, version, length). */
export function headerEnd(bytes: Uint8Array): number {
  return 9 + new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, false);
}

/** A fixed patient address for tests that have no wallet. */
export const TEST_PATIENT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

/** The binding a key set's cipher stamps into records: the bundle's patient and the bundle's content hash. */
export function bindingOf(engine: CkksEngine, keySet: KeySet): KeyBinding {
  return { patient: engine.readKeyBundleHeader(keySet.keyBundle).patient, keyBundleHash: contentHash(keySet.keyBundle) };
}

/** Opens a key set's secret key bound to its own bundle, as a patient's client does. */
export function openCipher(engine: CkksEngine, keySet: KeySet): PatientCipher {
  return engine.openSecretKey(keySet.secretKey, bindingOf(engine, keySet));
}

/**
 * SEAL objects of the engine's parameter set made here, outside the engine: the engine never decrypts more than a
 * result's result slots, and never makes keys for arbitrary rotation steps, but tests need both.
 */
export class SealProbe {
  private readonly context: SEALContext;
  private readonly encoder: CKKSEncoder;
  private readonly secretKey: SecretKey;
  private readonly decryptor: Decryptor;

  constructor(private readonly engine: CkksEngine, secretKeyBytes: Uint8Array) {
    const { seal, params } = engine;
    const parms = new seal.EncryptionParameters(seal.SchemeType.ckks);
    const moduli = seal.CoeffModulus.Create(params.polyModulusDegree, Int32Array.from(params.coeffModulusBits));
    try {
      parms.setPolyModulusDegree(params.polyModulusDegree);
      parms.setCoeffModulus(moduli);
      this.context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    } finally {
      moduli.delete();
      parms.delete();
    }
    this.encoder = new seal.CKKSEncoder(this.context);
    this.secretKey = new seal.SecretKey();
    this.secretKey.loadFromArray(this.context, secretKeyBytes);
    this.decryptor = new seal.Decryptor(this.context, this.secretKey);
  }

  /** Every slot of a result blob's ciphertext, decrypted. */
  decryptAllSlots(resultBytes: Uint8Array): Float64Array {
    const { seal } = this.engine;
    const ctBytes = decodeEnvelope(resultBytes, "result").sections.get("ciphertext")!;
    const ct = new seal.Ciphertext();
    const pt = new seal.Plaintext();
    try {
      ct.loadFromArray(this.context, ctBytes);
      this.decryptor.decrypt(ct, pt);
      return Float64Array.from(this.encoder.decodeFloat64(pt) as Float64Array);
    } finally {
      pt.delete();
      ct.delete();
    }
  }

  /** Seeded Galois keys of this secret key for exactly `steps`, serialised as a key bundle's section. */
  galoisKeys(steps: readonly number[]): Uint8Array {
    const { seal } = this.engine;
    const keygen = new seal.KeyGenerator(this.context, this.secretKey);
    try {
      const keys = keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(steps));
      try {
        return keys.saveToArray(seal.ComprModeType.zstd) as Uint8Array;
      } finally {
        keys.delete();
      }
    } finally {
      keygen.delete();
    }
  }

  dispose(): void {
    for (const handle of [this.decryptor, this.secretKey, this.encoder, this.context]) if (!handle.isDeleted()) handle.delete();
  }
}
