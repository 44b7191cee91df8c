import type { CKKSEncoder, Ciphertext, Evaluator, GaloisKeys, Plaintext, RelinKeys, SEALContext } from "node-seal";
import { RECORD_STRIDE } from "./layouts.js";
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

/** Sums each window of RECORD_STRIDE slots into its first slot: steps 8, 4, 2, 1. */
export function rotateAndSum(kit: SealKit, scope: SealScope, ct: Ciphertext, galoisKeys: GaloisKeys): void {
  const rotated = scope.track(new kit.seal.Ciphertext());
  for (let step = RECORD_STRIDE / 2; step >= 1; step /= 2) {
    kit.evaluator.rotateVector(ct, step, galoisKeys, rotated);
    kit.evaluator.addInplace(ct, rotated);
  }
}

export interface LinearPlan {
  /** One ciphertext (rotation layouts) or one per feature (feature-major). */
  readonly inputs: readonly Ciphertext[];
  readonly layout: "rotation" | "feature-major";
  /** One weight per feature (per input for feature-major). */
  readonly weights: readonly number[];
  /**
   * Rotation layout only: block r gets its own weight row and bias instead of `weights`/`bias`. With the same
   * tuple in every block this computes h dot products over one tuple (a hidden layer) in one pass, at no extra level.
   */
  readonly rows?: { readonly weights: readonly (readonly number[])[]; readonly biases: readonly number[] };
  /** Rotation layouts: records in the job (the weights repeat at 16r + j for each). */
  readonly records: number;
  readonly bias: number;
  /** Scale T should carry when the stage ends; `undefined`: ~2^scaleBits, for a polynomial stage to follow. */
  readonly resultScale: number | undefined;
  readonly galoisKeys: GaloisKeys | undefined;
}

/** Weights below this magnitude are below the encoding's resolution: the feature is skipped (treated as 0). */
export const NEGLIGIBLE_WEIGHT = 2 ** -30;

/**
 * T = w · x + b for every record of the job. Returns a new ciphertext (tracked by `scope`) one or two levels down,
 * at scale `plan.resultScale` when given, else ~2^scaleBits.
 */
export function linearStage(kit: SealKit, scope: SealScope, plan: LinearPlan): Ciphertext {
  const { evaluator, params } = kit;
  const first = plan.inputs[0]!;
  const topPrime = nextPrimes(kit, scope, first).first;
  const inputScale = first.scale();
  const fullScale = 2 ** params.scaleBits;
  const rotateFirst = plan.layout === "rotation" && plan.resultScale !== undefined && params.rotateBeforeRescale;
  const directToResult = plan.resultScale !== undefined && (plan.layout === "feature-major" || rotateFirst);
  // Weights scale: lands the rescale on the result scale directly, or on ~2^scaleBits (the product Δx·Δ over a
  // ~2^scaleBits prime).
  const weightScale = directToResult ? (plan.resultScale! * topPrime) / inputScale : fullScale;

  let acc: Ciphertext;
  if (plan.layout === "feature-major") {
    acc = scope.track(new kit.seal.Ciphertext());
    const term = scope.track(new kit.seal.Ciphertext());
    let started = false;
    const weights = plan.weights;
    for (let j = 0; j < plan.inputs.length; j++) {
      if (Math.abs(weights[j]!) < NEGLIGIBLE_WEIGHT) continue;
      const w = constantFor(kit, scope, weights[j]!, weightScale, plan.inputs[j]!);
      evaluator.multiplyPlain(plan.inputs[j]!, w, started ? term : acc);
      if (started) evaluator.addInplace(acc, term);
      started = true;
    }
    evaluator.rescaleToNextInplace(acc);
  } else {
    acc = first;
    const vector = () => {
      const v = new Float64Array(params.slots);
      for (let r = 0; r < plan.records; r++) v.set(plan.rows?.weights[r] ?? plan.weights, r * RECORD_STRIDE);
      return v;
    };
    const key = plan.rows ? `rows:${plan.rows.weights.map((row) => row.join(",")).join(";")}` : `w${plan.records}:${plan.weights.join(",")}`;
    const w = encodeFor(kit, scope, vector, weightScale, acc, key);
    evaluator.multiplyPlainInplace(acc, w);
    if (rotateFirst) {
      rotateAndSum(kit, scope, acc, plan.galoisKeys!);
      evaluator.rescaleToNextInplace(acc);
    } else {
      evaluator.rescaleToNextInplace(acc);
      rotateAndSum(kit, scope, acc, plan.galoisKeys!);
      if (plan.resultScale !== undefined) {
        // Down from ~2^scaleBits to the result scale: times 1, encoded so the rescale lands on it exactly.
        const prime = nextPrimes(kit, scope, acc).first;
        const one = constantFor(kit, scope, 1, (plan.resultScale * prime) / acc.scale(), acc);
        evaluator.multiplyPlainInplace(acc, one);
        evaluator.rescaleToNextInplace(acc);
      }
    }
  }
  if (plan.resultScale !== undefined) acc.setScale(plan.resultScale);
  // The bias carries exactly the scale and level the sum has now.
  const rows = plan.rows;
  const bias = rows
    ? encodeFor(kit, scope, () => {
        const v = new Float64Array(params.slots);
        rows.biases.forEach((b, r) => (v[r * RECORD_STRIDE] = b));
        return v;
      }, acc.scale(), acc, `b:${rows.biases.join(",")}`)
    : constantFor(kit, scope, plan.bias, acc.scale(), acc);
  evaluator.addPlainInplace(acc, bias);
  return acc;
}

/** Levels (rescales) a polynomial of this degree takes with the evaluation below. */
export function polynomialDepth(degree: number): number {
  return degree <= 1 ? 1 : 2;
}

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
 */
export function polynomialStage(
  kit: SealKit,
  scope: SealScope,
  u: Ciphertext,
  coefficients: readonly number[],
  relinKeys: RelinKeys,
  outputScale: number,
): Ciphertext {
  const { evaluator, seal } = kit;
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
    evaluator.multiplyPlain(u, constantFor(kit, scope, c3, (outputScale * qa * qb!) / (d1 * d2), u), cu);
    evaluator.rescaleToNextInplace(cu);
    if (c2 !== 0) evaluator.addPlainInplace(cu, constantFor(kit, scope, c2, cu.scale(), cu));
    const cubic = scope.track(new seal.Ciphertext());
    evaluator.multiply(cu, u2, cubic);
    evaluator.relinearizeInplace(cubic, relinKeys);
    evaluator.rescaleToNextInplace(cubic);
    terms.push(cubic);
  } else if (u2 && c2 !== 0) {
    const square = scope.track(new seal.Ciphertext());
    evaluator.multiplyPlain(u2, constantFor(kit, scope, c2, (outputScale * qb!) / u2.scale(), u2), square);
    evaluator.rescaleToNextInplace(square);
    terms.push(square);
  }
  if (c1 !== 0) {
    const linear = scope.track(new seal.Ciphertext());
    evaluator.multiplyPlain(u, constantFor(kit, scope, c1, (outputScale * qa) / d1, u), linear);
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
  if (c0 !== 0) evaluator.addPlainInplace(out, constantFor(kit, scope, c0, outputScale, out));
  return out;
}
