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
}

export const PARAMETER_SETS = {
  /**
   * N=8192 with 218 bits of modulus, the 128-bit maximum for this N (SEAL's CoeffModulus::MaxBitCount).
   * Depth 3 covers w·x+b (one rescale) and leaves room for a degree-3 polynomial stage.
   */
  "ckks-n8192-d3": {
    polyModulusDegree: 8192,
    coeffModulusBits: [49, 40, 40, 40, 49],
    scaleBits: 40,
    securityBits: 128,
    depth: 3,
    slots: 4096,
  },
} as const satisfies Record<string, CkksParameterSet>;

export type ParameterSetName = keyof typeof PARAMETER_SETS;
export const PARAMETER_SET_NAMES = Object.keys(PARAMETER_SETS) as [ParameterSetName, ...ParameterSetName[]];
export const DEFAULT_PARAMETER_SET: ParameterSetName = "ckks-n8192-d3";

export function parameterSet(name: ParameterSetName): CkksParameterSet {
  return PARAMETER_SETS[name];
}
