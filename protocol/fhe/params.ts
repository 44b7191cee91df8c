/**
 * Named CKKS parameter sets. Client and coprocessor build their SEAL context from the same entry,
 * and every key bundle, record and result names the set it was made with.
 */
export interface CkksParameterSet {
  /** Ring dimension N; CKKS packs N/2 complex slots, of which we use the real parts. */
  readonly polyModulusDegree: number;
  /** Bit sizes of the coefficient-modulus primes: first and last are the "special" primes, the middle ones are rescaled away. */
  readonly coeffModulusBits: readonly number[];
  /** log2 of the encoding scale Δ; the middle primes match it so a rescale returns the scale to ~2^scaleBits. */
  readonly scaleBits: number;
  /** Security level from the HomomorphicEncryption.org standard that SEAL enforces for this N and total modulus. */
  readonly securityBits: 128;
  /** Rescales available after encryption: the multiplicative depth of the server stage. */
  readonly depth: number;
  readonly slots: number;
  /**
   * log2 of the scale a linear result carries, in every layout. Results can fill every slot with
   * |T| <= MAX_ABS_RESULT_VALUE (a single-record result holds T in every slot), and a CKKS polynomial coefficient
   * can then reach scale * max|T|: it must stay below half the last prime (q0/2) or the result wraps around silently.
   */
  readonly batchResultScaleBits: number;
  /**
   * Where the rotate-and-sum of the rotation layouts runs. `false`: after the rescale (rotations on one prime fewer,
   * the ciphertext back at ~2^scaleBits). `true`: before it, while the product still carries scale Δx·Δw, so the
   * key-switching noise of the rotations vanishes against that scale; needed when the scale after the rescale is
   * small (2^30), where rotating after the rescale measured errors of 5e-3. Rotating first leaves no level after
   * the rotations to mask the slots between packed results, so such sets evaluate single-record and feature-major
   * only (`layoutProblem`).
   */
  readonly rotateBeforeRescale: boolean;
}

export const PARAMETER_SETS = {
  /**
   * N=8192 with 218 bits of modulus, the 128-bit maximum for this N (SEAL's CoeffModulus::MaxBitCount).
   * Depth 3 covers w·x+b (one rescale) and leaves room for a degree-3 polynomial stage.
   * Batch results at 2^36: 1000 * 2^36 < 2^46, a quarter of q0/2 (q0 is the 49-bit prime).
   */
  "ckks-n8192-d3": {
    polyModulusDegree: 8192,
    coeffModulusBits: [49, 40, 40, 40, 49],
    scaleBits: 40,
    securityBits: 128,
    depth: 3,
    slots: 4096,
    batchResultScaleBits: 36,
    rotateBeforeRescale: false,
  },
  /**
   * N=4096 for linear-only jobs (no sigmoid polynomial: depth 1). SEAL accepts at most 109 bits of modulus for
   * N=4096 at 128-bit security, so the chain is q0=45 | q1=30 | special prime 34 (109 bits, SecLevelType.tc128).
   *   - Precision: records at Δx=2^30, weights at ~2^30, rotations before the one rescale; measured over 300
   *     random single-record 13-value tuples |x|<=5 the largest error in T was 2.0e-6, and 4.7e-7 at |x|=32,
   *     |T|=1000 (T in every slot).
   *     (A rescale-first chain [40,29,40] measured 5.6e-3: the rotations' key-switching noise against a 2^26 scale.)
   *   - Exact range: results at 2^30 on the 45-bit q0: 1000 * 2^30 = 2^40, a sixteenth of q0/2, even when every
   *     slot holds a result.
   *   - Why (scripts/bench-fhe.ts, docs/fhe.md): against ckks-n8192-d3 a single-record upload is 46 KB instead of
   *     206 KB, a result 55 KB instead of 116 KB, the key bundle 0.62 MB instead of 4.5 MB, and the server stage
   *     6 ms instead of 22 ms. Half the slots, so half the records per feature-major job, still 293 B of upload
   *     per record when full (batches are feature-major here: see `rotateBeforeRescale`). The ckks-n8192-d3 targets (220 KB, 120 KB, 5 MB) are met either way, but
   *     with a few kilobytes to spare; this set leaves a wide margin for linear-only jobs.
   */
  "ckks-n4096-linear": {
    polyModulusDegree: 4096,
    coeffModulusBits: [45, 30, 34],
    scaleBits: 30,
    securityBits: 128,
    depth: 1,
    slots: 2048,
    batchResultScaleBits: 30,
    rotateBeforeRescale: true,
  },
} as const satisfies Record<string, CkksParameterSet>;

export type ParameterSetName = keyof typeof PARAMETER_SETS;
export const PARAMETER_SET_NAMES = Object.keys(PARAMETER_SETS) as [ParameterSetName, ...ParameterSetName[]];
export const DEFAULT_PARAMETER_SET: ParameterSetName = "ckks-n8192-d3";

export function parameterSet(name: ParameterSetName): CkksParameterSet {
  return PARAMETER_SETS[name];
}
