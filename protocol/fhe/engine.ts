import type {
  CKKSEncoder,
  Ciphertext,
  ClassHandle,
  Decryptor,
  Encryptor,
  Evaluator,
  GaloisKeys,
  Plaintext,
  RelinKeys,
  SEALContext,
  SecretKey,
} from "node-seal";
import { encodeEnvelope, requireSection, type Envelope } from "../envelope.js";
import { linearResultBound, MAX_ABS_RESULT_VALUE, MAX_ABS_TUPLE_VALUE } from "./bounds.js";
import { lastLevelPrime, linearStage, NEGLIGIBLE_WEIGHT, PlaintextCache, polynomialDepth, polynomialStage, type ResultSlots, type SealKit } from "./circuits.js";
import { FheError, sealStep, type FheErrorCode } from "./errors.js";
import {
  checkJobResultHeader,
  checkRecordHeader,
  checkRecordsHeader,
  checkResultHeader,
  featureSectionName,
  normaliseAddress,
  openBlobHeader,
  openKeyBundle,
  normaliseHash,
  recordSectionNames,
  RESULT_SECTION_NAMES,
  sectionRawLimit,
  type HeaderCheck,
  type JobResultHeader,
  type KeyBundleHeader,
  type RecordHeader,
  type RecordsHeader,
  type ResultBinding,
  type ResultHeader,
  type ResultStage,
} from "./headers.js";
import { layoutCapacity, layoutProblem, layoutRotationSteps, maxTupleValues, MIN_RECORD_STRIDE, recordPrimes, recordStride, resultSlot, tupleWidthProblem, widestTupleFor, type Layout } from "./layouts.js";
import { parameterSet, type CkksParameterSet, type ParameterSetName } from "./params.js";
import { loadSeal, withScope, type Seal, type SealScope } from "./runtime.js";
import { sealBytesProblem, sealSizeLimits } from "./serialized.js";
import type { SigmoidPolynomial } from "./sigmoid.js";

export { featureSectionName, RESULT_STAGES } from "./headers.js";
export type {
  BatchRecordHeader,
  JobResultHeader,
  KeyBundleHeader,
  RecordHeader,
  RecordsHeader,
  ResultBinding,
  ResultHeader,
  ResultStage,
} from "./headers.js";

/**
 * Rotation layouts: the server multiplies the tuple by the weights slot-wise and sums each window of one record
 * stride (16 slots for tuples up to 16 wide) with log2(stride) rotations. These are the steps of a default bundle.
 */
export const LINEAR_ROTATION_STEPS: readonly number[] = layoutRotationSteps("single-record");

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

/** A decrypted job result: one value per record, in record order (T, or p for "sigmoid-poly"). */
export interface BatchResult {
  header: JobResultHeader;
  layout: Layout;
  stage: ResultStage;
  values: number[];
}

/** What the server stage needs from a key bundle; both `EvaluationKeys` and `LayoutEvaluationKeys` provide it. */
export interface EvaluationKeyMaterial {
  readonly galoisKeys?: GaloisKeys | undefined;
  readonly galoisSteps: readonly number[];
  readonly relinKeys?: RelinKeys | undefined;
}

/** Whose keys these are: the patient's address goes into the key bundle's header. */
export interface KeySetOptions {
  /** The patient's address (0x and 40 hex digits; any case, or EIP-55 checksummed), written in lower case. */
  patient: string;
}

export interface LayoutKeyOptions extends KeySetOptions {
  /** Also make relinearization keys, for the non-interactive variant that evaluates p(T) ≈ σ(T) on the server. */
  sigmoid?: boolean;
  /**
   * The widest tuple the keys must evaluate in the rotation layouts (default 16): the bundle holds the Galois keys
   * of its record stride, log2(stride) of them (4 up to 16 values, 8 for 256). Keys for a stride serve every
   * narrower tuple too.
   */
  maxValues?: number;
}

/**
 * What a secret key belongs to: its patient and the hash of the key bundle made with it. The cipher writes both
 * into every record it encrypts, so a record names its owner and keys, and a copy re-wrapped by someone else
 * does not pass as theirs.
 */
export interface KeyBinding {
  /** The patient's address, as in the key bundle's header (any case accepted, written in lower case). */
  patient: string;
  /** `contentHash(keyBundle)`: keccak256 of the key-bundle blob, 0x and 64 hex digits. */
  keyBundleHash: string;
}

/** Below this sigmoid output scale the polynomial stage would lose precision (its noise is ~2^11). */
const MIN_SIGMOID_SCALE_BITS = 30;
/** The normalised logit u may not exceed this in magnitude (u² must stay far inside the second-to-last level). */
const MAX_ABS_NORMALISED_LOGIT = 1e5;

export interface KeySet {
  /** Stays on the patient's device. */
  secretKey: Uint8Array;
  /**
   * Public key and evaluation keys (Galois keys for the rotation layouts, relinearization keys for the sigmoid
   * variant), and the patient it belongs to: uploaded, hashed, and registered on-chain.
   */
  keyBundle: Uint8Array;
}

/** Decodes a blob and checks its header; any refusal is an FheError `code` (headers.ts, SEAL-free). */
const openEnvelope = openBlobHeader;

function section(envelope: Envelope, name: string, code: FheErrorCode): Uint8Array {
  try {
    return requireSection(envelope, name);
  } catch (err) {
    throw new FheError(code, (err as Error).message, { cause: err });
  }
}

/** Refuses SEAL bytes that are not one well-formed object of at most `maxRawBytes` (see serialized.ts). */
function checkSealBytes(bytes: Uint8Array, maxRawBytes: number, code: FheErrorCode, what: string): void {
  const problem = sealBytesProblem(bytes, maxRawBytes);
  if (problem !== undefined) throw new FheError(code, `${what}: ${problem}`);
}

function sameParms(a: { values(): unknown }, b: { values(): unknown }): boolean {
  const x = a.values() as BigUint64Array;
  const y = b.values() as BigUint64Array;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Checks that the weights and bias are a model the exact range allows, with at least one usable weight. */
function checkModel(weights: readonly number[], bias: number, values: number): void {
  if (values !== weights.length) {
    throw new FheError("ParameterMismatch", `record holds ${values} values, model has ${weights.length} weights`);
  }
  if (!weights.every(Number.isFinite) || !Number.isFinite(bias)) {
    throw new FheError("ParameterMismatch", "weights and bias must be finite numbers");
  }
  const bound = linearResultBound(weights, bias);
  if (bound > MAX_ABS_RESULT_VALUE) {
    throw new FheError("ParameterMismatch", `model can reach |T| = ${bound.toFixed(1)}, above the exact range ${MAX_ABS_RESULT_VALUE}`);
  }
  if (!weights.some((w) => Math.abs(w) >= NEGLIGIBLE_WEIGHT)) {
    throw new FheError("ParameterMismatch", "model has no weight of magnitude 2^-30 or more: T would not depend on the record");
  }
}

function patientAddress(value: unknown): string {
  const patient = normaliseAddress(value);
  if (!patient) throw new FheError("MalformedKeyBundle", `patient must be an address (0x and 40 hex digits), got ${JSON.stringify(value)}`);
  return patient;
}

/** A validated job: the record's header and its ciphertext sections, not yet loaded. */
interface JobInput {
  header: RecordsHeader;
  layout: Layout;
  records: number;
  sections: Uint8Array[];
}

/**
 * CKKS for one parameter set: the only place that touches SEAL. Client and coprocessor both use it,
 * so keys, records and results are produced and read by the same code.
 */
export class CkksEngine {
  private readonly kit: SealKit;
  private readonly limits: ReturnType<typeof sealSizeLimits>;
  /**
   * Encoded model constants (weights, bias, polynomial coefficients) reused across jobs of the same model: 64
   * plaintexts plus one per entry of the widest tuple (a feature-major job encodes one weight plaintext per entry; a
   * smaller cache would evict each before its next use and re-encode them all for every job). At most
   * (64 + 256) x 256 KiB = 80 MiB of WASM heap at N=8192 (linear stages encode at two or three primes, half that),
   * released by `dispose`.
   */
  private readonly plaintexts: PlaintextCache;

  private constructor(
    readonly seal: Seal,
    readonly parameterSetName: ParameterSetName,
    readonly params: CkksParameterSet,
    private readonly context: SEALContext,
    private readonly encoder: CKKSEncoder,
    private readonly evaluator: Evaluator,
  ) {
    this.plaintexts = new PlaintextCache(64 + maxTupleValues(parameterSetName));
    this.kit = { seal, context, encoder, evaluator, params, plaintexts: this.plaintexts };
    this.limits = sealSizeLimits(params.polyModulusDegree, params.coeffModulusBits.length);
  }

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
    this.plaintexts.dispose();
    for (const handle of [this.evaluator, this.encoder, this.context]) if (!handle.isDeleted()) handle.delete();
  }

  /**
   * A fresh key set for the patient `options.patient`, for the rotation layouts (single-record, packed-records):
   * the same bundle as `generateKeySetFor("single-record", options)`.
   */
  generateKeySet(options: KeySetOptions & Pick<LayoutKeyOptions, "maxValues" | "sigmoid">): KeySet {
    return this.generateKeySetFor("single-record", { patient: options?.patient, maxValues: options?.maxValues, sigmoid: options?.sigmoid });
  }

  /**
   * A fresh key set for one layout: Galois keys only for the rotations that layout performs (none for
   * feature-major, which then has no `galoisKeys` section at all; all steps would be ~24 MiB), relinearization keys
   * only for the sigmoid variant. The bundle's header names the patient.
   */
  generateKeySetFor(layout: Layout, options: LayoutKeyOptions): KeySet {
    const patient = patientAddress(options?.patient);
    if (options.sigmoid) this.requireSigmoidDepth(1);
    const maxValues = options.maxValues ?? MIN_RECORD_STRIDE;
    const wide = tupleWidthProblem(maxValues, this.parameterSetName);
    if (wide) throw new FheError("ParameterMismatch", `cannot make keys for that width: ${wide}`);
    const galoisSteps = layoutRotationSteps(layout, maxValues);
    const { seal } = this;
    return withScope((scope) => {
      const keygen = scope.track(new seal.KeyGenerator(this.context));
      const secretKey = scope.track(keygen.secretKey());
      const zstd = seal.ComprModeType.zstd;
      // Seeded ("serializable") keys store half their randomness as a seed: about half the upload.
      const publicKey = scope.track(keygen.createPublicKeySerializable()).saveToArray(zstd) as Uint8Array;
      const sections: [string, Uint8Array][] = [["publicKey", publicKey]];
      if (galoisSteps.length > 0) {
        const galois = scope.track(keygen.createGaloisKeysSerializableWithSteps(Int32Array.from(galoisSteps))).saveToArray(zstd) as Uint8Array;
        sections.push(["galoisKeys", galois]);
      }
      if (options.sigmoid) {
        sections.push(["relinKeys", scope.track(keygen.createRelinKeysSerializable()).saveToArray(zstd) as Uint8Array]);
      }
      const header: KeyBundleHeader = { parameterSet: this.parameterSetName, galoisSteps: [...galoisSteps], patient };
      const keyBundle = encodeEnvelope("key-bundle", header, sections);
      return { secretKey: secretKey.saveToArray(zstd) as Uint8Array, keyBundle };
    });
  }

  /**
   * Loads the patient's secret key for encrypting records and decrypting results; dispose it when done. `binding`
   * names the patient and the key bundle made with this key: every record the cipher encrypts carries both.
   */
  openSecretKey(bytes: Uint8Array, binding: KeyBinding): PatientCipher {
    const { seal } = this;
    const patient = patientAddress(binding?.patient);
    const keyBundle = normaliseHash(binding?.keyBundleHash);
    if (!keyBundle) {
      throw new FheError("MalformedKeyBundle", `keyBundleHash must be 0x and 64 hex digits, got ${JSON.stringify(binding?.keyBundleHash)}`);
    }
    checkSealBytes(bytes, this.limits.secretKey, "MalformedSecretKey", "cannot load secret key");
    const secretKey = sealStep(seal, "MalformedSecretKey", "cannot load secret key", () =>
      this.loadInto(new seal.SecretKey(), bytes),
    );
    return new PatientCipher(this, this.context, this.encoder, secretKey, { patient, keyBundle });
  }

  /** Reads a key bundle's header (parameter set, rotation steps, patient) without loading any key. */
  readKeyBundleHeader(bytes: Uint8Array): KeyBundleHeader {
    return this.openBundle(bytes).header;
  }

  /** Decodes a key bundle and checks its header and sections, without SEAL. */
  private openBundle(bytes: Uint8Array): { header: KeyBundleHeader; envelope: Envelope } {
    return openKeyBundle(bytes);
  }

  /** Parses and loads the evaluation keys of a rotation-layout bundle; dispose it when done (or keep it in a cache). */
  openKeyBundle(bytes: Uint8Array): EvaluationKeys {
    const { header, envelope } = this.openBundle(bytes);
    if (header.parameterSet !== this.parameterSetName) {
      throw new FheError("ParameterMismatch", `key bundle uses ${header.parameterSet}, engine uses ${this.parameterSetName}`);
    }
    const galoisBytes = section(envelope, "galoisKeys", "MalformedKeyBundle");
    return new EvaluationKeys(this.loadGaloisKeys(galoisBytes, header), header.galoisSteps);
  }

  /**
   * Parses and loads a bundle of any layout: Galois keys when it claims rotation steps (a bundle claiming none must
   * not carry any), relinearization keys when present. Dispose it when done.
   */
  openEvaluationKeys(bytes: Uint8Array): LayoutEvaluationKeys {
    const { seal } = this;
    const { header, envelope } = this.openBundle(bytes);
    if (header.parameterSet !== this.parameterSetName) {
      throw new FheError("ParameterMismatch", `key bundle uses ${header.parameterSet}, engine uses ${this.parameterSetName}`);
    }
    const relinBytes = envelope.sections.get("relinKeys");
    if (relinBytes) {
      checkSealBytes(relinBytes, sectionRawLimit({ kind: "key-bundle", header }, "relinKeys"), "MalformedKeyBundle", "cannot load relinearization keys");
    }
    const galoisKeys = header.galoisSteps.length > 0
      ? this.loadGaloisKeys(section(envelope, "galoisKeys", "MalformedKeyBundle"), header)
      : undefined;
    let relinKeys: RelinKeys | undefined;
    if (relinBytes) {
      try {
        relinKeys = sealStep(seal, "MalformedKeyBundle", "cannot load relinearization keys", () =>
          this.loadInto(new seal.RelinKeys(), relinBytes),
        );
        if (relinKeys.size() !== 1) throw new FheError("MalformedKeyBundle", `relinearization keys hold ${relinKeys.size()} keys, expected 1`);
      } catch (err) {
        relinKeys?.delete();
        galoisKeys?.delete();
        throw err;
      }
    }
    return new LayoutEvaluationKeys(galoisKeys, header.galoisSteps, relinKeys);
  }

  private loadGaloisKeys(galoisBytes: Uint8Array, header: KeyBundleHeader): GaloisKeys {
    const { seal } = this;
    checkSealBytes(galoisBytes, sectionRawLimit({ kind: "key-bundle", header }, "galoisKeys"), "MalformedKeyBundle", "cannot load Galois keys");
    const galoisKeys = sealStep(seal, "MalformedKeyBundle", "cannot load Galois keys", () =>
      this.loadInto(new seal.GaloisKeys(), galoisBytes),
    );
    const absent = header.galoisSteps.filter((step) => !galoisKeys.hasKey(galoisElement(step, this.params.polyModulusDegree)));
    if (absent.length > 0) {
      galoisKeys.delete();
      throw new FheError("MalformedKeyBundle", `key bundle claims rotation steps ${absent.join(",")} but holds no keys for them`);
    }
    return galoisKeys;
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

  /** Reads a single-record blob's header without loading the ciphertext. */
  readRecordHeader(bytes: Uint8Array): RecordHeader {
    return openEnvelope(bytes, "record", checkRecordHeader, "MalformedRecord").header;
  }

  /** Reads a single-record linear result's header without loading the ciphertext. */
  readResultHeader(bytes: Uint8Array): ResultHeader {
    return openEnvelope(bytes, "result", checkResultHeader, "MalformedResult").header;
  }

  /** Reads the header of a record blob of any layout (with its patient and key-bundle hash) without loading its ciphertexts. */
  readRecordsHeader(bytes: Uint8Array): RecordsHeader {
    return openEnvelope(bytes, "record", checkRecordsHeader, "MalformedRecord").header;
  }

  /** Reads the header of a result blob of any layout and stage without loading its ciphertext. */
  readJobResultHeader(bytes: Uint8Array): JobResultHeader {
    return openEnvelope(bytes, "result", checkJobResultHeader, "MalformedResult").header;
  }

  /**
   * Server stage: T = w · x + b on an encrypted single-record tuple (the original API; `evaluateLinearBatch`
   * gives the same bytes). Deterministic: the same inputs give the same bytes, which is what lets independent
   * coprocessors agree on a result hash.
   */
  evaluateLinear(keys: EvaluationKeys, recordBytes: Uint8Array, weights: readonly number[], bias: number, binding: ResultBinding): Uint8Array {
    const job = this.openJob(recordBytes, checkRecordHeader);
    checkModel(weights, bias, job.header.values);
    this.requireGaloisSteps(keys, job);
    return this.runJob(keys, job, weights, bias, undefined, this.resultHeader(job, "linear", binding));
  }

  /**
   * Server stage, linear variant, for a record blob of any layout: T = w · x + b for every record of the job.
   * Single-record blobs give exactly `evaluateLinear`'s result; batch layouts give a result whose header names the
   * layout and record count. Deterministic like `evaluateLinear`. Every slot that is not a result slot decrypts
   * to 0 (single-record: every slot holds T).
   */
  evaluateLinearBatch(
    keys: EvaluationKeyMaterial,
    recordBytes: Uint8Array,
    weights: readonly number[],
    bias: number,
    binding: ResultBinding,
  ): Uint8Array {
    const job = this.openJob(recordBytes, checkRecordsHeader);
    checkModel(weights, bias, job.header.values);
    this.requireGaloisSteps(keys, job);
    return this.runJob(keys, job, weights, bias, undefined, this.resultHeader(job, "linear", binding));
  }

  /**
   * Server stage, non-interactive variant: p(T) ≈ σ(T) for every record of a job of any layout, with `polynomial`
   * from `fitSigmoidPolynomial`; the patient decrypts probabilities. Needs a bundle made with `{ sigmoid: true }`
   * and a parameter set with depth for the polynomial (ckks-n8192-d3: degree <= 3).
   *
   * The map T → u = (2T − a − b)/(b − a) onto the fitted interval is folded into the weights and bias, so the
   * linear stage yields u directly. The output scale is the largest power of two <= 2^scaleBits for which
   * |p| over every u the model can produce (|u| <= the model's bound) stays below a quarter of the last prime;
   * a model/interval pair that would need less than 2^30 is refused (ParameterMismatch).
   */
  evaluateSigmoidPoly(
    keys: EvaluationKeyMaterial,
    recordBytes: Uint8Array,
    weights: readonly number[],
    bias: number,
    polynomial: SigmoidPolynomial,
    binding: ResultBinding,
  ): Uint8Array {
    const job = this.openJob(recordBytes, checkRecordsHeader);
    checkModel(weights, bias, job.header.values);
    const coefficients = this.checkPolynomial(polynomial);
    this.requireGaloisSteps(keys, job);
    if (!keys.relinKeys) throw new FheError("ParameterMismatch", "key bundle has no relinearization keys (made without { sigmoid: true })");
    const [a, b] = polynomial.interval;
    const normalisedWeights = weights.map((w) => (2 * w) / (b - a));
    const normalisedBias = (2 * bias - a - b) / (b - a);
    if (!normalisedWeights.some((w) => Math.abs(w) >= NEGLIGIBLE_WEIGHT)) {
      throw new FheError("ParameterMismatch", `interval [${a}, ${b}] is so wide that every weight vanishes in u = (2T − a − b)/(b − a)`);
    }
    const uBound = linearResultBound(normalisedWeights, normalisedBias);
    if (!(uBound <= MAX_ABS_NORMALISED_LOGIT)) {
      throw new FheError("ParameterMismatch", `interval [${a}, ${b}] is too narrow for this model: |u| can reach ${uBound.toExponential(2)}`);
    }
    const pBound = coefficients.reduce((sum, c, k) => sum + Math.abs(c) * Math.max(uBound, 1) ** k, 0);
    const q0 = withScope((scope) => lastLevelPrime(this.kit, scope));
    const scaleBits = Math.min(this.params.scaleBits, Math.floor(Math.log2(q0 / (4 * pBound))));
    if (scaleBits < MIN_SIGMOID_SCALE_BITS) {
      throw new FheError(
        "ParameterMismatch",
        `the polynomial can reach |p| = ${pBound.toExponential(2)} over this model's range (|u| <= ${uBound.toFixed(1)}), ` +
          `leaving an output scale of 2^${scaleBits} (< 2^${MIN_SIGMOID_SCALE_BITS}); widen the interval`,
      );
    }
    const header = this.resultHeader(job, "sigmoid-poly", binding);
    return this.runJob(keys, job, normalisedWeights, normalisedBias, { coefficients, outputScale: 2 ** scaleBits }, header);
  }

  /**
   * A hidden layer: h dot products over one tuple, for a round of a multi-round model. The client replicates the
   * tuple into h blocks of a packed-records record; block k is evaluated with row k, so the patient decrypts
   * h values (block k's result slot) from one ciphertext, still one level and the layout's rotation keys.
   */
  evaluateLinearRows(
    keys: EvaluationKeyMaterial,
    recordBytes: Uint8Array,
    rows: readonly (readonly number[])[],
    biases: readonly number[],
    binding: ResultBinding,
  ): Uint8Array {
    if (this.params.rotateBeforeRescale) {
      throw new FheError(
        "ParameterMismatch",
        `${this.parameterSetName} rotates before its one rescale and has no level left to clear the slots between a hidden ` +
          `layer's h results, which would reveal partial sums of w·x; evaluate models with hidden rounds on ckks-n8192-d3`,
      );
    }
    const job = this.openJob(recordBytes, checkRecordsHeader);
    if (job.layout !== "packed-records") throw new FheError("ParameterMismatch", `a hidden layer needs a packed-records record, got ${job.layout}`);
    if (rows.length !== job.records || biases.length !== rows.length) {
      throw new FheError("ParameterMismatch", `record holds ${job.records} copies of the tuple, the stage has ${rows.length} rows and ${biases.length} biases`);
    }
    rows.forEach((row, k) => checkModel(row, biases[k]!, job.header.values));
    this.requireGaloisSteps(keys, job);
    return this.runJob(keys, job, rows[0]!, biases[0]!, undefined, this.resultHeader(job, "linear", binding), { weights: rows, biases });
  }

  /** Single-record results keep the original header (T, or p(T), in slot 0); batch results name layout and count. */
  private resultHeader(job: JobInput, stage: ResultStage, binding: ResultBinding): JobResultHeader {
    const { jobId, recordHash, modelHash } = binding;
    if (job.layout === "single-record") return { parameterSet: this.parameterSetName, stage, slot: 0, jobId, recordHash, modelHash };
    const stride = recordStride(job.header.values);
    const wide = job.layout === "packed-records" && stride !== MIN_RECORD_STRIDE ? { stride } : {};
    return { parameterSet: this.parameterSetName, layout: job.layout, stage, records: job.records, ...wide, jobId, recordHash, modelHash };
  }

  /** Polynomial coefficients after validation; the parameter set must have depth for them after the linear stage. */
  private checkPolynomial(polynomial: SigmoidPolynomial): number[] {
    const { interval, coefficients } = (polynomial ?? {}) as Partial<SigmoidPolynomial>;
    if (!Array.isArray(interval) || interval.length !== 2 || !interval.every(Number.isFinite) || !(interval[0]! < interval[1]!)) {
      throw new FheError("ParameterMismatch", "sigmoid polynomial needs a finite interval [a, b] with a < b");
    }
    if (!Array.isArray(coefficients) || coefficients.length < 2 || !coefficients.every(Number.isFinite)) {
      throw new FheError("ParameterMismatch", "sigmoid polynomial needs at least two finite coefficients");
    }
    const degree = coefficients.length - 1;
    if (degree > 3) throw new FheError("ParameterMismatch", `sigmoid polynomial of degree ${degree}: the engine evaluates degree <= 3`);
    if (coefficients.slice(1).every((c) => Math.abs(c) < 1e-9)) {
      throw new FheError("ParameterMismatch", "sigmoid polynomial is constant");
    }
    this.requireSigmoidDepth(polynomialDepth(degree));
    return [...coefficients];
  }

  private requireSigmoidDepth(polynomialLevels: number): void {
    if (this.params.depth < 1 + polynomialLevels) {
      throw new FheError(
        "ParameterMismatch",
        `${this.parameterSetName} has depth ${this.params.depth}: the linear stage and a sigmoid polynomial need ${1 + polynomialLevels}`,
      );
    }
  }

  private requireGaloisSteps(keys: EvaluationKeyMaterial, job: JobInput): void {
    const { layout } = job;
    const needed = layoutRotationSteps(layout, job.header.values);
    const missing = needed.filter((s) => !keys.galoisSteps.includes(s));
    if (missing.length > 0) {
      throw new FheError(
        "ParameterMismatch",
        `key bundle lacks rotation steps ${missing.join(",")} that ${layout} needs for tuples of ${job.header.values} values ` +
          `(keys made for up to ${widestTupleFor(keys.galoisSteps, this.parameterSetName)} values; make keys for this width)`,
      );
    }
    if (missing.length === 0 && needed.length > 0 && !keys.galoisKeys) {
      throw new FheError("ParameterMismatch", `key bundle has no Galois keys, which ${layout} needs`);
    }
  }

  /**
   * Parses a record blob and checks everything that can be checked without SEAL: header, parameter set, that the
   * layout can be evaluated here, and the sections the layout needs, in order, each a SEAL object of bounded size.
   */
  private openJob(recordBytes: Uint8Array, check: (raw: Record<string, unknown>) => HeaderCheck<RecordsHeader>): JobInput {
    const { header, envelope } = openEnvelope(recordBytes, "record", check, "MalformedRecord");
    if (header.parameterSet !== this.parameterSetName) {
      throw new FheError("ParameterMismatch", `record uses ${header.parameterSet}, engine uses ${this.parameterSetName}`);
    }
    const layout = header.layout;
    const unsupported = layoutProblem(layout, this.parameterSetName);
    if (unsupported) throw new FheError("ParameterMismatch", unsupported);
    const records = "records" in header ? header.records : 1;
    const expected = recordSectionNames(header);
    const names = [...envelope.sections.keys()];
    if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
      throw new FheError("MalformedRecord", `${layout} record must hold sections ${expected.join(", ")}, has ${names.join(", ") || "none"}`);
    }
    const sections = expected.map((name) => section(envelope, name, "MalformedRecord"));
    for (const bytes of sections) checkSealBytes(bytes, this.limits.ciphertext, "MalformedRecord", "cannot load record ciphertext");
    return { header, layout, records, sections };
  }

  /** Loads a validated job, runs the linear stage (and the polynomial), and returns the result blob. */
  private runJob(
    keys: EvaluationKeyMaterial,
    job: JobInput,
    weights: readonly number[],
    bias: number,
    polynomial: { coefficients: readonly number[]; outputScale: number } | undefined,
    header: JobResultHeader,
    rows?: { weights: readonly (readonly number[])[]; biases: readonly number[] },
  ): Uint8Array {
    const { seal, kit } = this;
    const at: ResultSlots = { layout: job.layout, records: job.records, stride: recordStride(job.header.values) };
    return withScope((scope) => {
      const inputs = job.sections.map((bytes, j) => {
        const ct = scope.track(new seal.Ciphertext());
        const what = job.layout === "feature-major" ? `cannot load record ciphertext ${featureSectionName(j)}` : "cannot load record ciphertext";
        sealStep(seal, "MalformedRecord", what, () => ct.loadFromArray(this.context, bytes));
        this.checkFreshCiphertext(ct, scope, "MalformedRecord", recordPrimes(job.layout, polynomial ? "sigmoid-poly" : "linear", this.params));
        return ct;
      });
      return sealStep(seal, "EvaluationError", polynomial ? "sigmoid-poly stage failed" : "linear stage failed", () => {
        let out = linearStage(kit, scope, {
          inputs,
          layout: job.layout,
          weights,
          rows,
          records: job.records,
          stride: at.stride,
          bias,
          resultScale: polynomial ? undefined : 2 ** this.params.batchResultScaleBits,
          galoisKeys: keys.galoisKeys,
        });
        if (polynomial) out = polynomialStage(kit, scope, out, polynomial.coefficients, keys.relinKeys!, polynomial.outputScale, at);
        // The last level holds one prime: the smallest result, and exact within the bounds checked above.
        const lastParmsId = scope.track(this.context.lastParmsId());
        this.evaluator.cipherModSwitchToInplace(out, lastParmsId);
        return encodeEnvelope("result", header, [["ciphertext", out.saveToArray(seal.ComprModeType.zstd) as Uint8Array]]);
      });
    });
  }

  /**
   * Mod-switches a freshly encoded plaintext down to the level that keeps `primes` primes (a no-op at the top), so
   * that what is encrypted from it keeps only those. For the patient's cipher.
   */
  lowerPlaintext(scope: SealScope, pt: Plaintext, primes: number): void {
    let data = scope.track(this.context.firstContextData());
    const top = scope.track(scope.track(data.parms()).coeffModulus()).size();
    if (!(Number.isInteger(primes) && primes >= 1 && primes <= top)) throw new FheError("MalformedRecord", `a record keeps 1..${top} primes, not ${primes}`);
    for (let size = top; size > primes; size--) data = scope.track(data.nextContextData()!);
    this.evaluator.plainModSwitchToInplace(pt, scope.track(data.parmsId()));
  }

  /**
   * A record must be a fresh, degree-1 ciphertext at the scale of the parameter set, keeping at least the `minPrimes`
   * primes its job needs (`recordPrimes`: the top level for the sigmoid polynomial); anything else was not made by a
   * client for this job.
   */
  checkFreshCiphertext(ct: Ciphertext, scope: SealScope, code: FheErrorCode, minPrimes: number): void {
    const primes = ct.coeffModulusSize();
    if (primes < minPrimes) {
      throw new FheError(code, `ciphertext keeps ${primes} of the parameter set's primes, and this job needs at least ${minPrimes} (encrypt it for the model's stage)`);
    }
    if (ct.size() !== 2) throw new FheError(code, `ciphertext has ${ct.size()} polynomials, expected 2`);
    if (Math.abs(Math.log2(ct.scale()) - this.params.scaleBits) > 1e-9) {
      throw new FheError(code, `ciphertext scale 2^${Math.log2(ct.scale()).toFixed(3)}, expected 2^${this.params.scaleBits}`);
    }
  }
}

/** How a record is encrypted: for which stage of the server (see `PatientCipher.encryptTuple`). */
export interface RecordEncryptionOptions {
  stage?: ResultStage;
}

/** Galois keys of one patient's bundle, loaded into SEAL. */
export class EvaluationKeys {
  constructor(readonly galoisKeys: GaloisKeys, readonly galoisSteps: readonly number[]) {}
  dispose(): void {
    if (!this.galoisKeys.isDeleted()) this.galoisKeys.delete();
  }
}

/** Evaluation keys of a bundle of any layout: Galois keys unless feature-major, relinearization keys for the sigmoid variant. */
export class LayoutEvaluationKeys implements EvaluationKeyMaterial {
  constructor(
    readonly galoisKeys: GaloisKeys | undefined,
    readonly galoisSteps: readonly number[],
    readonly relinKeys: RelinKeys | undefined,
  ) {}
  dispose(): void {
    for (const handle of [this.galoisKeys, this.relinKeys]) if (handle && !handle.isDeleted()) handle.delete();
  }
}

/**
 * The patient's side: symmetric encryption of tuples and decryption of results under their secret key. Only the
 * result slots of a result are ever returned.
 */
export class PatientCipher {
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;
  private readonly maxResultBytes: number;
  /** Written into every record: whose it is and which key bundle evaluates it. */
  private readonly owner: { patient: string; keyBundle: string };

  constructor(
    private readonly engine: CkksEngine,
    private readonly context: SEALContext,
    private readonly encoder: CKKSEncoder,
    private readonly secretKey: SecretKey,
    binding: { patient: string; keyBundle: string },
  ) {
    const { seal } = engine;
    this.owner = { patient: binding.patient, keyBundle: binding.keyBundle };
    // SEAL's Encryptor wants a public key even for symmetric use; one derived from the secret key is never stored.
    this.encryptor = withScope((scope) => {
      const keygen = scope.track(new seal.KeyGenerator(context, secretKey));
      const publicKey = scope.track(keygen.createPublicKey());
      return new seal.Encryptor(context, publicKey, secretKey);
    });
    this.decryptor = new seal.Decryptor(context, secretKey);
    this.maxResultBytes = sealSizeLimits(engine.params.polyModulusDegree, engine.params.coeffModulusBits.length).resultCiphertext;
  }

  dispose(): void {
    for (const handle of [this.encryptor, this.decryptor, this.secretKey]) if (!handle.isDeleted()) handle.delete();
  }

  /**
   * Encrypts a standardised tuple as a single-record blob. The tuple is written into every block of one record stride
   * (`recordStride`: 16 slots up to 16 values), so
   * the server's rotate-and-sum leaves T in every slot and nothing else (see layouts.ts). Secret-key (seeded)
   * encryption halves the upload compared with public-key encryption, and only the key owner ever encrypts their
   * own records. `stage`: what the job will compute; "linear" keeps only the primes a linear stage needs
   * (`recordPrimes`: half the upload at N=8192), the default keeps every prime (a record for any stage).
   */
  encryptTuple(values: readonly number[], options: RecordEncryptionOptions = {}): Uint8Array {
    const wide = tupleWidthProblem(Array.isArray(values) ? values.length : 0, this.engine.parameterSetName);
    if (wide) throw new FheError("MalformedRecord", `single-record: ${wide}`);
    checkTupleValues(values, "tuple");
    const { slots } = this.engine.params;
    const stride = recordStride(values.length);
    return withScope((scope) => {
      const vector = new Float64Array(slots);
      for (let block = 0; block < slots; block += stride) vector.set(values, block);
      const header: RecordHeader = { parameterSet: this.engine.parameterSetName, layout: "single-record", values: values.length, ...this.owner };
      return encodeEnvelope("record", header, [["ciphertext", this.encryptSlots(scope, vector, this.primesFor("single-record", options))]]);
    });
  }

  /**
   * Encrypts one patient's tuples (all of the same length) as one record blob of the given layout (see
   * `chooseLayout`). single-record takes exactly one tuple and gives `encryptTuple`'s blob; packed-records up to
   * slots/stride tuples in one ciphertext; feature-major up to `slots` tuples in one ciphertext per feature. `round`
   * (0..15) names the round of a multi-round model; round 0 is written as no round at all. `stage` as for
   * `encryptTuple`.
   */
  encryptRecords(layout: Layout, tuples: readonly (readonly number[])[], options: { round?: number } & RecordEncryptionOptions = {}): Uint8Array {
    const { engine } = this;
    const unsupported = layoutProblem(layout, engine.parameterSetName);
    if (unsupported) throw new FheError("ParameterMismatch", unsupported);
    const n = Array.isArray(tuples) && Array.isArray(tuples[0]) ? tuples[0].length : 0;
    const wide = tupleWidthProblem(n, engine.parameterSetName);
    if (wide) throw new FheError("MalformedRecord", wide);
    const capacity = layoutCapacity(layout, engine.parameterSetName, n);
    if (!Array.isArray(tuples) || tuples.length < 1 || tuples.length > capacity) {
      throw new FheError("MalformedRecord", `a ${layout} job of ${n}-value tuples holds 1..${capacity} records, got ${Array.isArray(tuples) ? tuples.length : "none"}`);
    }
    if (layout === "single-record") return this.encryptTuple(tuples[0]!, options);
    tuples.forEach((tuple, r) => {
      if (tuple.length !== n) throw new FheError("MalformedRecord", `record ${r} holds ${tuple.length} values, record 0 holds ${n}`);
      checkTupleValues(tuple, `record ${r}`);
    });
    const round = options.round;
    if (round !== undefined && !(Number.isInteger(round) && round >= 0 && round <= 15)) {
      throw new FheError("MalformedRecord", `round must be 0..15, got ${round}`);
    }
    const header: RecordsHeader = {
      parameterSet: engine.parameterSetName,
      layout,
      values: n,
      records: tuples.length,
      ...(round ? { round } : {}),
      ...this.owner,
    };
    const primes = this.primesFor(layout, options);
    return withScope((scope) => {
      const slots = engine.params.slots;
      if (layout === "packed-records") {
        const vector = new Float64Array(slots);
        const stride = recordStride(n);
        tuples.forEach((tuple, r) => vector.set(tuple, r * stride));
        return encodeEnvelope("record", header, [["ciphertext", this.encryptSlots(scope, vector, primes)]]);
      }
      const sections: [string, Uint8Array][] = [];
      for (let j = 0; j < n; j++) {
        const vector = new Float64Array(slots);
        tuples.forEach((tuple, r) => (vector[r] = tuple[j]!));
        sections.push([featureSectionName(j), this.encryptSlots(scope, vector, primes)]);
      }
      return encodeEnvelope("record", header, sections);
    });
  }

  /** Seeded symmetric encryption of one slot vector at the parameter set's scale, serialised with zstd. */
  private primesFor(layout: Layout, options: RecordEncryptionOptions): number {
    const stage = options.stage ?? "sigmoid-poly";
    if (stage !== "linear" && stage !== "sigmoid-poly") throw new FheError("MalformedRecord", `stage must be linear or sigmoid-poly, got ${String(stage)}`);
    return recordPrimes(layout, stage, this.engine.params);
  }

  private encryptSlots(scope: SealScope, vector: Float64Array, primes: number): Uint8Array {
    const { seal } = this.engine;
    const pt = scope.track(new seal.Plaintext());
    this.encoder.encode(vector, this.engine.scale, pt);
    this.engine.lowerPlaintext(scope, pt, primes);
    return scope.track(this.encryptor.encryptSymmetricSerializable(pt)).saveToArray(seal.ComprModeType.zstd) as Uint8Array;
  }

  /** Decrypts a single-record linear result and returns the value in its result slot (the logit T). */
  decryptResult(resultBytes: Uint8Array): { header: ResultHeader; value: number } {
    const { header, envelope } = openEnvelope(resultBytes, "result", checkResultHeader, "MalformedResult");
    const [value] = this.decryptSlots(header.parameterSet, envelope, [header.slot]);
    return { header, value: value! };
  }

  /**
   * Decrypts a result blob of any layout and stage (including `evaluateLinear`'s) into one value per record:
   * T for "linear" results, the probability p(T) for "sigmoid-poly" ones.
   */
  decryptBatch(resultBytes: Uint8Array): BatchResult {
    const { header, envelope } = openEnvelope(resultBytes, "result", checkJobResultHeader, "MalformedResult");
    const layout: Layout = "layout" in header ? header.layout : "single-record";
    const records = "records" in header ? header.records : 1;
    const stride = "stride" in header ? (header.stride ?? MIN_RECORD_STRIDE) : MIN_RECORD_STRIDE;
    const slots = "slot" in header ? [header.slot] : Array.from({ length: records }, (_, r) => resultSlot(layout, r, stride));
    return { header, layout, stage: header.stage, values: this.decryptSlots(header.parameterSet, envelope, slots) };
  }

  /** Loads a result's one ciphertext (two polynomials at the last level), decrypts it and returns only `slots`. */
  private decryptSlots(parameterSetName: ParameterSetName, envelope: Envelope, slots: readonly number[]): number[] {
    const { seal } = this.engine;
    if (parameterSetName !== this.engine.parameterSetName) {
      throw new FheError("ParameterMismatch", `result uses ${parameterSetName}, engine uses ${this.engine.parameterSetName}`);
    }
    const outOfRange = slots.find((s) => s >= this.engine.params.slots);
    if (outOfRange !== undefined) throw new FheError("MalformedResult", `result slot ${outOfRange} is out of range`);
    const names = [...envelope.sections.keys()];
    if (names.length !== RESULT_SECTION_NAMES.length || names[0] !== RESULT_SECTION_NAMES[0]) {
      throw new FheError("MalformedResult", `result must hold one "ciphertext" section, has ${names.join(", ") || "none"}`);
    }
    const ctBytes = section(envelope, "ciphertext", "MalformedResult");
    checkSealBytes(ctBytes, this.maxResultBytes, "MalformedResult", "cannot load result ciphertext");
    return withScope((scope) => {
      const ct = scope.track(new seal.Ciphertext());
      sealStep(seal, "MalformedResult", "cannot load result ciphertext", () => ct.loadFromArray(this.context, ctBytes));
      if (ct.size() !== 2 || !sameParms(scope.track(ct.parmsId()), scope.track(this.context.lastParmsId()))) {
        throw new FheError("MalformedResult", "result ciphertext is not a two-polynomial ciphertext at the last level");
      }
      const pt = scope.track(new seal.Plaintext());
      const decoded = sealStep(seal, "MalformedResult", "cannot decrypt result", () => {
        this.decryptor.decrypt(ct, pt);
        return this.encoder.decodeFloat64(pt) as Float64Array;
      });
      return slots.map((s) => decoded[s]!);
    });
  }
}

function checkTupleValues(values: readonly number[], what: string): void {
  if (!values.every(Number.isFinite)) throw new FheError("MalformedRecord", `${what} values must be finite numbers`);
  const outlier = values.findIndex((v) => Math.abs(v) > MAX_ABS_TUPLE_VALUE);
  if (outlier >= 0) {
    throw new FheError("MalformedRecord", `${what} value ${outlier} is ${values[outlier]}, outside ±${MAX_ABS_TUPLE_VALUE}`);
  }
}
