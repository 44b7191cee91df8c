import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { keccak256, randomBytes } from "ethers";
import { auditJobs } from "../../protocol/job-history.js";
import { PredictionFailedError, ResultVerificationError } from "../../client/errors.js";
import { modelRef, type ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { publishModel } from "../../hospital/publish-model.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus, modelIdOf } from "../../protocol/chain.js";
import { ContractCallError } from "../../protocol/contract-errors.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import { forwardPlaintext, modelHash as hashOfModel, parseModelBytes, predictPlaintext, roundCount, type Model, type Reading } from "../../protocol/model.js";
import { nonceOf } from "../helpers/nonce.js";
import { rejectionOf } from "../helpers/rejection.js";
import { alterStoredBlob } from "../helpers/tamper.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("encrypted prediction end to end (hardhat node, redis-server, BullMQ, node-seal)", function () {
  let stack: LocalStack;
  let engine: CkksEngine;
  let model: Model;
  let mlp: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let patient: PatientClient;
  let hospital: string;

  before(async function () {
    model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
    mlp = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-mlp.v1.json")));
    const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
    const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
    readings = test.map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [model.target.column]));
    // Two attempts keep the "blob never uploaded" case to one backoff of 1 s.
    stack = await startLocalStack({ coprocessorEnv: { PMHE_JOB_ATTEMPTS: "2", PMHE_OPERATOR_PORT: "0" } });
    engine = await CkksEngine.create(model.fhe.parameterSet);
    hospital = await stack.hospital.getAddress();
    const published = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    ref = { model, id: published.modelId };
    // The id is the hospital's own: the same content under another publisher would be another model.
    expect(published).to.deep.equal({ modelId: modelIdOf(hospital, hashOfModel(model)), modelHash: hashOfModel(model) });
    expect(modelRef(model, hospital)).to.deep.equal(ref);
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

  it("gives each patient the plaintext model's probability within 1e-4 and the same class, each in one transaction, marked as decided by one operator", async function () {
    const patients = [patient, await newPatient(), await newPatient()];
    try {
      for (const [i, reading] of readings.slice(0, 6).entries()) {
        const client = patients[i % patients.length]!;
        const address = await client.address();
        const nonceBefore = await nonceOf(stack.provider, address);
        const reference = predictPlaintext(model, reading);
        const result = await client.predict(ref, reading);
        expect(Math.abs(result.probability - reference.probability), `patient ${i}`).to.be.at.most(1e-4);
        expect(Math.abs(result.logit - reference.logit), `patient ${i} logit`).to.be.at.most(1e-4);
        expect(result.predictedClass, `patient ${i}`).to.equal(reference.predictedClass);
        // One prediction, one transaction: anchorAndRequest.
        expect(await nonceOf(stack.provider, address), `patient ${i} transactions`).to.equal(nonceBefore + 1);
        // The local stack runs at quorum 1: the result says so.
        expect(result).to.include({ votes: 1, quorum: 1, singleOperator: true, disputed: false });
        expect(result.dissent).to.deep.equal([]);

        const job = await stack.contract.jobOf(result.jobId);
        expect(Number(job.status)).to.equal(JobStatus.Finalized);
        expect(job.patient).to.equal(address);
        expect(job.resultHash.toLowerCase()).to.equal(result.resultHash);
        expect(job.recordHash.toLowerCase()).to.equal(result.recordHash);
        expect(job.modelId.toLowerCase()).to.equal(ref.id);
        expect(job.modelHash.toLowerCase()).to.equal(hashOfModel(model));
        expect(Number(job.votes)).to.equal(1);
        // The record is anchored in the patient's own namespace, and the committed hash is the stored result's.
        const [, , , erased] = await stack.contract.recordOf(address, result.recordHash);
        expect(erased).to.equal(false);
        expect(keccak256(await readFile(join(stack.blobDir, result.resultHash.slice(2))))).to.equal(result.resultHash);
      }
    } finally {
      patients.slice(1).forEach((p) => p.dispose());
    }
  });

  it("refuses a model file that is not the content of the model id, before anything is uploaded or sent", async function () {
    const address = await patient.address();
    const nonceBefore = await nonceOf(stack.provider, address);
    const altered = parseModelBytes(new TextEncoder().encode(JSON.stringify({ ...model, server: { ...model.server, bias: model.server.bias + 1 } })));
    const err = await rejectionOf(patient.predict({ model: altered, id: ref.id }, readings[0]!));
    expect(err.name).to.equal("ModelMismatchError");
    expect(err.message).to.contain(ref.id).and.contain(hashOfModel(altered));
    // An id nobody published: the contract's own error, decoded.
    const unknown = modelRef(model, "0x000000000000000000000000000000000000dEaD");
    const refused = await rejectionOf(patient.predict(unknown, readings[0]!));
    expect(refused).to.be.instanceOf(ContractCallError);
    expect((refused as ContractCallError).errorName).to.equal("UnknownModel");
    expect(refused.message).to.contain(`there is no model ${unknown.id} on this contract`);
    expect(await nonceOf(stack.provider, address)).to.equal(nonceBefore);
  });

  it("refuses a record whose stored bytes were altered: the job fails on-chain with RecordHashMismatch and the worker serves the next job", async function () {
    const recordHash = await patient.uploadReading(model, readings[7]!);
    await alterStoredBlob(stack.blobDir, recordHash, 1_000);

    const { jobId, blockNumber } = await patient.anchorAndRequest(recordHash, ref.id);
    const err = await rejectionOf(patient.waitForResult(jobId, 60_000));
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
    const result = await patient.predict(ref, reading);
    expect(Math.abs(result.probability - predictPlaintext(model, reading).probability)).to.be.at.most(1e-4);
  });

  it("fails a job whose record was anchored but never uploaded with RecordBlobMissing, after its retries", async function () {
    const other = await newPatient();
    try {
      const neverUploaded = keccak256(randomBytes(64)) as Hash;
      const { jobId } = await other.anchorAndRequest(neverUploaded, ref.id);
      const err = await rejectionOf(other.waitForResult(jobId, 60_000));
      expect(err).to.be.instanceOf(PredictionFailedError);
      expect((err as PredictionFailedError).reason).to.equal("RecordBlobMissing");
    } finally {
      other.dispose();
    }
  });

  it("lets the patient refuse a result blob that no longer matches the committed hash", async function () {
    const recordHash = await patient.uploadReading(model, readings[9]!);
    const { jobId } = await patient.anchorAndRequest(recordHash, ref.id);
    const resultHash = await patient.waitForResult(jobId, 60_000);

    await alterStoredBlob(stack.blobDir, resultHash, 10, 0x80);
    const err = await rejectionOf(patient.fetchVerifiedResult(jobId));
    expect(err).to.be.instanceOf(ResultVerificationError);
    expect(err.message).to.contain(resultHash);
  });

  it("evaluates many readings of one patient as one job in one transaction, in the layout the engine picks for the count", async function () {
    for (const [count, layout] of [[30, "packed-records"], [300, "feature-major"]] as const) {
      const batch = Array.from({ length: count }, (_, i) => readings[i % readings.length]!);
      const result = await patient.predictMany(ref, batch);
      expect(result.layout).to.equal(layout);
      expect(result).to.include({ votes: 1, quorum: 1, singleOperator: true, disputed: false });
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
    expect(roundCount(mlp)).to.equal(2);
    const { modelId, modelHash } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, mlp);
    for (const reading of readings.slice(11, 13)) {
      const reference = forwardPlaintext(mlp, reading);
      const result = await patient.predict({ model: mlp, id: modelId }, reading);
      expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
      expect(result.predictedClass).to.equal(reference.predictedClass);
      expect(result).to.include({ votes: 1, quorum: 1, singleOperator: true, disputed: false });
      // Each round was its own job on the same model, settled on-chain.
      expect(result.rounds?.map((r) => r.round)).to.deep.equal([0, 1]);
      for (const round of result.rounds!) {
        const job = await stack.contract.jobOf(round.jobId);
        expect(Number(job.status)).to.equal(JobStatus.Finalized);
        expect(job.modelId.toLowerCase()).to.equal(modelId);
        expect(job.modelHash.toLowerCase()).to.equal(modelHash);
        expect(job.resultHash.toLowerCase()).to.equal(round.resultHash);
      }
    }
  });

  it("erases a record: flagged on-chain in the patient's namespace, deleted from the store, refused for new jobs by name", async function () {
    const result = await patient.predict(ref, readings[14]!);
    const address = await patient.address();
    expect((await fetch(stack.blobs.urlOf(result.recordHash), { method: "HEAD" })).status).to.equal(200);

    const erased = await patient.eraseRecord(result.recordHash);
    expect(erased.recordHash).to.equal(result.recordHash);
    expect(erased.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(await stack.contract.isErased(address, result.recordHash)).to.equal(true);
    // Whoever came first (this signed delete or the coprocessor reacting to RecordErased), the blob is gone for good.
    expect([404, 410]).to.include((await fetch(stack.blobs.urlOf(result.recordHash), { method: "HEAD" })).status);
    // Erasing again retries only the deletion; the on-chain flag is not sent twice.
    const again = await patient.eraseRecord(result.recordHash);
    expect(again).to.include({ txHash: null, blobDeleted: false });

    const refused = await rejectionOf(patient.requestPrediction(result.recordHash, ref.id));
    expect(refused).to.be.instanceOf(ContractCallError);
    expect((refused as ContractCallError).errorName).to.equal("RecordIsErased");
    // The finished job stays auditable: its result is still final.
    expect(Number((await stack.contract.jobOf(result.jobId)).status)).to.equal(JobStatus.Finalized);

    // Erasure is per (patient, hash): a stranger anchoring and erasing the same hash in its own namespace erases
    // nothing of this patient's (the auditor below must not count it either).
    const kept = await patient.predict(ref, readings[15]!);
    const stranger = stack.contract.connect(await stack.newPatient());
    await (await stranger.registerKeys(keccak256(randomBytes(32)), "unused")).wait();
    await (await stranger.anchorRecord(kept.recordHash)).wait();
    await (await stranger.eraseRecord(kept.recordHash)).wait();
    expect(await stack.contract.isErased(address, kept.recordHash)).to.equal(false);
    expect((await fetch(stack.blobs.urlOf(kept.recordHash), { method: "HEAD" })).status).to.equal(200);
  });

  it("lets an auditor rebuild every job from events alone, matching the contract's own state", async function () {
    const run = promisify(execFile);
    const out = await run(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "audit.ts"), "--json"], {
      cwd: ROOT,
      env: { ...process.env, PMHE_RPC_URL: stack.rpcUrl, PMHE_CONTRACT_ADDRESS: stack.contractAddress },
    });
    const audited = (JSON.parse(out.stdout) as { jobs: Awaited<ReturnType<typeof auditJobs>> }).jobs;
    expect(audited.length).to.be.at.least(12);
    const statusNames = ["None", "Requested", "Finalized", "Failed", "Expired"];
    for (const job of audited) {
      const state = await stack.contract.jobOf(job.jobId);
      expect(job.status, job.jobId).to.equal(statusNames[Number(state.status)]);
      expect(job.patient).to.equal(state.patient);
      expect(job.recordHash).to.equal(state.recordHash.toLowerCase());
      expect(job.model.id).to.equal(state.modelId.toLowerCase());
      expect(job.model.hash).to.equal(state.modelHash.toLowerCase());
      const expectedModel = job.model.hash === hashOfModel(model) ? model : mlp;
      expect(job.model).to.include({ name: expectedModel.name, version: expectedModel.version, publisher: hospital });
      expect(job.recordErased, job.jobId).to.equal(await stack.contract.isErased(state.patient, state.recordHash));
      if (job.status === "Finalized") {
        expect(job.finalized!.resultHash).to.equal(state.resultHash.toLowerCase());
        expect(job.votes.map((v) => [v.coprocessor, v.inOffice])).to.deep.equal([[stack.coprocessor.operator, true]]);
        // The count the auditor derives is the count the contract reports for operators in office.
        expect(job.support).to.deep.equal({ votes: Number(state.votes), dissenters: [] });
      }
      if (job.status === "Failed") expect(job.failed!.reason).to.equal(Number(state.failureReason));
    }
    const reasons = audited.filter((j) => j.failed).map((j) => j.failed!.reasonName).sort();
    expect(reasons).to.deep.equal(["RecordBlobMissing", "RecordHashMismatch"]);
    expect(audited.filter((j) => j.recordErased)).to.have.length(1);

    const one = await auditJobs(stack.contract, { jobId: audited[0]!.jobId });
    expect(one).to.have.length(1);
    expect(one[0]).to.deep.equal(audited[0]);
  });
});
