import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { keccak256, randomBytes, Wallet } from "ethers";
import { auditJobs } from "../../auditor/job-history.js";
import { PredictionFailedError, ResultVerificationError } from "../../client/errors.js";
import { PatientClient } from "../../client/patient-client.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { publishModel } from "../../hospital/publish-model.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import { forwardPlaintext, parseModelBytes, predictPlaintext, roundCount, type Model, type Reading } from "../../protocol/model.js";
import { rejectionOf } from "../helpers/rejection.js";
import { alterStoredBlob } from "../helpers/tamper.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("encrypted prediction end to end (hardhat node, redis-server, BullMQ, node-seal)", function () {
  let stack: LocalStack;
  let engine: CkksEngine;
  let model: Model;
  let modelHash: Hash;
  let readings: Reading[];
  let patient: PatientClient;

  before(async function () {
    model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
    const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
    const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
    readings = test.map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [model.target.column]));
    // Two attempts keep the "blob never uploaded" case to one backoff of 1 s.
    stack = await startLocalStack({ coprocessorEnv: { PMHE_JOB_ATTEMPTS: "2" } });
    engine = await CkksEngine.create(model.fhe.parameterSet);
    modelHash = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    patient = await newPatient();
  });

  after(async function () {
    patient?.dispose();
    engine?.dispose();
    await stack?.stop();
  });

  async function newPatient(): Promise<PatientClient> {
    return (await stack.newPatientClient(engine)).client;
  }

  it("gives each patient the plaintext model's probability within 1e-4 and the same class", async function () {
    const patients = [patient, await newPatient(), await newPatient()];
    try {
      for (const [i, reading] of readings.slice(0, 6).entries()) {
        const client = patients[i % patients.length]!;
        const reference = predictPlaintext(model, reading);
        const result = await client.predict(model, reading);
        expect(Math.abs(result.probability - reference.probability), `patient ${i}`).to.be.at.most(1e-4);
        expect(Math.abs(result.logit - reference.logit), `patient ${i} logit`).to.be.at.most(1e-4);
        expect(result.predictedClass, `patient ${i}`).to.equal(reference.predictedClass);

        const job = await stack.contract.jobOf(result.jobId);
        expect(Number(job.status)).to.equal(JobStatus.Finalized);
        expect(job.resultHash.toLowerCase()).to.equal(result.resultHash);
        expect(job.recordHash.toLowerCase()).to.equal(result.recordHash);
        expect(job.modelHash.toLowerCase()).to.equal(modelHash);
        // The committed hash really is the hash of the stored result.
        expect(keccak256(await readFile(join(stack.blobDir, result.resultHash.slice(2))))).to.equal(result.resultHash);
      }
    } finally {
      patients.slice(1).forEach((p) => p.dispose());
    }
  });

  it("refuses a record whose stored bytes were altered: the job fails on-chain with RecordHashMismatch and the worker serves the next job", async function () {
    const recordHash = await patient.submitReading(model, readings[7]!);
    await alterStoredBlob(stack.blobDir, recordHash, 1_000);

    const { jobId, blockNumber } = await patient.requestPrediction(recordHash, modelHash);
    const err = await rejectionOf(patient.waitForResult(jobId, blockNumber, 60_000));
    expect(err).to.be.instanceOf(PredictionFailedError);
    expect((err as PredictionFailedError).reason).to.equal("RecordHashMismatch");

    const job = await stack.contract.jobOf(jobId);
    expect(Number(job.status)).to.equal(JobStatus.Failed);
    expect(Number(job.failureReason)).to.equal(2);
    const [report] = await stack.contract.queryFilter(stack.contract.filters.FailureReported(jobId), blockNumber);
    expect(report!.args.coprocessor).to.equal(stack.coprocessor.operator);
    expect(Number(report!.args.reason)).to.equal(2);

    // The same worker goes on to serve the next job correctly.
    const reading = readings[8]!;
    const result = await patient.predict(model, reading);
    expect(Math.abs(result.probability - predictPlaintext(model, reading).probability)).to.be.at.most(1e-4);
  });

  it("fails a job whose record was anchored but never uploaded with RecordBlobMissing, after its retries", async function () {
    const neverUploaded = keccak256(randomBytes(64)) as Hash;
    const contract = stack.contract.connect(await stack.newPatient());
    await (await contract.registerKeys(patient.keyBundleHash, stack.blobs.urlOf(patient.keyBundleHash))).wait();
    await (await contract.anchorRecord(neverUploaded)).wait();
    const receipt = await (await contract.requestPrediction(neverUploaded, modelHash)).wait();
    const jobId = contract.interface.parseLog(receipt!.logs.at(-1)!)!.args.jobId as Hash;

    const err = await rejectionOf(patient.waitForResult(jobId, receipt!.blockNumber, 60_000));
    expect(err).to.be.instanceOf(PredictionFailedError);
    expect((err as PredictionFailedError).reason).to.equal("RecordBlobMissing");
  });

  it("lets the patient refuse a result blob that no longer matches the committed hash", async function () {
    const recordHash = await patient.submitReading(model, readings[9]!);
    const { jobId, blockNumber } = await patient.requestPrediction(recordHash, modelHash);
    const resultHash = await patient.waitForResult(jobId, blockNumber, 60_000);

    await alterStoredBlob(stack.blobDir, resultHash, 10, 0x80);
    const err = await rejectionOf(patient.fetchVerifiedResult(jobId));
    expect(err).to.be.instanceOf(ResultVerificationError);
    expect(err.message).to.contain(resultHash);
  });

  it("evaluates many readings of one patient as one job, in the layout the engine picks for the count", async function () {
    for (const [count, layout] of [[30, "packed-records"], [300, "feature-major"]] as const) {
      const batch = Array.from({ length: count }, (_, i) => readings[i % readings.length]!);
      const result = await patient.predictMany(model, batch);
      expect(result.layout).to.equal(layout);
      expect(result.predictions).to.have.length(count);
      result.predictions.forEach((p, i) => {
        const reference = predictPlaintext(model, batch[i]!);
        expect(Math.abs(p.probability - reference.probability), `reading ${i}`).to.be.at.most(1e-4);
        expect(p.predictedClass, `reading ${i}`).to.equal(reference.predictedClass);
      });
      expect(Number((await stack.contract.jobOf(result.jobId)).status)).to.equal(JobStatus.Finalized);
    }
  });

  it("runs a two-round model (encrypted hidden layer, client activation, encrypted output layer) like its plaintext forward pass", async function () {
    const mlp = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-mlp.v1.json")));
    expect(roundCount(mlp)).to.equal(2);
    const mlpHash = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, mlp);
    for (const reading of readings.slice(11, 13)) {
      const reference = forwardPlaintext(mlp, reading);
      const result = await patient.predict(mlp, reading);
      expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
      expect(result.predictedClass).to.equal(reference.predictedClass);
      // Each round was its own job on the same model, settled on-chain.
      expect(result.rounds?.map((r) => r.round)).to.deep.equal([0, 1]);
      for (const round of result.rounds!) {
        const job = await stack.contract.jobOf(round.jobId);
        expect(Number(job.status)).to.equal(JobStatus.Finalized);
        expect(job.modelHash.toLowerCase()).to.equal(mlpHash);
        expect(job.resultHash.toLowerCase()).to.equal(round.resultHash);
      }
    }
  });

  it("lets an auditor rebuild every job from events alone, matching the contract's own state", async function () {
    const run = promisify(execFile);
    const out = await run(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "audit.ts"), "--json"], {
      cwd: ROOT,
      env: { ...process.env, PMHE_RPC_URL: stack.rpcUrl, PMHE_CONTRACT_ADDRESS: stack.contractAddress },
    });
    const audited = (JSON.parse(out.stdout) as { jobs: Awaited<ReturnType<typeof auditJobs>> }).jobs;
    expect(audited.length).to.be.at.least(9);
    const statusNames = ["None", "Requested", "Finalized", "Failed", "Expired"];
    for (const job of audited) {
      const state = await stack.contract.jobOf(job.jobId);
      expect(job.status, job.jobId).to.equal(statusNames[Number(state.status)]);
      expect(job.recordHash).to.equal(state.recordHash.toLowerCase());
      const expectedModel = job.model.hash === modelHash ? model : parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-mlp.v1.json")));
      expect(job.model).to.include({ name: expectedModel.name, version: expectedModel.version });
      expect(job.model.publisher).to.equal(await stack.hospital.getAddress());
      if (job.status === "Finalized") {
        expect(job.finalized!.resultHash).to.equal(state.resultHash.toLowerCase());
        expect(job.votes.map((v) => v.coprocessor)).to.deep.equal([stack.coprocessor.operator]);
      }
      if (job.status === "Failed") expect(job.failed!.reason).to.equal(Number(state.failureReason));
    }
    const reasons = audited.filter((j) => j.failed).map((j) => j.failed!.reasonName).sort();
    expect(reasons).to.deep.equal(["RecordBlobMissing", "RecordHashMismatch"]);

    const one = await auditJobs(stack.contract, { jobId: audited[0]!.jobId });
    expect(one).to.have.length(1);
    expect(one[0]).to.deep.equal(audited[0]);
  });

  describe("patient CLI", function () {
    const run = promisify(execFile);
    const cli = (args: string[], env: Record<string, string>) =>
      run(process.execPath, ["--import", "tsx", join(ROOT, "client", "cli.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let dir: string;

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), "pmhe-cli-"));
    });
    after(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("creates keys only its owner can read, registers them and predicts one reading like the plaintext model", async function () {
      const wallet = Wallet.createRandom();
      await (await stack.admin.sendTransaction({ to: wallet.address, value: 10n ** 18n })).wait();
      const env = {
        PMHE_RPC_URL: stack.rpcUrl,
        PMHE_API_URL: stack.apiUrl,
        PMHE_CONTRACT_ADDRESS: stack.contractAddress,
        PMHE_PATIENT_KEY: wallet.privateKey,
      };
      const keys = join(dir, "keys");
      await cli(["keygen", "--keys", keys], env);
      expect((await stat(join(keys, "secret-key.bin"))).mode & 0o777).to.equal(0o600);
      expect((await stat(keys)).mode & 0o777).to.equal(0o700);
      const again = await rejectionOf(cli(["keygen", "--keys", keys], env));
      expect(String((again as { stderr?: string }).stderr)).to.contain("refusing to overwrite a secret key");

      const registered = JSON.parse((await cli(["register", "--keys", keys], env)).stdout) as { keyBundleHash: string };
      const [onChain] = await stack.contract.currentKeyBundle(wallet.address);
      expect(onChain.toLowerCase()).to.equal(registered.keyBundleHash);

      const reading = readings[10]!;
      const readingFile = join(dir, "reading.json");
      await writeFile(readingFile, JSON.stringify(reading));
      const modelFile = join(ROOT, "models", "statlog-heart-logreg.v1.json");
      const out = await cli(["predict", "--keys", keys, "--model", modelFile, "--reading", readingFile], env);
      const result = JSON.parse(out.stdout) as { probability: number; predictedClass: number };
      const reference = predictPlaintext(model, reading);
      expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
      expect(result.predictedClass).to.equal(reference.predictedClass);
      // Nothing medical on the terminal besides the patient's own result: only the result's fields, no reading.
      expect(Object.keys(result).sort()).to.deep.equal(["jobId", "logit", "predictedClass", "probability", "recordHash", "resultHash"]);
      for (const feature of Object.keys(reading)) expect(out.stdout + out.stderr).to.not.contain(`"${feature}"`);
    });

    it("names the missing setting instead of failing obscurely", async function () {
      const err = await rejectionOf(cli(["register", "--keys", join(dir, "keys")], { PMHE_CONTRACT_ADDRESS: "nope", PMHE_PATIENT_KEY: "" }));
      const stderr = String((err as { stderr?: string }).stderr);
      expect(stderr).to.contain("PMHE_CONTRACT_ADDRESS");
      expect(stderr).to.contain("PMHE_PATIENT_KEY");
    });
  });
});
