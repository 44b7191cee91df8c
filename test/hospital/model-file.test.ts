import { expect } from "chai";
import { keccak256 } from "ethers";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildTuple,
  featureInput,
  modelBytes,
  modelHash,
  parseModel,
  parseModelBytes,
  predictPlaintext,
  roundCount,
  serverStage,
  tupleNames,
  type Model,
} from "../../protocol/model.js";
import { loadDataset } from "../../hospital/dataset.js";
import { checkRows, parseInputsFile } from "../../hospital/inputs.js";
import { stratifiedSplit } from "../../hospital/split.js";
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
  inputs: parseInputsFile(readFileSync(join(root, STATLOG_HEART.inputs), "utf8"), STATLOG_HEART.inputs).inputs,
};

describe("models/statlog-heart-logreg.v1.json", () => {
  it("parses as pmhe-model/2 and is stored as canonical JSON, so keccak256(file) = modelHash", () => {
    const model = parseModel(JSON.parse(new TextDecoder().decode(fileBytes)));
    expect(parseModelBytes(fileBytes)).to.deep.equal(model);
    expect(keccak256(fileBytes)).to.equal(modelHash(model));
    expect(Buffer.from(modelBytes(model)).equals(Buffer.from(fileBytes))).to.equal(true);
    expect(model.format).to.equal("pmhe-model/2");
    expect(model.features.map((f) => f.name)).to.deep.equal(
      ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal"],
    );
    expect(model.features.every((f) => f.transform === "identity" && f.input === f.name)).to.equal(true);
    expect(model.inputs!.map((i) => i.name)).to.deep.equal(model.features.map((f) => f.name));
    expect(model.hidden).to.equal(undefined);
    expect(model.metrics.crossValidation!.folds).to.equal(5);
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

const COMMITTED = ["statlog-heart-logreg.v1.json", "wdbc-logreg.v1.json", "statlog-heart-mlp.v1.json"] as const;

/** The shell commands in the ```sh block of models/README.md, continuation lines joined and double quotes honoured. */
function readmeCommands(): string[][] {
  const readme = readFileSync(join(root, "models", "README.md"), "utf8");
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  expect(block, "models/README.md has a ```sh block").to.not.equal(null);
  const logical = block![1]!.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return logical.map((line) => {
    const words: string[] = [];
    for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]!);
    return words;
  });
}

describe("models/*.json", function () {
  this.timeout(180_000);

  for (const file of COMMITTED) {
    it(`${file}: parses, is canonical, keccak256(file) = modelHash, and its held-out metrics are what predictPlaintext gives`, () => {
      const bytes = new Uint8Array(readFileSync(join(root, "models", file)));
      const model = parseModelBytes(bytes);
      expect(keccak256(bytes)).to.equal(modelHash(model));
      expect(Buffer.from(modelBytes(model)).equals(Buffer.from(bytes))).to.equal(true);
      expect(`${model.name}.v${model.version}.json`).to.equal(file);
      const data = readFileSync(join(root, model.training.dataset));
      expect(createHash("sha256").update(data).digest("hex")).to.equal(model.training.datasetSha256);
      const ds = loadDataset(data.toString("utf8"), model.target.column);
      const { test } = stratifiedSplit(ds.labels, model.training.testFraction, model.training.seed);
      const correct = test.filter((i) => predictPlaintext(model, readingFromRow(ds.columns, ds.rows[i]!, [model.target.column])).predictedClass === ds.labels[i]);
      expect(correct.length / test.length).to.equal(model.metrics.test.accuracy);
      const cv = model.metrics.crossValidation!;
      expect(cv.folds).to.equal(5);
      expect(cv.perFold).to.have.length(5);
    });
  }

  it("wdbc-logreg fits 16 of WDBC's 30 columns and stays near the 30-column reference", () => {
    const model = parseModelBytes(new Uint8Array(readFileSync(join(root, "models", "wdbc-logreg.v1.json"))));
    expect(model.features).to.have.length(16);
    expect(model.description).to.contain("CC BY 4.0").and.contain("doi:10.24432/C5DW2B");
    expect(model.metrics.test.accuracy).to.be.at.least(0.95);
    expect(model.metrics.crossValidation!.accuracy).to.be.at.least(0.96);
    expect(model.metrics.crossValidation!.auc).to.be.at.least(0.99);
  });

  it("statlog-heart-mlp is a two-round model: 16 entries with transforms, 8 hidden values, then the logit", () => {
    const model = parseModelBytes(new Uint8Array(readFileSync(join(root, "models", "statlog-heart-mlp.v1.json"))));
    expect(roundCount(model)).to.equal(2);
    expect(tupleNames(model, 0)).to.include.members(["cp=1", "cp=4", "log(chol)", "log1p(oldpeak)"]);
    expect(tupleNames(model, 0)).to.have.length(16);
    expect(serverStage(model, 0).weights).to.have.length(8);
    expect(serverStage(model, 1).weights).to.deep.equal([model.server.weights]);
    expect(model.metrics.test.auc).to.be.at.least(0.85);
  });

  it("embeds its data set's input metadata for exactly the columns it reads, in the metadata's order", () => {
    for (const file of COMMITTED) {
      const model = parseModelBytes(new Uint8Array(readFileSync(join(root, "models", file))));
      const metadataPath = model.training.dataset.replace(/\.csv$/, ".inputs.json");
      const metadata = parseInputsFile(readFileSync(join(root, metadataPath), "utf8"), metadataPath).inputs;
      const columns = new Set(model.features.map(featureInput));
      expect(model.inputs, file).to.deep.equal(metadata.filter((input) => columns.has(input.name)));
      expect(model.inputs!.map((i) => i.name).sort(), file).to.deep.equal([...columns].sort());
    }
  });

  it("models/README.md lists each file's keccak256", () => {
    const readme = readFileSync(join(root, "models", "README.md"), "utf8");
    for (const file of COMMITTED) {
      expect(readme, file).to.contain(`| \`${file}\` | \`${keccak256(new Uint8Array(readFileSync(join(root, "models", file))))}\` |`);
    }
  });

  it("accepts every reading its declared ranges and choices admit: none leaves ±32 standard deviations", () => {
    // Every committed transform is monotone (identity, log, log1p) or one-hot, so the range's ends are the extremes.
    const extremes = (model: Model, name: string): number[] => {
      const input = model.inputs!.find((i) => i.name === name)!;
      return input.kind === "choice" ? input.choices.map((c) => c.value) : [input.min, input.max];
    };
    for (const file of COMMITTED) {
      const model = parseModelBytes(new Uint8Array(readFileSync(join(root, "models", file))));
      expect(model.features.every((f) => ["identity", "log", "log1p", "one-hot"].includes(f.transform)), file).to.equal(true);
      const reading = Object.fromEntries(model.inputs!.map((i) => [i.name, extremes(model, i.name)[0]!]));
      for (const input of model.inputs!) {
        for (const value of extremes(model, input.name)) {
          expect(() => buildTuple(model, { ...reading, [input.name]: value }), `${file} ${input.name} = ${value}`).to.not.throw();
        }
      }
    }
  });

  it("every command in models/README.md reproduces its committed model byte for byte", () => {
    const commands = readmeCommands();
    expect(commands).to.have.length(COMMITTED.length);
    const dir = mkdtempSync(join(tmpdir(), "models-readme-"));
    try {
      const produced = new Set<string>();
      for (const words of commands) {
        expect(words.slice(0, 3)).to.deep.equal(["npx", "tsx", "scripts/train-model.ts"]);
        const args = words.slice(3);
        const nameAt = args.indexOf("--name");
        const file = `${nameAt >= 0 ? args[nameAt + 1] : STATLOG_HEART.name}.v1.json`;
        const out = join(dir, file);
        const run = spawnSync(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "scripts/train-model.ts"), ...args, "--out", out], {
          cwd: root,
          encoding: "utf8",
        });
        expect(run.status, run.stderr).to.equal(0);
        expect(Buffer.from(readFileSync(out)).equals(readFileSync(join(root, "models", file))), file).to.equal(true);
        produced.add(file);
      }
      expect([...produced].sort()).to.deep.equal([...COMMITTED].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("data/*.inputs.json", () => {
  for (const [csv, target] of [["statlog_heart.csv", "target"], ["wdbc.csv", "malignant"]] as const) {
    const file = csv.replace(/\.csv$/, ".inputs.json");
    it(`${file} describes every column of ${csv} but the target, and every row lies in its ranges and choices`, () => {
      const metadata = parseInputsFile(readFileSync(join(root, "data", file), "utf8"), file);
      expect(metadata.dataset).to.equal(csv);
      const ds = loadDataset(readFileSync(join(root, "data", csv), "utf8"), target);
      expect(metadata.inputs.map((i) => i.name)).to.deep.equal(ds.featureNames);
      expect(() => checkRows(ds, metadata.inputs)).to.not.throw();
      // Categorical columns are choices whose values are exactly the codes in the data.
      for (const input of metadata.inputs) {
        if (input.kind !== "choice") continue;
        const j = ds.columns.indexOf(input.name);
        expect([...new Set(ds.rows.map((r) => r[j]!))].sort((a, b) => a - b), input.name).to.deep.equal(input.choices.map((c) => c.value));
      }
    });
  }
});
