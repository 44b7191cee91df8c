import type { Prediction } from "../../protocol/model.js";
import type { ResultVerdict } from "../verdict.js";

/**
 * How a verified result is told to a person: the prediction, then how far it can be trusted. "n of k votes" always;
 * a warning line whenever one operator could have decided it alone, fewer operators than the quorum still back it,
 * or it is disputed (shown only when the patient asked to see disputed results).
 */
export function trustLines(verdict: ResultVerdict): string[] {
  const lines = [`verified on-chain: ${verdict.votes} of ${verdict.quorum} votes from operators in office`];
  if (verdict.singleOperator) {
    lines.push("warning: this deployment's quorum is 1: a single operator decided this result and could have forged it");
  }
  if (verdict.votes < verdict.quorum) {
    lines.push(`warning: only ${verdict.votes} operators in office still back this result (quorum ${verdict.quorum}); some who voted for it were revoked`);
  }
  if (verdict.disputed) {
    const who = verdict.dissent.map((d) => `${d.coprocessor} voted ${d.resultHash ? `result ${d.resultHash}` : `failure ${d.reason} (${d.reasonName})`}`);
    lines.push(`DISPUTED: operators in office disagree (${who.join("; ")}): this result is not final`);
  }
  return lines;
}

export function predictionLine(prediction: Prediction, positiveMeans: string, threshold: number): string {
  const meaning = prediction.predictedClass === 1 ? positiveMeans : `not ${positiveMeans}`;
  return `probability ${prediction.probability.toFixed(6)} -> class ${prediction.predictedClass} (${meaning}; threshold ${threshold})`;
}
