import type { CKKSEncoder, Ciphertext, ClassHandle, Evaluator, GaloisKeys, SEALContext, SecretKey, Encryptor, Decryptor } from "node-seal";
import { z } from "zod";
import { decodeEnvelope, encodeEnvelope, EnvelopeError, requireSection, type Envelope } from "../envelope.js";
import { linearResultBound, MAX_ABS_RESULT_VALUE, MAX_ABS_TUPLE_VALUE } from "./bounds.js";
import { FheError, sealStep, type FheErrorCode } from "./errors.js";
import { PARAMETER_SET_NAMES, parameterSet, type CkksParameterSet, type ParameterSetName } from "./params.js";
import { loadSeal, withScope, type Seal, type SealScope } from "./runtime.js";

/**
 * Single-record layout: the standardised tuple sits in slots 0..n-1 of one ciphertext; the server multiplies by
 * the weights slot-wise and sums the first ROTATION_WINDOW slots with log2(window) rotations, leaving T in slot 0.
 */
export const ROTATION_WINDOW = 16;
export const LINEAR_ROTATION_STEPS: readonly number[] = [1, 2, 4, 8];

/** SEAL's Galois element for a left rotation by `step` slots: 3^step mod 2N. */
function galoisElement(step: number, polyModulusDegree: number): number {
  const modulus = BigInt(2 * polyModulusDegree);
  let result = 1n;
  let base = 3n;
  for (let e = BigInt(step); e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return Number(result);
}

const KeyBundleHeaderSchema = z.object({
  parameterSet: z.enum(PARAMETER_SET_NAMES),
  galoisSteps: z.array(z.number().int()),
}).strict();

const RecordHeaderSchema = z.object({
  parameterSet: z.enum(PARAMETER_SET_NAMES),
  layout: z.literal("single-record"),
  values: z.number().int().min(1).max(ROTATION_WINDOW),
}).strict();

const ResultHeaderSchema = z.object({
  parameterSet: z.enum(PARAMETER_SET_NAMES),
  stage: z.literal("linear"),
  /** Slot that holds T = w·x + b. */
  slot: z.number().int().nonnegative(),
  /** What this is the result of: binds the blob to one on-chain job. */
  jobId: z.string(),
  recordHash: z.string(),
  modelHash: z.string(),
}).strict();

export type RecordHeader = z.infer<typeof RecordHeaderSchema>;
export type ResultHeader = z.infer<typeof ResultHeaderSchema>;

export interface KeySet {
  /** Stays on the patient's device. */
  secretKey: Uint8Array;
  /** Public key and evaluation (Galois) keys: uploaded, hashed, and registered on-chain. */
  keyBundle: Uint8Array;
}

function openEnvelope<T>(bytes: Uint8Array, kind: Envelope["kind"], schema: z.ZodType<T>, code: FheErrorCode): { header: T; envelope: Envelope } {
  let envelope: Envelope;
  try {
    envelope = decodeEnvelope(bytes, kind);
  } catch (err) {
    if (err instanceof EnvelopeError) throw new FheError(code, err.message, { cause: err });
    throw err;
  }
  const parsed = schema.safeParse(envelope.header);
  if (!parsed.success) throw new FheError(code, `bad ${kind} header: ${z.prettifyError(parsed.error)}`);
  return { header: parsed.data, envelope };
}

function section(envelope: Envelope, name: string, code: FheErrorCode): Uint8Array {
  try {
    return requireSection(envelope, name);
  } catch (err) {
    throw new FheError(code, (err as Error).message, { cause: err });
  }
}

/**
 * CKKS for one parameter set: the only place that touches SEAL. Client and coprocessor both use it,
 * so keys, records and results are produced and read by the same code.
 */
export class CkksEngine {
  private constructor(
    readonly seal: Seal,
    readonly parameterSetName: ParameterSetName,
    readonly params: CkksParameterSet,
    private readonly context: SEALContext,
    private readonly encoder: CKKSEncoder,
    private readonly evaluator: Evaluator,
  ) {}

  static async create(name: ParameterSetName): Promise<CkksEngine> {
    const seal = await loadSeal();
    const params = parameterSet(name);
    const context = withScope((scope) => {
      const parms = scope.track(new seal.EncryptionParameters(seal.SchemeType.ckks));
      parms.setPolyModulusDegree(params.polyModulusDegree);
      parms.setCoeffModulus(scope.track(seal.CoeffModulus.Create(params.polyModulusDegree, Int32Array.from(params.coeffModulusBits))));
      return new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    });
    if (!context.parametersSet()) {
      context.delete();
      throw new FheError("ParameterMismatch", `SEAL rejected parameter set ${name}`);
    }
    return new CkksEngine(seal, name, params, context, new seal.CKKSEncoder(context), new seal.Evaluator(context));
  }

  get scale(): number {
    return 2 ** this.params.scaleBits;
  }

  dispose(): void {
    for (const handle of [this.evaluator, this.encoder, this.context]) if (!handle.isDeleted()) handle.delete();
  }

  /** A fresh key set. Galois keys only for the rotation steps the layout needs (all steps would be ~24 MiB). */
  generateKeySet(galoisSteps: readonly number[] = LINEAR_ROTATION_STEPS): KeySet {
    const { seal } = this;
    return withScope((scope) => {
      const keygen = scope.track(new seal.KeyGenerator(this.context));
      const secretKey = scope.track(keygen.secretKey());
      const zstd = seal.ComprModeType.zstd;
      // Seeded ("serializable") keys store half their randomness as a seed: about half the upload.
      const publicKey = scope.track(keygen.createPublicKeySerializable()).saveToArray(zstd) as Uint8Array;
      const galois = scope.track(keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(galoisSteps))).saveToArray(zstd) as Uint8Array;
      const keyBundle = encodeEnvelope(
        "key-bundle",
        { parameterSet: this.parameterSetName, galoisSteps: [...galoisSteps] },
        [["publicKey", publicKey], ["galoisKeys", galois]],
      );
      return { secretKey: secretKey.saveToArray(zstd) as Uint8Array, keyBundle };
    });
  }

  /** Loads the patient's secret key for encrypting records and decrypting results; dispose it when done. */
  openSecretKey(bytes: Uint8Array): PatientCipher {
    const { seal } = this;
    const secretKey = sealStep(seal, "MalformedSecretKey", "cannot load secret key", () =>
      this.loadInto(new seal.SecretKey(), bytes),
    );
    return new PatientCipher(this, this.context, this.encoder, secretKey);
  }

  /** Parses and loads the evaluation keys of a bundle; dispose it when done (or keep it in a cache). */
  openKeyBundle(bytes: Uint8Array): EvaluationKeys {
    const { seal } = this;
    const { header, envelope } = openEnvelope(bytes, "key-bundle", KeyBundleHeaderSchema, "MalformedKeyBundle");
    if (header.parameterSet !== this.parameterSetName) {
      throw new FheError("ParameterMismatch", `key bundle uses ${header.parameterSet}, engine uses ${this.parameterSetName}`);
    }
    const galoisBytes = section(envelope, "galoisKeys", "MalformedKeyBundle");
    const galoisKeys = sealStep(seal, "MalformedKeyBundle", "cannot load Galois keys", () =>
      this.loadInto(new seal.GaloisKeys(), galoisBytes),
    );
    const absent = header.galoisSteps.filter((step) => step <= 0 || !galoisKeys.hasKey(galoisElement(step, this.params.polyModulusDegree)));
    if (absent.length > 0) {
      galoisKeys.delete();
      throw new FheError("MalformedKeyBundle", `key bundle claims rotation steps ${absent.join(",")} but holds no keys for them`);
    }
    return new EvaluationKeys(galoisKeys, header.galoisSteps);
  }

  /** Deserialises into a new long-lived SEAL object, freeing it if the bytes are refused. */
  private loadInto<T extends ClassHandle & { loadFromArray(context: SEALContext, bytes: Uint8Array): void }>(handle: T, bytes: Uint8Array): T {
    try {
      handle.loadFromArray(this.context, bytes);
      return handle;
    } catch (err) {
      handle.delete();
      throw err;
    }
  }

  /** Reads a record blob's header without loading the ciphertext. */
  readRecordHeader(bytes: Uint8Array): RecordHeader {
    return openEnvelope(bytes, "record", RecordHeaderSchema, "MalformedRecord").header;
  }

  /** Reads a result blob's header without loading the ciphertext. */
  readResultHeader(bytes: Uint8Array): ResultHeader {
    return openEnvelope(bytes, "result", ResultHeaderSchema, "MalformedResult").header;
  }

  /**
   * Server stage: T = w · x + b on an encrypted single-record tuple. Deterministic: the same inputs give the same
   * bytes, which is what lets independent coprocessors agree on a result hash.
   */
  evaluateLinear(
    keys: EvaluationKeys,
    recordBytes: Uint8Array,
    weights: readonly number[],
    bias: number,
    binding: Pick<ResultHeader, "jobId" | "recordHash" | "modelHash">,
  ): Uint8Array {
    const { seal, evaluator, encoder } = this;
    const { header, envelope } = openEnvelope(recordBytes, "record", RecordHeaderSchema, "MalformedRecord");
    if (header.parameterSet !== this.parameterSetName) {
      throw new FheError("ParameterMismatch", `record uses ${header.parameterSet}, engine uses ${this.parameterSetName}`);
    }
    if (header.values !== weights.length) {
      throw new FheError("ParameterMismatch", `record holds ${header.values} values, model has ${weights.length} weights`);
    }
    if (!weights.every(Number.isFinite) || !Number.isFinite(bias)) {
      throw new FheError("ParameterMismatch", "weights and bias must be finite numbers");
    }
    const bound = linearResultBound(weights, bias);
    if (bound > MAX_ABS_RESULT_VALUE) {
      throw new FheError("ParameterMismatch", `model can reach |T| = ${bound.toFixed(1)}, above the exact range ${MAX_ABS_RESULT_VALUE}`);
    }
    const missing = LINEAR_ROTATION_STEPS.filter((s) => !keys.galoisSteps.includes(s));
    if (missing.length > 0) throw new FheError("ParameterMismatch", `key bundle lacks rotation steps ${missing.join(",")}`);
    const ctBytes = section(envelope, "ciphertext", "MalformedRecord");

    return withScope((scope) => {
      const x = scope.track(new seal.Ciphertext());
      sealStep(seal, "MalformedRecord", "cannot load record ciphertext", () => x.loadFromArray(this.context, ctBytes));
      this.checkFreshCiphertext(x, scope, "MalformedRecord");

      return sealStep(seal, "EvaluationError", "linear stage failed", () => {
        const w = scope.track(new seal.Plaintext());
        encoder.encode(Float64Array.from(weights), this.scale, w);
        evaluator.multiplyPlainInplace(x, w);
        evaluator.rescaleToNextInplace(x);
        const rotated = scope.track(new seal.Ciphertext());
        for (let step = ROTATION_WINDOW / 2; step >= 1; step /= 2) {
          evaluator.rotateVector(x, step, keys.galoisKeys, rotated);
          evaluator.addInplace(x, rotated);
        }
        // The bias must carry exactly the scale and level the product has after the rescale, or SEAL refuses the add.
        const b = scope.track(new seal.Plaintext());
        const parmsId = scope.track(x.parmsId());
        encoder.encode(Float64Array.from([bias]), x.scale(), b);
        evaluator.plainModSwitchToInplace(b, parmsId);
        evaluator.addPlainInplace(x, b);
        // Dropping to the last level leaves one prime: the result blob shrinks to a quarter, and T stays exact
        // within MAX_ABS_RESULT_VALUE (checked above for the weights, by the client for the tuple).
        const lastParmsId = scope.track(this.context.lastParmsId());
        evaluator.cipherModSwitchToInplace(x, lastParmsId);
        const out = x.saveToArray(seal.ComprModeType.zstd) as Uint8Array;
        return encodeEnvelope(
          "result",
          { parameterSet: this.parameterSetName, stage: "linear", slot: 0, ...binding },
          [["ciphertext", out]],
        );
      });
    });
  }

  /** A record must be a fresh, degree-1 ciphertext at the top level; anything else was not made by a client. */
  checkFreshCiphertext(ct: Ciphertext, scope: SealScope, code: FheErrorCode): void {
    const first = scope.track(this.context.firstParmsId());
    const own = scope.track(ct.parmsId());
    const same = (first.values() as BigUint64Array).every((v, i) => v === (own.values() as BigUint64Array)[i]);
    if (!same) throw new FheError(code, "ciphertext is not at the first level of the parameter set");
    if (ct.size() !== 2) throw new FheError(code, `ciphertext has ${ct.size()} polynomials, expected 2`);
    if (Math.abs(Math.log2(ct.scale()) - this.params.scaleBits) > 1e-9) {
      throw new FheError(code, `ciphertext scale 2^${Math.log2(ct.scale()).toFixed(3)}, expected 2^${this.params.scaleBits}`);
    }
  }
}

/** Galois keys of one patient's bundle, loaded into SEAL. */
export class EvaluationKeys {
  constructor(readonly galoisKeys: GaloisKeys, readonly galoisSteps: readonly number[]) {}
  dispose(): void {
    if (!this.galoisKeys.isDeleted()) this.galoisKeys.delete();
  }
}

/** The patient's side: symmetric encryption of tuples and decryption of results under their secret key. */
export class PatientCipher {
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;

  constructor(
    private readonly engine: CkksEngine,
    private readonly context: SEALContext,
    private readonly encoder: CKKSEncoder,
    private readonly secretKey: SecretKey,
  ) {
    const { seal } = engine;
    // SEAL's Encryptor wants a public key even for symmetric use; one derived from the secret key is never stored.
    this.encryptor = withScope((scope) => {
      const keygen = scope.track(new seal.KeyGenerator(context, secretKey));
      const publicKey = scope.track(keygen.createPublicKey());
      return new seal.Encryptor(context, publicKey, secretKey);
    });
    this.decryptor = new seal.Decryptor(context, secretKey);
  }

  dispose(): void {
    for (const handle of [this.encryptor, this.decryptor, this.secretKey]) if (!handle.isDeleted()) handle.delete();
  }

  /**
   * Encrypts a standardised tuple as a record blob. Secret-key (seeded) encryption halves the upload compared
   * with public-key encryption, and only the key owner ever encrypts their own records.
   */
  encryptTuple(values: readonly number[]): Uint8Array {
    const { seal } = this.engine;
    if (values.length < 1 || values.length > ROTATION_WINDOW) {
      throw new FheError("MalformedRecord", `a single-record tuple holds 1..${ROTATION_WINDOW} values, got ${values.length}`);
    }
    if (!values.every(Number.isFinite)) throw new FheError("MalformedRecord", "tuple values must be finite numbers");
    const outlier = values.findIndex((v) => Math.abs(v) > MAX_ABS_TUPLE_VALUE);
    if (outlier >= 0) {
      throw new FheError("MalformedRecord", `tuple value ${outlier} is ${values[outlier]}, outside ±${MAX_ABS_TUPLE_VALUE}`);
    }
    return withScope((scope) => {
      const pt = scope.track(new seal.Plaintext());
      this.encoder.encode(Float64Array.from(values), this.engine.scale, pt);
      const ct = scope.track(this.encryptor.encryptSymmetricSerializable(pt)).saveToArray(seal.ComprModeType.zstd) as Uint8Array;
      return encodeEnvelope(
        "record",
        { parameterSet: this.engine.parameterSetName, layout: "single-record", values: values.length },
        [["ciphertext", ct]],
      );
    });
  }

  /** Decrypts a result blob and returns the value in its result slot (the logit T). */
  decryptResult(resultBytes: Uint8Array): { header: ResultHeader; value: number } {
    const { seal } = this.engine;
    const { header, envelope } = openEnvelope(resultBytes, "result", ResultHeaderSchema, "MalformedResult");
    if (header.parameterSet !== this.engine.parameterSetName) {
      throw new FheError("ParameterMismatch", `result uses ${header.parameterSet}, engine uses ${this.engine.parameterSetName}`);
    }
    const ctBytes = section(envelope, "ciphertext", "MalformedResult");
    return withScope((scope) => {
      const ct = scope.track(new seal.Ciphertext());
      sealStep(seal, "MalformedResult", "cannot load result ciphertext", () => ct.loadFromArray(this.context, ctBytes));
      const pt = scope.track(new seal.Plaintext());
      const decoded = sealStep(seal, "MalformedResult", "cannot decrypt result", () => {
        this.decryptor.decrypt(ct, pt);
        return this.encoder.decodeFloat64(pt) as Float64Array;
      });
      const value = decoded[header.slot];
      if (value === undefined) throw new FheError("MalformedResult", `result slot ${header.slot} is out of range`);
      return { header, value };
    });
  }
}
