/** Evaluation metrics for a binary classifier: labels are 0 or 1, scores are probabilities or logits. */

function checkLabels(labels: readonly number[], scores: readonly number[]): void {
  if (labels.length !== scores.length) throw new RangeError(`${labels.length} labels but ${scores.length} scores`);
  if (labels.length === 0) throw new RangeError("no rows to evaluate");
  labels.forEach((label, i) => {
    if (label !== 0 && label !== 1) throw new RangeError(`label ${i} must be 0 or 1, got ${label}`);
  });
  scores.forEach((score, i) => {
    if (Number.isNaN(score)) throw new RangeError(`score ${i} is NaN`);
  });
}

/** Fraction of rows whose predicted class (0 or 1) equals the label. */
export function accuracy(labels: readonly number[], predicted: readonly number[]): number {
  checkLabels(labels, predicted);
  let correct = 0;
  labels.forEach((label, i) => {
    if (predicted[i] === label) correct++;
  });
  return correct / labels.length;
}

/** Accuracy when class 1 is predicted for score >= threshold, the rule the client applies to the probability. */
export function accuracyAtThreshold(labels: readonly number[], scores: readonly number[], threshold: number): number {
  return accuracy(labels, scores.map((score) => (score >= threshold ? 1 : 0)));
}

/**
 * Area under the ROC curve by the rank (Mann-Whitney U) formula: the probability that a random positive row
 * scores above a random negative one, a tie counting 1/2. Tied scores share their average rank.
 */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  checkLabels(labels, scores);
  const positives = labels.filter((l) => l === 1).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) throw new RangeError("ROC AUC needs at least one row of each class");

  const order = labels.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1; // ranks are 1-based
    for (let k = start; k <= end; k++) if (labels[order[k]!] === 1) positiveRankSum += averageRank;
    start = end + 1;
  }
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

/** Nearest-rank percentile (q in (0, 1]): always an observed value, so p50 <= p95 <= max. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError("percentile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}
