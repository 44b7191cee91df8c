import { modelInputs, roundCount, type Model } from "../../../../../protocol/model.js";

/** What the patient should know about where a model's numbers come from. */
export interface ModelFacts {
  /** "13 measurements" */
  measurements: number;
  /** The data set in words, when the app knows it. */
  dataset: { name: string; people: string; era: string; origin: string } | undefined;
  /** Rows the model was fitted and tested on. */
  rows: number;
  testAccuracy: number;
  testAuc: number;
  cvAccuracy: number | undefined;
  rounds: number;
  threshold: number;
}

/** The data sets the committed models are trained on (data/README.md), in words for a patient. */
const DATASETS: Record<string, NonNullable<ModelFacts["dataset"]>> = {
  "statlog_heart.csv": {
    name: "UCI Statlog (Heart)",
    people: "270 patients",
    era: "the 1980s",
    origin: "patients examined for heart disease in a hospital study, drawn from the Cleveland heart-disease data",
  },
  "wdbc.csv": {
    name: "UCI Breast Cancer Wisconsin (Diagnostic)",
    people: "569 breast masses",
    era: "the early 1990s",
    origin: "images of fine-needle aspirates taken at the University of Wisconsin hospitals",
  },
};

export function modelFacts(model: Model): ModelFacts {
  const file = model.training.dataset.split("/").pop() ?? model.training.dataset;
  return {
    measurements: model.inputs?.length ?? modelInputs(model).length,
    dataset: DATASETS[file],
    rows: model.metrics.train.rows + model.metrics.test.rows,
    testAccuracy: model.metrics.test.accuracy,
    testAuc: model.metrics.test.auc,
    cvAccuracy: model.metrics.crossValidation?.accuracy,
    rounds: roundCount(model),
    threshold: model.client.threshold,
  };
}
