import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { KeysDoNotFitModelError, PredictionFailedError } from "../../client/errors.js";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { publishModel } from "../../hospital/publish-model.js";
import { mulberry32 } from "../../hospital/split.js";
import { readingFromRow, trainModel } from "../../hospital/train.js";
import { loadDataset } from "../../hospital/dataset.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { readJobResultHeader } from "../../protocol/fhe/headers.js";
import { failureReasonName } from "../../protocol/failure-reasons.js";
import { buildTuple, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { nonceOf } from "../helpers/nonce.js";
import { rejectionOf } from "../helpers/rejection.js";

const WIDTH = 256;
const ROOT = join(import.meta.dirname, "..", "..");

/**
 * Seeded synthetic data, generated here: 256 standard-normal inputs, of which the first 12 carry the label's signal
 * (the rest are noise a wide model must learn to weigh down).
 */
function wideCsv(rows: number, seed: number): string {
  const next = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const columns = Array.from({ length: WIDTH }, (_, j) => `x${j}`);
  const lines = [[...columns, "y"].join(",")];
  for (let r = 0; r < rows; r++) {
    const x = columns.map(() => normal());
    const signal = x.slice(0, 12).reduce((sum, v, j) => sum + (j % 2 === 0 ? 0.8 : -0.6) * v, 0);
    lines.push([...x.map((v) => v.toFixed(4)), signal + normal() > 0 ? 1 : 0].join(","));
  }
  return `${lines.join("\n")}\n`;
}

describe("wide and non-interactive models through chain, queue and worker (hardhat node, redis-server, BullMQ, node-seal)", function () {
  let stack: LocalStack;
  let engine: CkksEngine;
  let model: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let patient: PatientClient;

  before(async function () {
    const csvText = wideCsv(500, 20261202);
    model = trainModel({
      csvText,
      datasetName: "synthetic-wide-256",
      datasetSha256: createHash("sha256").update(csvText).digest("hex"),
      target: "y",
      positiveMeans: "synthetic positive class",
      name: "synthetic-wide",
      version: 1,
      description: "A 256-input logistic model on seeded synthetic data (test only).",
      seed: 7,
      testFraction: 0.2,
      l2C: 0.05,
      folds: 0,
    }).model;
    const dataset = loadDataset(csvText, "y");
    readings = dataset.rows.slice(0, 40).map((row) => readingFromRow(dataset.columns, row, ["y"]));
    stack = await startLocalStack({ coprocessorEnv: { PMHE_JOB_ATTEMPTS: "1", PMHE_OPERATOR_PORT: "0" } });
    engine = await CkksEngine.create(model.fhe.parameterSet);
    const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    ref = { model, id: modelId };
    patient = (await stack.newPatientClient(engine, { maxValues: WIDTH, sigmoid: true })).client;
  });

  after(async function () {
    patient?.dispose();
    engine?.dispose();
    await stack?.stop();
  });

  it("trains a model whose tuple holds all 256 inputs and which has learned the signal", function () {
    expect(model.features).to.have.length(WIDTH);
    expect(model.server.weights).to.have.length(WIDTH);
    expect(model.fhe.parameterSet).to.equal("ckks-n8192-d3");
    expect(model.metrics.test.auc).to.be.greaterThan(0.8);
    const signal = model.server.weights.slice(0, 12).reduce((s, w) => s + Math.abs(w), 0) / 12;
    const noise = model.server.weights.slice(12).reduce((s, w) => s + Math.abs(w), 0) / (WIDTH - 12);
    expect(signal).to.be.greaterThan(4 * noise);
  });

  it("single-record: each decrypted probability equals the plaintext model's within 1e-4", async function () {
    for (const reading of readings.slice(0, 3)) {
      const reference = predictPlaintext(model, reading);
      const result = await patient.predict(ref, reading);
      expect(Math.abs(result.logit - reference.logit)).to.be.at.most(1e-4);
      expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
      expect(result.predictedClass).to.equal(reference.predictedClass);
      expect(Number((await stack.contract.jobOf(result.jobId)).status)).to.equal(JobStatus.Finalized);
    }
  });

  it("packed-records: 16 readings (a 256-slot stride each) in one ciphertext, one job, every value within 1e-4", async function () {
    const batch = readings.slice(3, 19);
    const result = await patient.predictMany(ref, batch);
    expect(result.layout).to.equal("packed-records");
    expect(result.predictions).to.have.length(16);
    // The result names the stride its records were packed with.
    const header = readJobResultHeader((await stack.blobs.get(result.resultHash))!);
    expect(header).to.include({ layout: "packed-records", records: 16, stride: 256 });
    result.predictions.forEach((p, i) => {
      const reference = predictPlaintext(model, batch[i]!);
      expect(Math.abs(p.logit - reference.logit), `reading ${i}`).to.be.at.most(1e-4);
      expect(p.predictedClass, `reading ${i}`).to.equal(reference.predictedClass);
    });
  });

  it("refuses on the device, before any transaction, a patient whose keys rotate only 16-value tuples", async function () {
    const { client: narrow } = await stack.newPatientClient(engine);
    try {
      const address = await narrow.address();
      const nonce = await nonceOf(stack.provider, address);
      const err = await rejectionOf(narrow.predict(ref, readings[0]!));
      expect(err).to.be.instanceOf(KeysDoNotFitModelError);
      expect(err.message).to.match(/tuples of 256 values.*up to 16.*make keys for width 256/);
      expect(await nonceOf(stack.provider, address)).to.equal(nonce);
    } finally {
      narrow.dispose();
    }
  });

  it("fails on-chain with ParameterMismatch a wide record sent past the device check under narrow keys, and serves the next job", async function () {
    const { client: narrow } = await stack.newPatientClient(engine);
    try {
      // What a modified client could send: the 256-value tuple under a bundle with the rotation keys for 16.
      const recordHash = await narrow.uploadRecord(await narrow.crypto.encryptTuple(buildTuple(model, readings[0]!)));
      const { jobId } = await narrow.anchorAndRequest(recordHash, ref.id);
      const err = await rejectionOf(narrow.waitForResult(jobId, 60_000));
      expect(err).to.be.instanceOf(PredictionFailedError);
      const job = await stack.contract.jobOf(jobId);
      expect(Number(job.status)).to.equal(JobStatus.Failed);
      expect(failureReasonName(Number(job.failureReason))).to.equal("ParameterMismatch");
    } finally {
      narrow.dispose();
    }
    // The worker is still serving.
    const reference = predictPlaintext(model, readings[20]!);
    const result = await patient.predict(ref, readings[20]!);
    expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
  });

  describe("the non-interactive variant: the server evaluates the sigmoid polynomial, the patient decrypts p", function () {
    let heart: Model;
    let heartRef: ModelRef;
    let heartReadings: Reading[];

    before(async function () {
      const csvText = await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8");
      const base = {
        csvText,
        datasetName: "data/statlog_heart.csv",
        datasetSha256: createHash("sha256").update(csvText).digest("hex"),
        target: "target",
        positiveMeans: "heart disease present",
        name: "heart-non-interactive",
        version: 1,
        description: "Statlog heart, non-interactive (test only).",
        seed: 42,
        testFraction: 0.2,
        l2C: 1,
        folds: 0,
      };
      heart = trainModel({ ...base, nonInteractive: { degree: 3 } }).model;
      const dataset = loadDataset(csvText, "target");
      heartReadings = dataset.rows.slice(0, 20).map((row) => readingFromRow(dataset.columns, row, ["target"]));
      const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, heart);
      heartRef = { model: heart, id: modelId };
    });

    it("carries the polynomial fitted on the training logits in the model file", function () {
      const poly = heart.server.sigmoid!;
      expect(poly.degree).to.equal(3);
      expect(poly.coefficients).to.have.length(4);
      // The default interval is the training logits' range widened by 10% each side, so it holds every one of them.
      const probe = predictPlaintext(heart, heartReadings[0]!);
      expect(probe.probability).to.be.within(0, 1);
    });

    it("single-record and packed: the decrypted probability is the plaintext p(T) within 1e-4, with the result stage sigmoid-poly", async function () {
      for (const reading of heartReadings.slice(0, 2)) {
        const reference = predictPlaintext(heart, reading);
        const result = await patient.predict(heartRef, reading);
        expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
        expect(result.predictedClass).to.equal(reference.predictedClass);
        // p(T) is the polynomial's value, not σ(T): the two differ by up to the fit's error.
        const header = readJobResultHeader((await stack.blobs.get(result.resultHash))!);
        expect(header.stage).to.equal("sigmoid-poly");
      }
      const batch = heartReadings.slice(2, 14);
      const many = await patient.predictMany(heartRef, batch);
      expect(many.layout).to.equal("packed-records");
      many.predictions.forEach((p, i) => {
        const reference = predictPlaintext(heart, batch[i]!);
        expect(Math.abs(p.probability - reference.probability), `reading ${i}`).to.be.at.most(1e-4);
        expect(p.predictedClass, `reading ${i}`).to.equal(reference.predictedClass);
      });
    });

    it("refuses on the device a patient whose keys have no relinearization keys", async function () {
      const { client: linearOnly } = await stack.newPatientClient(engine);
      try {
        const err = await rejectionOf(linearOnly.predict(heartRef, heartReadings[0]!));
        expect(err).to.be.instanceOf(KeysDoNotFitModelError);
        expect(err.message).to.match(/non-interactive.*no relinearization keys/);
      } finally {
        linearOnly.dispose();
      }
    });
  });
});
