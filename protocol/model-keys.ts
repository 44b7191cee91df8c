import type { KeyBundleHeader } from "./fhe/headers.js";
import { layoutRotationSteps, maxTupleValues, MIN_RECORD_STRIDE, widestTupleFor } from "./fhe/layouts.js";
import type { ParameterSetName } from "./fhe/params.js";
import { roundCount, serverStage, type Model } from "./model.js";

/** The widest tuple any round of the model encrypts: what the patient's rotation keys must cover. */
export function widestTuple(model: Model): number {
  let widest = 0;
  for (let round = 0; round < roundCount(model); round++) widest = Math.max(widest, serverStage(model, round).weights[0]!.length);
  return widest;
}

/**
 * Why a patient's key bundle cannot evaluate this model, or undefined when it can: the model's parameter set must
 * be the keys' (a record is encrypted under the keys' set, and the coprocessor evaluates it under the model's), and
 * the bundle's rotation keys must cover the model's widest tuple (feature-major jobs need none, but a single reading
 * is always single-record), and a non-interactive model needs the bundle's relinearization keys. Checked by the client before anything is encrypted, uploaded or sent, so the mistake is
 * refused on the device rather than failed on-chain as ParameterMismatch.
 */
export function modelKeysProblem(model: Model, keys: Pick<KeyBundleHeader, "parameterSet" | "galoisSteps"> & { relinKeys: boolean }): string | undefined {
  const set = model.fhe.parameterSet;
  if (keys.parameterSet !== set) {
    return `model ${model.name} v${model.version} is evaluated under ${set}, and these keys are for ${keys.parameterSet}; make a key set for ${set}`;
  }
  const width = widestTuple(model);
  const missing = layoutRotationSteps("single-record", width).filter((step) => !keys.galoisSteps.includes(step));
  if (missing.length > 0) {
    return (
      `model ${model.name} v${model.version} encrypts tuples of ${width} values, and these keys rotate only tuples up to ` +
      `${widestTupleFor(keys.galoisSteps, set)} (missing rotation steps ${missing.join(",")}); make keys for width ${width} ` +
      `(at most ${maxTupleValues(set)} under ${set})`
    );
  }
  if (model.server.sigmoid && !keys.relinKeys) {
    return `model ${model.name} v${model.version} is non-interactive (the server evaluates the sigmoid polynomial), and these keys have no relinearization keys; make keys with them`;
  }
  return undefined;
}

/**
 * Key options that fit every model of one parameter set a patient may use: rotation keys for the widest tuple among
 * them (at least 16) and relinearization keys if any is non-interactive. Models of other sets are left out (a key
 * set is of one set).
 */
export function keyOptionsFor(models: readonly Model[], set: ParameterSetName): { maxValues: number; sigmoid: boolean } {
  const ofSet = models.filter((model) => model.fhe.parameterSet === set);
  return {
    maxValues: Math.min(maxTupleValues(set), Math.max(MIN_RECORD_STRIDE, ...ofSet.map(widestTuple))),
    sigmoid: ofSet.some((model) => model.server.sigmoid !== undefined),
  };
}
