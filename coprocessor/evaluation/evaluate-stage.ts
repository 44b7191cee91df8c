import type { CkksEngine, EvaluationKeyMaterial, ResultBinding } from "../../protocol/fhe/engine.js";
import { PermanentJobError } from "../../protocol/failure-reasons.js";
import { roundCount, serverStage, type Model } from "../../protocol/model.js";

/**
 * The server's part of one round of a model on one record blob. The record says which round it is for (its
 * header; absent means round 0) and the model says what that round computes: one dot product (the final round,
 * in any layout) or h of them over one replicated tuple (a hidden round). Throws FheError or PermanentJobError.
 */
export function evaluateModelStage(
  engine: CkksEngine,
  keys: EvaluationKeyMaterial,
  recordBytes: Uint8Array,
  model: Model,
  binding: ResultBinding,
): Uint8Array {
  const header = engine.readRecordsHeader(recordBytes);
  const round = "round" in header && header.round !== undefined ? header.round : 0;
  const rounds = roundCount(model);
  if (round >= rounds) throw new PermanentJobError("MalformedRecord", `record is for round ${round}, model ${model.name} has ${rounds} round(s)`);
  const stage = serverStage(model, round);
  if (stage.weights.length === 1) return engine.evaluateLinearBatch(keys, recordBytes, stage.weights[0]!, stage.bias[0]!, binding);
  return engine.evaluateLinearRows(keys, recordBytes, stage.weights, stage.bias, binding);
}
