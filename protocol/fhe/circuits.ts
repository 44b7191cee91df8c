import type { CKKSEncoder, Ciphertext, Evaluator, GaloisKeys, Plaintext, RelinKeys, SEALContext } from "node-seal";
import { recordPrimes, resultSlot, strideSumStages, type Layout } from "./layouts.js";
import type { CkksParameterSet } from "./params.js";
import type { Seal, SealScope } from "./runtime.js";

/**
 * The homomorphic circuits of the server stage, on loaded SEAL objects. Scale management is explicit: every
 * plaintext is encoded at the scale that makes the next rescale land exactly where the following step expects,
 * and mod-switched to the level of the ciphertext it meets. The caller runs these inside `sealStep` and a scope.
 */
export interface SealKit {
  readonly seal: Seal;
  readonly context: SEALContext;
  readonly encoder: CKKSEncoder;
  readonly evaluator: Evaluator;
  readonly params: CkksParameterSet;
  /** Encoded constants, reused across jobs (encoding one costs ~1.5 ms at N=8192, a third of a polynomial stage). */
  readonly plaintexts?: PlaintextCache;
}

/**
 * A bounded cache of encoded plaintexts, keyed by what was encoded, at which scale and level. Encoding is
 * deterministic, so a cached plaintext is the same as a fresh one: results do not depend on the cache. The
 * cache owns its SEAL objects (evicted ones are deleted) and must be disposed with its engine.
 */
export class PlaintextCache {
  private readonly entries = new Map<string, Plaintext>();
  constructor(private readonly capacity: number) {}

  get(key: string, make: () => Plaintext): Plaintext {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const made = make();
    this.entries.set(key, made);
    while (this.entries.size > this.capacity) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      oldest.delete();
    }
    return made;
  }

  get size(): number {
    return this.entries.size;
  }

  dispose(): void {
    for (const pt of this.entries.values()) if (!pt.isDeleted()) pt.delete();
    this.entries.clear();
  }
}

/** Coefficient-modulus primes of the ciphertext's current level, lowest first. */
function levelPrimes(kit: SealKit, scope: SealScope, ct: Ciphertext): number[] {
  const parmsId = scope.track(ct.parmsId());
  const data = scope.track(kit.context.getContextData(parmsId));
  const parms = scope.track(data.parms());
  const moduli = scope.track(parms.coeffModulus());
  const primes: number[] = [];
  for (let i = 0; i < moduli.size(); i++) {
    const modulus = scope.track(moduli.get(i)!);
    // Our primes have at most 49 bits: exact as doubles.
    primes.push(Number(modulus.value()));
  }
  return primes;
}

/** The prime the next rescale of `ct` divides by, and the one after it (undefined at the last levels). */
export function nextPrimes(kit: SealKit, scope: SealScope, ct: Ciphertext): { first: number; second: number | undefined } {
  const primes = levelPrimes(kit, scope, ct);
  return { first: primes[primes.length - 1]!, second: primes[primes.length - 2] };
}

/** The first (and, at the last level, only) prime: what a result must stay below half of. */
export function lastLevelPrime(kit: SealKit, scope: SealScope): number {
  const data = scope.track(kit.context.lastContextData());
  const parms = scope.track(data.parms());
  const moduli = scope.track(parms.coeffModulus());
  return Number(scope.track(moduli.get(0)!).value());
}

/**
 * A plaintext of `values` at `scale`, at the level of `like`. With a `cacheKey` naming the values, it comes from
 * (and goes to) the kit's cache and belongs to the cache; otherwise it belongs to `scope`. Use it at once.
 */
export function encodeFor(kit: SealKit, scope: SealScope, values: () => Float64Array, scale: number, like: Ciphertext, cacheKey?: string): Plaintext {
  const make = (owner: SealScope | undefined) => {
    const pt = new kit.seal.Plaintext();
    owner?.track(pt);
    try {
      kit.encoder.encode(values(), scale, pt);
      const parmsId = scope.track(like.parmsId());
      kit.evaluator.plainModSwitchToInplace(pt, parmsId);
      return pt;
    } catch (err) {
      if (!owner) pt.delete();
      throw err;
    }
  };
  if (cacheKey === undefined || !kit.plaintexts) return make(scope);
  // Levels of one chain differ in their number of primes, so that count names the level.
  return kit.plaintexts.get(`${cacheKey}|${scale}|${like.coeffModulusSize()}`, () => make(undefined));
}

/** The same value in every slot: a constant polynomial, never transparent unless value * scale rounds to 0. */
export function constantFor(kit: SealKit, scope: SealScope, value: number, scale: number, like: Ciphertext): Plaintext {
  return encodeFor(kit, scope, () => new Float64Array(kit.params.slots).fill(value), scale, like, `c${value}`);
}

/**
 * Sums each window of `stride` slots into its first slot, by the stages of `strideSumStages` (largest step first:
 * up to 16 slots steps 8, 4, 2, 1, as always; wider strides add radix-4 stages on the keys 16, 64, ..).
 */
export function rotateAndSum(kit: SealKit, scope: SealScope, ct: Ciphertext, galoisKeys: GaloisKeys, stride: number): void {
  const rotated = scope.track(new kit.seal.Ciphertext());
  for (const { step, radix } of strideSumStages(stride).reverse()) {
    // ct + rot(ct, s) (+ rot(ct, 2s) + rot(ct, 3s) for radix 4), each rotation one more by s from the last copy.
    kit.evaluator.rotateVector(ct, step, galoisKeys, rotated);
    kit.evaluator.addInplace(ct, rotated);
    for (let k = 2; k < radix; k++) {
      kit.evaluator.rotateVector(rotated, step, galoisKeys, rotated);
      kit.evaluator.addInplace(ct, rotated);
    }
  }
}

/**
 * Which slots of a job's result carry a result, and so which slots a plaintext may leave non-zero: slot s·r
 * (packed-records, s the record stride) or slot r (feature-major) for each of the job's records; every slot for
 * single-record, whose tuple fills every block so that every slot holds T.
 */
export interface ResultSlots {
  readonly layout: Layout;
  readonly records: number;
  /** The record stride of the rotation layouts (`recordStride` of the tuple's width). */
  readonly stride: number;
}

/**
 * A plaintext that is `valueOf(r)` at record r's result slot and 0 in every other slot (every slot `valueOf(0)`
 * for single-record), at `scale` and the level of `like`; cached under `key`, which must name `valueOf`.
 */
function resultSlotPlaintext(kit: SealKit, scope: SealScope, at: ResultSlots, valueOf: (r: number) => number, scale: number, like: Ciphertext, key: string): Plaintext {
  if (at.layout === "single-record") return constantFor(kit, scope, valueOf(0), scale, like);
  return encodeFor(kit, scope, () => {
    const v = new Float64Array(kit.params.slots);
    for (let r = 0; r < at.records; r++) v[resultSlot(at.layout, r, at.stride)] = valueOf(r);
    return v;
  }, scale, like, `${at.layout}:${at.records}:${at.stride}:${key}`);
}

export interface LinearPlan {
  /** One ciphertext (rotation layouts) or one per feature (feature-major). */
  readonly inputs: readonly Ciphertext[];
  readonly layout: Layout;
  /** One weight per feature (per input for feature-major). */
  readonly weights: readonly number[];
  /**
   * packed-records only: block r gets its own weight row and bias instead of `weights`/`bias`. With the same
   * tuple in every block this computes h dot products over one tuple (a hidden layer) in one pass, at no extra level.
   */
  readonly rows?: { readonly weights: readonly (readonly number[])[]; readonly biases: readonly number[] };
  /** Records in the job (1 for single-record). */
  readonly records: number;
  /** Slots per record in the rotation layouts (`recordStride`). */
  readonly stride: number;
  readonly bias: number;
  /**
   * Scale T should carry when the stage ends; `undefined`: ~2^scaleBits, for a polynomial stage to follow, which
   * must then clear the slots that are not result slots itself (`polynomialStage`'s `resultSlots`).
   */
  readonly resultScale: number | undefined;
  readonly galoisKeys: GaloisKeys | undefined;
}

/** Weights below this magnitude are below the encoding's resolution: the feature is skipped (treated as 0). */
export const NEGLIGIBLE_WEIGHT = 2 ** -30;

/**
 * T = w · x + b for every record of the job. Returns a new ciphertext (tracked by `scope`) one or two levels down,
 * at scale `plan.resultScale` when given, else ~2^scaleBits.
 *
 * With a `resultScale`, every slot that is not a result slot ends up 0 (up to CKKS noise), so decrypting the whole
 * ciphertext reveals T and nothing else:
 *   single-record   the tuple fills every block and the weights repeat in every block, so the rotate-and-sum leaves
 *                   the sum over a whole period, T, in every slot;
 *   packed-records  the multiplication by 1 that brings T down to the result scale after the rotations is a 0/1
 *                   mask instead (1 at slots 16r), so the partial sums between result slots vanish at no extra
 *                   level; impossible when rotating before the rescale (no level after it), so refused there;
 *   feature-major   weights and bias are 0 beyond the job's records, so unused slots hold 0.
 * The bias is added at the result slots only.
 */
export function linearStage(kit: SealKit, scope: SealScope, plan: LinearPlan): Ciphertext {
  const { evaluator, params } = kit;
  const rotation = plan.layout !== "feature-major";
  // A linear-only stage ends at the last level anyway: drop the levels it will not use before any work, so the
  // products and the rotations' key switching run on as few primes as possible (at N=8192, two instead of four).
  // Single-record and feature-major need one rescale after the input, packed records two (the mask after the rotations).
  if (plan.resultScale !== undefined) {
    const primesNeeded = recordPrimes(plan.layout, "linear", params);
    for (const input of plan.inputs) while (input.coeffModulusSize() > primesNeeded) evaluator.cipherModSwitchToNextInplace(input);
  }
  const first = plan.inputs[0]!;
  const topPrime = nextPrimes(kit, scope, first).first;
  const inputScale = first.scale();
  const fullScale = 2 ** params.scaleBits;
  // Sets with a small scale rotate before their rescale, where the key-switching noise vanishes against the
  // product's scale Δx·Δw; so does the single-record layout everywhere (every slot is a result slot: no level is
  // needed after its rotations), at two primes. Rotating on the last prime alone would halve its cost at N=8192 but
  // measured |ΔT| up to 4.2e-5 with a 16-slot stride (5.9e-5 at 256), too close to the 1e-4 the client promises.
  const singleLinear = plan.layout === "single-record" && plan.resultScale !== undefined;
  const rotateFirst = rotation && plan.resultScale !== undefined && (params.rotateBeforeRescale || singleLinear);
  if (rotateFirst && plan.layout !== "single-record") {
    throw new Error(`${plan.layout} needs a level after the rotations to clear the slots between results`);
  }
  const directToResult = plan.resultScale !== undefined && (plan.layout === "feature-major" || rotateFirst);
  // Weights scale: lands the rescale on the result scale directly, or on ~2^scaleBits (the product Δx·Δ over a
  // ~2^scaleBits prime).
  const weightScale = directToResult ? (plan.resultScale! * topPrime) / inputScale : fullScale;
  const at: ResultSlots = { layout: plan.layout, records: plan.records, stride: plan.stride };

  let acc: Ciphertext;
  if (plan.layout === "feature-major") {
    acc = scope.track(new kit.seal.Ciphertext());
    const term = scope.track(new kit.seal.Ciphertext());
    let started = false;
    const weights = plan.weights;
    for (let j = 0; j < plan.inputs.length; j++) {
      const wj = weights[j]!;
      if (Math.abs(wj) < NEGLIGIBLE_WEIGHT) continue;
      const w = resultSlotPlaintext(kit, scope, at, () => wj, weightScale, plan.inputs[j]!, `w${wj}`);
      evaluator.multiplyPlain(plan.inputs[j]!, w, started ? term : acc);
      if (started) evaluator.addInplace(acc, term);
      started = true;
    }
    evaluator.rescaleToNextInplace(acc);
  } else {
    acc = first;
    // single-record: the weights in every block, like the tuple; packed-records: in the job's blocks.
    const blocks = plan.layout === "single-record" ? params.slots / plan.stride : plan.records;
    const vector = () => {
      const v = new Float64Array(params.slots);
      for (let r = 0; r < blocks; r++) v.set(plan.rows?.weights[r] ?? plan.weights, r * plan.stride);
      return v;
    };
    const key = `${plan.stride}:` + (plan.rows ? `rows:${plan.rows.weights.map((row) => row.join(",")).join(";")}` : `w${blocks}:${plan.weights.join(",")}`);
    const w = encodeFor(kit, scope, vector, weightScale, acc, key);
    evaluator.multiplyPlainInplace(acc, w);
    if (rotateFirst) {
      rotateAndSum(kit, scope, acc, plan.galoisKeys!, plan.stride);
      evaluator.rescaleToNextInplace(acc);
    } else {
      evaluator.rescaleToNextInplace(acc);
      rotateAndSum(kit, scope, acc, plan.galoisKeys!, plan.stride);
      if (plan.resultScale !== undefined) {
        // Down from ~2^scaleBits to the result scale: times 1 at the result slots and 0 elsewhere, encoded so the
        // rescale lands on the result scale exactly.
        const prime = nextPrimes(kit, scope, acc).first;
        const mask = resultSlotPlaintext(kit, scope, at, () => 1, (plan.resultScale * prime) / acc.scale(), acc, "mask");
        evaluator.multiplyPlainInplace(acc, mask);
        evaluator.rescaleToNextInplace(acc);
      }
    }
  }
  if (plan.resultScale !== undefined) acc.setScale(plan.resultScale);
  // The bias carries exactly the scale and level the sum has now.
  const rows = plan.rows;
  const bias = rows
    ? resultSlotPlaintext(kit, scope, at, (r) => rows.biases[r]!, acc.scale(), acc, `b:${rows.biases.join(",")}`)
    : resultSlotPlaintext(kit, scope, at, () => plan.bias, acc.scale(), acc, `b${plan.bias}`);
  evaluator.addPlainInplace(acc, bias);
  return acc;
}

export { polynomialDepth } from "./polynomial-depth.js";

/** Polynomial coefficients below this are dropped (they move p by < 1e-9 where |u| <= 1). */
export const NEGLIGIBLE_POLY_COEFFICIENT = 1e-9;

/**
 * p(u) = Σ c_k u^k for degree <= 3 on a ciphertext u at ~2^scaleBits, ending one (degree 1) or two levels down at
 * exactly `outputScale` S. With Δ1 = scale of u, qa and qb the next two primes, Δ2 = Δ1²/qa the scale of u²,
 * "x@s" a constant x encoded at scale s and mod-switched to the level of the ciphertext it meets:
 *   u²                = relin(u·u), rescaled                             → Δ2
 *   c3·u³ + c2·u²     = relin(((u · c3@s3) rescaled + c2@Δ1·s3/qa) · u²), rescaled
 *                                                                        → Δ1·s3/qa · Δ2/qb = S  when s3 = S·qa·qb/(Δ1·Δ2)
 *   c2·u² (c3 = 0)    = (u² · c2@s2) rescaled                            → Δ2·s2/qb = S          when s2 = S·qb/Δ2
 *   c1·u              = (u · c1@s1) rescaled, mod-switched down          → Δ1·s1/qa = S          when s1 = S·qa/Δ1
 *   c0                = c0@S at the last level
 * (the scales agree up to double rounding, then are set to S exactly before the sums).
 *
 * With `resultSlots` (batch layouts), each c_k is a plaintext that is c_k at the result slots and 0 elsewhere, so
 * p(u) is left at the result slots and 0 everywhere else, whatever u held there (partial sums, or 0 where p(0) = c0
 * would otherwise appear): (m·c3·u + m·c2)·u² = m·(c3·u³ + c2·u²) for a 0/1 mask m, at no extra level.
 */
export function polynomialStage(
  kit: SealKit,
  scope: SealScope,
  u: Ciphertext,
  coefficients: readonly number[],
  relinKeys: RelinKeys,
  outputScale: number,
  resultSlots?: ResultSlots,
): Ciphertext {
  const { evaluator, seal } = kit;
  const coefficient = (value: number, scale: number, like: Ciphertext): Plaintext =>
    resultSlots ? resultSlotPlaintext(kit, scope, resultSlots, () => value, scale, like, `p${value}`) : constantFor(kit, scope, value, scale, like);
  const c = coefficients.map((v) => (Math.abs(v) < NEGLIGIBLE_POLY_COEFFICIENT ? 0 : v));
  const [c0 = 0, c1 = 0, c2 = 0, c3 = 0] = c;
  const d1 = u.scale();
  const { first: qa, second: qb } = nextPrimes(kit, scope, u);
  const terms: Ciphertext[] = [];

  let u2: Ciphertext | undefined;
  if (c2 !== 0 || c3 !== 0) {
    u2 = scope.track(new seal.Ciphertext());
    evaluator.square(u, u2);
    evaluator.relinearizeInplace(u2, relinKeys);
    evaluator.rescaleToNextInplace(u2);
  }
  if (u2 && c3 !== 0) {
    // (c3·u + c2) · u²: one product for both the cubic and the square term.
    const d2 = u2.scale();
    const cu = scope.track(new seal.Ciphertext());
    evaluator.multiplyPlain(u, coefficient(c3, (outputScale * qa * qb!) / (d1 * d2), u), cu);
    evaluator.rescaleToNextInplace(cu);
    if (c2 !== 0) evaluator.addPlainInplace(cu, coefficient(c2, cu.scale(), cu));
    const cubic = scope.track(new seal.Ciphertext());
    evaluator.multiply(cu, u2, cubic);
    evaluator.relinearizeInplace(cubic, relinKeys);
    evaluator.rescaleToNextInplace(cubic);
    terms.push(cubic);
  } else if (u2 && c2 !== 0) {
    const square = scope.track(new seal.Ciphertext());
    evaluator.multiplyPlain(u2, coefficient(c2, (outputScale * qb!) / u2.scale(), u2), square);
    evaluator.rescaleToNextInplace(square);
    terms.push(square);
  }
  if (c1 !== 0) {
    const linear = scope.track(new seal.Ciphertext());
    evaluator.multiplyPlain(u, coefficient(c1, (outputScale * qa) / d1, u), linear);
    evaluator.rescaleToNextInplace(linear);
    terms.push(linear);
  }
  if (terms.length === 0) throw new Error("polynomial has no non-constant term");
  // Bring every term to the lowest level among them, at exactly the output scale.
  const lowest = terms.reduce((low, t) => (t.coeffModulusSize() < low.coeffModulusSize() ? t : low));
  const lowestId = scope.track(lowest.parmsId());
  const out = terms[0]!;
  for (const t of terms) {
    if (t.coeffModulusSize() !== lowest.coeffModulusSize()) evaluator.cipherModSwitchToInplace(t, lowestId);
    t.setScale(outputScale);
    if (t !== out) evaluator.addInplace(out, t);
  }
  if (c0 !== 0) evaluator.addPlainInplace(out, coefficient(c0, outputScale, out));
  return out;
}
