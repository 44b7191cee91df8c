import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { parseModelBytes, type Model, type Reading } from "../../protocol/model.js";

/** The repository's root. */
export const ROOT = join(import.meta.dirname, "..", "..");

/** The published test model, models/statlog-heart-logreg.v1.json. */
export async function loadTestModel(): Promise<Model> {
  return parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
}

/** The first `count` readings of the model's own test split of data/statlog_heart.csv (rows it was not trained on). */
export async function testReadings(model: Model, count: number): Promise<Reading[]> {
  const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
  const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
  return test.slice(0, count).map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [model.target.column]));
}
