/**
 * The project's published model: its training settings and the plaintext reference it is compared with.
 * Shared by the training script and the tests that check the committed model file can be reproduced.
 */

export const STATLOG_HEART = {
  /** Relative to the project root. */
  data: "data/statlog_heart.csv",
  /** The data set's input metadata (labels, units, ranges, choices), relative to the project root. */
  inputs: "data/statlog_heart.inputs.json",
  target: "target",
  positiveMeans: "heart disease present",
  name: "statlog-heart-logreg",
  version: 1,
  description:
    "Logistic regression on 13 standardised clinical features predicting the presence of heart disease. " +
    "Trained on UCI Statlog (Heart), CC BY 4.0, doi:10.24432/C57303.",
  seed: 42,
  testFraction: 0.2,
  l2C: 1,
  /** Relative to the project root. */
  out: "models/statlog-heart-logreg.v1.json",
} as const;

/**
 * Published with the data: scikit-learn LogisticRegression(C=1) on StandardScaler features, stratified split
 * with random_state 42. The 80/20 numbers are for scikit-learn's own shuffle, not the split made here.
 */
export const SCIKIT_LEARN_REFERENCE = {
  heldOut: { testFraction: 0.2, accuracy: 0.852, auc: 0.899 },
  crossValidation: { folds: 5, accuracy: 0.837, auc: 0.897 },
} as const;
