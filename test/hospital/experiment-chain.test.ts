import { expect } from "chai";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { DEFAULT_EXPERIMENT_SEED, experimentTrainOptions, STATLOG_HEART_EXPERIMENT, type ExperimentInput } from "../../hospital/experiment.js";
import {
  chainChecks,
  chainChunks,
  chainTable,
  CHAIN_VARIANTS,
  percentile,
  runChainDataset,
  type ChainDatasetRun,
  type ChainRowPrediction,
} from "../../hospital/experiment-chain.js";
import { trainModel } from "../../hospital/train.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { readJobResultHeader } from "../../protocol/fhe/headers.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { predictPlaintext, sigmoid } from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("experiment-chain: helpers", function () {
  it("chainChunks splits rows into the fewest even jobs of at most the given size, every row once", function () {
    expect(chainChunks(54, 256)).to.deep.equal([Array.from({ length: 54 }, (_, i) => i)]);
    const chunks = chainChunks(114, 50);
    expect(chunks.map((c) => c.length)).to.deep.equal([38, 38, 38]);
    expect(chunks.flat()).to.deep.equal(Array.from({ length: 114 }, (_, i) => i));
    expect(chainChunks(0, 8)).to.deep.equal([]);
  });

  it("percentile is nearest-rank: an observed value, the largest of 10 at p95", function () {
    const values = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10];
    expect(percentile(values, 0.95)).to.equal(10);
    expect(percentile(values, 0.5)).to.equal(5);
    expect(percentile([42], 0.95)).to.equal(42);
  });
});

describe("experiment-chain: Statlog heart through chain, queue and worker (hardhat node, redis-server, BullMQ, node-seal)", function () {
  const SINGLE = 3;
  const BATCH_ROWS = 16;
  const BATCH_SIZE = 8;
  let stack: LocalStack;
  let engine: CkksEngine;
  let input: ExperimentInput;
  let run: ChainDatasetRun;
  let readingOf: (row: number) => Record<string, number>;

  before(async function () {
    const csvText = readFileSync(`${root}/${STATLOG_HEART_EXPERIMENT.data}`, "utf8");
    input = { spec: STATLOG_HEART_EXPERIMENT, csvText, sha256: createHash("sha256").update(csvText).digest("hex") };
    const dataset = loadDataset(csvText, STATLOG_HEART_EXPERIMENT.target);
    readingOf = (row) => readingFromRow(dataset.columns, dataset.rows[row]!, [dataset.target]);
    stack = await startLocalStack({ coprocessorEnv: { PMHE_JOB_ATTEMPTS: "1" } });
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    run = await runChainDataset(stack, engine, input, { singleRows: SINGLE, batchRows: BATCH_ROWS, batchSize: BATCH_SIZE });
  });

  after(async function () {
    engine?.dispose();
    await stack?.stop();
  });

  const all = (variant: (typeof CHAIN_VARIANTS)[number]): ChainRowPrediction[] => [
    ...run.result.variants[variant].single.predictions,
    ...run.result.variants[variant].batch.predictions,
  ];

  it("predicts the trainer's default held-out rows: the first K one at a time, the first batch rows in packed jobs of at most the batch size", function () {
    const { split } = trainModel({ ...experimentTrainOptions(input, DEFAULT_EXPERIMENT_SEED), folds: 0 });
    expect(run.result.heldOutRows).to.equal(split.test.length);
    expect(run.result.trainRows).to.equal(split.train.length);
    for (const variant of CHAIN_VARIANTS) {
      const { single, batch } = run.result.variants[variant];
      expect(single.predictions.map((p) => p.row)).to.deep.equal(split.test.slice(0, SINGLE));
      expect(batch.predictions.map((p) => p.row)).to.deep.equal(split.test.slice(0, BATCH_ROWS));
      expect(single.jobs).to.equal(SINGLE);
      expect(new Set(single.predictions.map((p) => p.jobId)).size).to.equal(SINGLE);
      expect(batch.jobs).to.equal(BATCH_ROWS / BATCH_SIZE);
      expect(batch.layouts).to.deep.equal(["packed-records"]);
    }
    // Same fit, the polynomial is the only difference between the two models.
    expect(run.models.interactive.server.weights).to.deep.equal(run.models.nonInteractive.server.weights);
    expect(run.models.interactive.server.sigmoid).to.equal(undefined);
    expect(run.models.nonInteractive.server.sigmoid?.degree).to.equal(3);
  });

  it("both variants: every chain-path probability equals predictPlaintext of its model within 1e-4, with the same class", function () {
    for (const variant of CHAIN_VARIANTS) {
      const model = run.models[variant];
      const rows = all(variant);
      expect(rows).to.have.length(SINGLE + BATCH_ROWS);
      for (const p of rows) {
        const reference = predictPlaintext(model, readingOf(p.row));
        expectClose(p.probability, reference.probability, 1e-4, `${variant} row ${p.row} probability`);
        expect(p.predictedClass, `${variant} row ${p.row} class`).to.equal(reference.predictedClass);
      }
      const { single, batch } = run.result.variants[variant];
      expect(single.classAgreement).to.equal(SINGLE);
      expect(batch.classAgreement).to.equal(BATCH_ROWS);
      expect(Math.max(single.maxAbsDeltaP, batch.maxAbsDeltaP)).to.be.at.most(1e-4);
    }
  });

  it("the worker evaluated the polynomial for the non-interactive model and only the linear stage for the interactive one", async function () {
    const expected = { interactive: "linear", nonInteractive: "sigmoid-poly" } as const;
    for (const variant of CHAIN_VARIANTS) {
      for (const p of all(variant)) {
        const bytes = await stack.blobs.get(p.resultHash);
        expect(bytes, `result ${p.resultHash}`).to.not.equal(undefined);
        const header = readJobResultHeader(bytes!);
        expect(header.stage, `${variant} row ${p.row}`).to.equal(expected[variant]);
        expect(header.jobId).to.equal(p.jobId);
      }
    }
  });

  it("the non-interactive probabilities are the polynomial's, not a copy of the interactive σ(T)", function () {
    const interactive = run.models.interactive;
    const differences = all("nonInteractive").map((p) => {
      const t = predictPlaintext(interactive, readingOf(p.row)).logit;
      return Math.abs(p.probability - sigmoid(t));
    });
    expect(Math.max(...differences)).to.be.greaterThan(1e-3);
    // And the interactive chain path is σ(T) itself.
    for (const p of all("interactive")) expectClose(p.probability, sigmoid(predictPlaintext(interactive, readingOf(p.row)).logit), 1e-4, `row ${p.row}`);
  });

  it("one transaction per single-record prediction and per batch job; every job Finalized on-chain, none failed", async function () {
    for (const variant of CHAIN_VARIANTS) {
      const { single, batch } = run.result.variants[variant];
      expect(single.transactions).to.equal(SINGLE);
      expect(single.transactionsPerPrediction).to.equal(1);
      expect(batch.transactions).to.equal(batch.jobs);
      expect(single.failedJobs + batch.failedJobs).to.equal(0);
      for (const jobId of new Set(all(variant).map((p) => p.jobId))) {
        expect(Number((await stack.contract.jobOf(jobId)).status)).to.equal(JobStatus.Finalized);
      }
    }
    expect(await stack.contract.queryFilter(stack.contract.filters.JobFailed(), 0)).to.have.length(0);
  });

  it("its checks pass, fail on a drifting row, and its table has a line per variant and mode", function () {
    const checks = chainChecks([run.result], { singleRows: SINGLE, batchRows: BATCH_ROWS }, 0);
    expect(checks.filter((c) => !c.pass)).to.deep.equal([]);
    const drifted = structuredClone(run.result);
    drifted.variants.nonInteractive.batch.maxAbsDeltaP = 2e-4;
    expect(chainChecks([drifted], { singleRows: SINGLE, batchRows: BATCH_ROWS }).some((c) => !c.pass)).to.equal(true);
    const table = chainTable([run.result]).split("\n");
    expect(table).to.have.length(2 + 4);
  });
});
