import type { CkksEngine, EvaluationKeyMaterial, ResultBinding } from "./engine.js";
import { PermanentJobError } from "../failure-reasons.js";
import { isFinalRound, roundCount, serverStage, type Model } from "../model.js";

/**
 * The server's part of one round of a model on one record blob. The record says which round it is for (its
 * header; absent means round 0) and the model says what that round computes: one dot product (the final round,
 * in any layout, followed by the sigmoid polynomial for a non-interactive model) or h of them over one replicated
 * tuple (a hidden round). Throws FheError or PermanentJobError.
 *
 * One definition for everyone who evaluates: the coprocessor's evaluation threads, and an auditor re-running a job
 * (the web app's audit worker) to compare the hash of what it gets with the hash the operators committed. CKKS
 * evaluation uses no randomness, so the same inputs on the same engine build give the same bytes. Browser-safe:
 * the engine is passed in (only its type is imported), so SEAL loads wherever the caller made the engine.
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
  const poly = model.server.sigmoid;
  if (poly && isFinalRound(model, round)) return engine.evaluateSigmoidPoly(keys, recordBytes, stage.weights[0]!, stage.bias[0]!, poly, binding);
  if (stage.weights.length === 1) return engine.evaluateLinearBatch(keys, recordBytes, stage.weights[0]!, stage.bias[0]!, binding);
  return engine.evaluateLinearRows(keys, recordBytes, stage.weights, stage.bias, binding);
}
