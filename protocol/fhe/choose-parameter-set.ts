import { layoutProblem, maxTupleValues } from "./layouts.js";
import { PARAMETER_SET_NAMES, parameterSet, type ParameterSetName } from "./params.js";

/** What a model asks of its parameter set. */
export interface ModelNeeds {
  /** The widest tuple any of its rounds encrypts. */
  width: number;
  /** Rescales after encryption: 1 for linear stages, 1 + the polynomial's levels for the non-interactive variant. */
  depth: number;
  /** Hidden rounds are evaluated packed (h copies of the tuple), which needs a level to mask between results. */
  packed: boolean;
}

/** Why a parameter set cannot hold a model with these needs, or undefined. */
export function parameterSetProblem(name: ParameterSetName, needs: ModelNeeds): string | undefined {
  const params = parameterSet(name);
  if (needs.width > maxTupleValues(name)) return `${name} takes tuples of at most ${maxTupleValues(name)} values, the model's widest has ${needs.width}`;
  if (needs.depth > params.depth) return `${name} has depth ${params.depth}, the model needs ${needs.depth}`;
  if (needs.packed) return layoutProblem("packed-records", name);
  return undefined;
}

/**
 * The smallest parameter set (ring dimension, then modulus) that holds the model. Every set is 128-bit secure under
 * the HomomorphicEncryption.org standard's table (docs/fhe.md), so smaller only means faster and smaller blobs:
 * a linear model fits ckks-n4096-linear (N=4096), a non-interactive or multi-round one needs ckks-n8192-d3.
 */
export function smallestParameterSet(needs: ModelNeeds): ParameterSetName {
  const bySize = [...PARAMETER_SET_NAMES].sort((a, b) => {
    const pa = parameterSet(a);
    const pb = parameterSet(b);
    return pa.polyModulusDegree - pb.polyModulusDegree || pa.coeffModulusBits.reduce((s, x) => s + x, 0) - pb.coeffModulusBits.reduce((s, x) => s + x, 0);
  });
  const fits = bySize.find((name) => parameterSetProblem(name, needs) === undefined);
  if (!fits) throw new RangeError(`no parameter set holds this model: ${bySize.map((name) => parameterSetProblem(name, needs)).join("; ")}`);
  return fits;
}
