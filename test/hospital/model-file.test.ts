import { expect } from "chai";
import { keccak256 } from "ethers";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { modelBytes, modelHash, parseModel, parseModelBytes, predictPlaintext } from "../../protocol/model.js";
import { loadDataset } from "../../hospital/dataset.js";
import { STATLOG_HEART } from "../../hospital/statlog-heart.js";
import { readingFromRow, trainModel, type TrainOptions } from "../../hospital/train.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const csvBytes = readFileSync(join(root, STATLOG_HEART.data));
const csvText = csvBytes.toString("utf8");
const fileBytes = new Uint8Array(readFileSync(join(root, STATLOG_HEART.out)));

const defaults: TrainOptions = {
  csvText,
  datasetName: STATLOG_HEART.data,
  datasetSha256: createHash("sha256").update(csvBytes).digest("hex"),
  target: STATLOG_HEART.target,
  positiveMeans: STATLOG_HEART.positiveMeans,
  name: STATLOG_HEART.name,
  version: STATLOG_HEART.version,
  description: STATLOG_HEART.description,
  seed: STATLOG_HEART.seed,
  testFraction: STATLOG_HEART.testFraction,
  l2C: STATLOG_HEART.l2C,
};

describe("models/statlog-heart-logreg.v1.json", () => {
  it("parses as pmhe-model/1 and is stored as canonical JSON, so keccak256(file) = modelHash", () => {
    const model = parseModel(JSON.parse(new TextDecoder().decode(fileBytes)));
    expect(parseModelBytes(fileBytes)).to.deep.equal(model);
    expect(keccak256(fileBytes)).to.equal(modelHash(model));
    expect(Buffer.from(modelBytes(model)).equals(Buffer.from(fileBytes))).to.equal(true);
    expect(model.features.map((f) => f.name)).to.deep.equal(
      ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal"],
    );
    expect(model.training.datasetSha256).to.equal(defaults.datasetSha256);
    expect(model.description).to.contain("UCI Statlog (Heart), CC BY 4.0, doi:10.24432/C57303");
  });

  it("is reproduced byte for byte by retraining with the default options", () => {
    const { model } = trainModel(defaults);
    expect(Buffer.from(modelBytes(model)).equals(Buffer.from(fileBytes))).to.equal(true);
  });

  it("meets the held-out quality bar: accuracy >= 0.80 and AUC >= 0.85", () => {
    const model = parseModelBytes(fileBytes);
    expect(model.metrics.test.rows).to.equal(54);
    expect(model.metrics.train.rows).to.equal(216);
    expect(model.metrics.test.accuracy).to.be.at.least(0.8);
    expect(model.metrics.test.auc).to.be.at.least(0.85);
  });

  it("records metrics that the file itself reproduces through predictPlaintext on the held-out rows", () => {
    const model = parseModelBytes(fileBytes);
    const { split } = trainModel(defaults);
    const ds = loadDataset(csvText, STATLOG_HEART.target);
    let correct = 0;
    for (const i of split.test) {
      const reading = readingFromRow(ds.columns, ds.rows[i]!, [STATLOG_HEART.target]);
      expect(reading).to.not.have.property("target");
      if (predictPlaintext(model, reading).predictedClass === ds.labels[i]) correct++;
    }
    expect(correct / split.test.length).to.equal(model.metrics.test.accuracy);
  });

  it("holds standardisation constants of the training rows only (population std)", () => {
    const model = parseModelBytes(fileBytes);
    const { split } = trainModel(defaults);
    const ds = loadDataset(csvText, STATLOG_HEART.target);
    model.features.forEach((feature, j) => {
      const values = split.train.map((i) => ds.features[i]![j]!);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
      expectClose(feature.mean, mean, 1e-12 * Math.max(1, Math.abs(mean)), feature.name);
      expectClose(feature.std, std, 1e-12 * Math.max(1, std), feature.name);
    });
  });
});

describe("scripts/train-model.ts", function () {
  this.timeout(120_000);

  it("writes a model whose keccak256 is the hash it prints, resolving default data relative to the project", () => {
    const dir = mkdtempSync(join(tmpdir(), "train-model-"));
    try {
      const out = join(dir, "model.json");
      // Run from another working directory: the default --data must still be found.
      const run = spawnSync(
        process.execPath,
        [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/train-model.ts"), "--json", "--out", out],
        { cwd: dir, encoding: "utf8" },
      );
      expect(run.status, run.stderr).to.equal(0);
      const report = JSON.parse(run.stdout) as { hash: string; rows: { train: number; test: number } };
      const written = new Uint8Array(readFileSync(out));
      expect(keccak256(written)).to.equal(report.hash);
      expect(Buffer.from(written).equals(Buffer.from(fileBytes))).to.equal(true);
      expect(report.rows).to.deep.equal({ train: 216, test: 54 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
