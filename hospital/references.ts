/**
 * Plaintext references published with the data sets (scikit-learn LogisticRegression(C=1) on every column,
 * StandardScaler, stratified split / folds with random_state 42), keyed by the SHA-256 of the CSV. The trainer
 * prints them next to its own numbers; the splits differ (scikit-learn's shuffle is not this project's), and so
 * do the features whenever a model selects or transforms columns.
 */
import { SCIKIT_LEARN_REFERENCE } from "./statlog-heart.js";

export interface PlaintextReference {
  dataset: string;
  /** What the reference model used. */
  features: string;
  heldOut: { testFraction: number; accuracy: number; auc: number };
  crossValidation: { folds: number; accuracy: number; auc: number };
}

export const PLAINTEXT_REFERENCES: Readonly<Record<string, PlaintextReference>> = {
  d23de3512f82ec2f25fa01d874cb72b2995d16d2e89aabbb2d2af03fc8e6d121: {
    dataset: "UCI Statlog (Heart)",
    features: "all 13 columns, identity",
    ...SCIKIT_LEARN_REFERENCE,
  },
  "3df6821a97b59154efb1f79fbd20883f99751d5c12b381d2d1ca045061ab5db0": {
    dataset: "UCI Breast Cancer Wisconsin (Diagnostic)",
    features: "all 30 columns, identity",
    heldOut: { testFraction: 0.2, accuracy: 0.965, auc: 0.996 },
    crossValidation: { folds: 5, accuracy: 0.974, auc: 0.995 },
  },
};

export function referenceFor(datasetSha256: string): PlaintextReference | undefined {
  return PLAINTEXT_REFERENCES[datasetSha256];
}
