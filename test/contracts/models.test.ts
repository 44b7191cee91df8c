import { expect } from "chai";

import { modelIdOf } from "../../protocol/chain.js";
import { buildRecordTree } from "../../protocol/merkle.js";
import {
  HOSPITAL_KEY_1,
  HOSPITAL_NAME_1,
  HOSPITAL_ROLE,
  JobStatus,
  MODEL_HASH_1,
  MODEL_HASH_2,
  MODEL_HASH_3,
  MODEL_LOC_1,
  MODEL_LOC_2,
  MODEL_NAME,
  RECORD_1,
  RECORD_2,
  RESULT_1,
  deployFixture,
  ethers,
  h,
  loadFixture,
  modelId,
  nextTimestamp,
  pendingJobFixture,
  recordAndModelFixture,
} from "./fixtures.js";

describe("PMHE: models", function () {
  describe("publishModel / modelOf / computeModelId / latestModelVersion", function () {
    it("publishes version 1 under the id keccak256(abi.encode(publisher, modelHash)), and returns that id", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      const id = modelId(hospital.address, MODEL_HASH_1);
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(0n);
      expect(await pmhe.connect(hospital).publishModel.staticCall(MODEL_HASH_1, MODEL_NAME, 1, MODEL_LOC_1)).to.equal(id);

      const t = await nextTimestamp();
      await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_1, MODEL_NAME, 1, MODEL_LOC_1))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(id, hospital.address, MODEL_HASH_1, MODEL_NAME, 1n, MODEL_LOC_1);
      expect(await pmhe.modelOf(id)).to.deep.equal([hospital.address, MODEL_HASH_1, 1n, false, BigInt(t)]);
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(1n);
    });

    it("computeModelId, protocol/chain.ts modelIdOf and the NatSpec formula agree", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(deployFixture);
      for (const [publisher, hash] of [
        [hospital.address, MODEL_HASH_1],
        [otherHospital.address, MODEL_HASH_1],
        [hospital.address, MODEL_HASH_2],
      ] as const) {
        const expected = modelId(publisher, hash);
        expect(await pmhe.computeModelId(publisher, hash)).to.equal(expected);
        expect(modelIdOf(publisher, hash)).to.equal(expected);
      }
      expect(modelId(hospital.address, MODEL_HASH_1)).to.not.equal(modelId(otherHospital.address, MODEL_HASH_1));
    });

    it("numbers versions per (publisher, name)", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_2, MODEL_NAME, 2, MODEL_LOC_2))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(modelId(hospital.address, MODEL_HASH_2), hospital.address, MODEL_HASH_2, MODEL_NAME, 2n, MODEL_LOC_2);
      await expect(pmhe.connect(otherHospital).publishModel(MODEL_HASH_3, MODEL_NAME, 1, "blob://m3"))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(modelId(otherHospital.address, MODEL_HASH_3), otherHospital.address, MODEL_HASH_3, MODEL_NAME, 1n, "blob://m3");
      await pmhe.connect(hospital).publishModel(h("model-4"), "diabetes", 1, "blob://m4");

      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(2n);
      expect(await pmhe.latestModelVersion(otherHospital.address, MODEL_NAME)).to.equal(1n);
      expect(await pmhe.latestModelVersion(hospital.address, "diabetes")).to.equal(1n);
      expect(await pmhe.latestModelVersion(otherHospital.address, "diabetes")).to.equal(0n);
      expect((await pmhe.modelOf(modelId(hospital.address, MODEL_HASH_2)))[2]).to.equal(2n);
    });

    it("reverts ModelVersionNotNext for a skipped, repeated or zero version", async function () {
      const { pmhe, hospital } = await loadFixture(recordAndModelFixture);
      for (const given of [3, 1, 0]) {
        await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_2, MODEL_NAME, given, MODEL_LOC_2))
          .to.be.revertedWithCustomError(pmhe, "ModelVersionNotNext")
          .withArgs(MODEL_NAME, 2n, BigInt(given));
      }
      await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_2, "new-name", 2, MODEL_LOC_2))
        .to.be.revertedWithCustomError(pmhe, "ModelVersionNotNext")
        .withArgs("new-name", 1n, 2n);
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(1n);
    });

    it("refuses accounts without HOSPITAL_ROLE, including the admin, the coprocessor and a removed hospital", async function () {
      const { pmhe, admin, hospital, coprocessor, patient } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [admin, coprocessor, patient, hospital]) {
        await expect(pmhe.connect(account).publishModel(MODEL_HASH_1, MODEL_NAME, 1, MODEL_LOC_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, HOSPITAL_ROLE);
      }
    });

    it("reverts ZeroHash for a zero model hash", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).publishModel(ethers.ZeroHash, MODEL_NAME, 1, MODEL_LOC_1)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts ModelAlreadyPublished when the same publisher publishes the same content again, under any name", async function () {
      const { pmhe, hospital, model1 } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_1, MODEL_NAME, 2, MODEL_LOC_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(model1);
      await expect(pmhe.connect(hospital).publishModel(MODEL_HASH_1, "other", 1, MODEL_LOC_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(model1);
      expect(await pmhe.latestModelVersion(hospital.address, "other")).to.equal(0n);
    });

    it("modelOf reverts UnknownModel for an id never published, including a bare content hash", async function () {
      const { pmhe, otherHospital } = await loadFixture(recordAndModelFixture);
      for (const id of [modelId(otherHospital.address, MODEL_HASH_1), MODEL_HASH_1, MODEL_HASH_2]) {
        await expect(pmhe.modelOf(id)).to.be.revertedWithCustomError(pmhe, "UnknownModel").withArgs(id);
      }
    });

    it("a job names the model id and carries the model's content hash", async function () {
      const { pmhe, jobId, model1 } = await loadFixture(pendingJobFixture);
      const job = await pmhe.jobOf(jobId);
      expect(job.modelId).to.equal(model1);
      expect(job.modelHash).to.equal(MODEL_HASH_1);
    });

    it("refuses a request naming the bare content hash instead of the model id (UnknownModel)", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, MODEL_HASH_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(MODEL_HASH_1);
    });
  });

  describe("attack: model squatting", function () {
    it("hospital B publishing hospital A's content gets its own model id; each model stays its publisher's", async function () {
      const { pmhe, hospital: a, otherHospital: b, patient, model1 } = await loadFixture(recordAndModelFixture);
      const squat = modelId(b.address, MODEL_HASH_1);
      expect(squat).to.not.equal(model1);
      await expect(pmhe.connect(b).publishModel(MODEL_HASH_1, "copied", 1, "blob://copied"))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(squat, b.address, MODEL_HASH_1, "copied", 1n, "blob://copied");
      expect((await pmhe.modelOf(model1))[0]).to.equal(a.address);
      expect((await pmhe.modelOf(squat))[0]).to.equal(b.address);
      expect((await pmhe.modelOf(squat))[1]).to.equal(MODEL_HASH_1);

      // A request naming A's model is a job on A's model.
      const jobId = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      expect((await pmhe.jobOf(jobId)).modelId).to.equal(model1);
    });

    it("publishing A's content first does not stop A from publishing it", async function () {
      const { pmhe, hospital: a, otherHospital: b } = await loadFixture(deployFixture);
      await pmhe.connect(b).publishModel(MODEL_HASH_2, MODEL_NAME, 1, MODEL_LOC_2);
      await expect(pmhe.connect(a).publishModel(MODEL_HASH_2, MODEL_NAME, 1, MODEL_LOC_2))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(modelId(a.address, MODEL_HASH_2), a.address, MODEL_HASH_2, MODEL_NAME, 1n, MODEL_LOC_2);
    });

    it("B cannot deprecate A's model (NotModelPublisher), nor can anyone else", async function () {
      const { pmhe, admin, otherHospital: b, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(b).publishModel(MODEL_HASH_1, "copied", 1, "blob://copied");
      for (const account of [b, admin, patient]) {
        await expect(pmhe.connect(account).deprecateModel(model1))
          .to.be.revertedWithCustomError(pmhe, "NotModelPublisher")
          .withArgs(model1, account.address);
      }
      expect((await pmhe.modelOf(model1))[3]).to.equal(false);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });

    it("B deprecating its own copy leaves A's model usable", async function () {
      const { pmhe, otherHospital: b, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(b).publishModel(MODEL_HASH_1, "copied", 1, "blob://copied");
      const squat = modelId(b.address, MODEL_HASH_1);
      await expect(pmhe.connect(b).deprecateModel(squat)).to.emit(pmhe, "ModelDeprecated").withArgs(squat, b.address);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, squat))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(squat);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });
  });

  describe("deprecateModel", function () {
    it("lets the publisher deprecate its model, even after losing HOSPITAL_ROLE", async function () {
      const { pmhe, admin, hospital, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).deprecateModel(model1))
        .to.emit(pmhe, "ModelDeprecated")
        .withArgs(model1, hospital.address);
      const [publisher, modelHash, version, deprecated] = await pmhe.modelOf(model1);
      expect([publisher, modelHash, version, deprecated]).to.deep.equal([hospital.address, MODEL_HASH_1, 1n, true]);
    });

    it("reverts ModelIsDeprecated the second time and UnknownModel for an unknown id", async function () {
      const { pmhe, hospital, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(hospital).deprecateModel(model1);
      await expect(pmhe.connect(hospital).deprecateModel(model1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(model1);
      const unknown = modelId(hospital.address, MODEL_HASH_2);
      await expect(pmhe.connect(hospital).deprecateModel(unknown))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(unknown);
    });

    it("refuses new requests on a deprecated model but lets jobs already requested finish", async function () {
      const { pmhe, hospital, patient, coprocessor, jobId, model1 } = await loadFixture(pendingJobFixture);
      await pmhe.connect(hospital).deprecateModel(model1);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(model1);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 1n);
    });
  });

  describe("models of a revoked publisher", function () {
    it("refuse new jobs by every route with ModelPublisherRevoked, all the publisher's models at once", async function () {
      const { pmhe, admin, hospital, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(hospital).publishModel(MODEL_HASH_2, "diabetes", 1, MODEL_LOC_2);
      const model2 = modelId(hospital.address, MODEL_HASH_2);
      const tree = buildRecordTree([RECORD_2]);
      await pmhe.connect(patient).anchorBatch(tree.root, 1);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);

      for (const id of [model1, model2]) {
        await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, id))
          .to.be.revertedWithCustomError(pmhe, "ModelPublisherRevoked")
          .withArgs(id, hospital.address);
        await expect(pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, RECORD_2, [], id))
          .to.be.revertedWithCustomError(pmhe, "ModelPublisherRevoked")
          .withArgs(id, hospital.address);
        await expect(pmhe.connect(patient).anchorAndRequest(h("fresh-record"), id))
          .to.be.revertedWithCustomError(pmhe, "ModelPublisherRevoked")
          .withArgs(id, hospital.address);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
      // The failed anchorAndRequest anchored nothing.
      await expect(pmhe.recordOf(patient.address, h("fresh-record"))).to.be.revertedWithCustomError(pmhe, "UnknownRecord");
      // The model itself is unchanged: not deprecated, still readable.
      expect((await pmhe.modelOf(model1))[3]).to.equal(false);
    });

    it("lets jobs requested before the revocation settle, by result or by failure", async function () {
      const { pmhe, admin, hospital, patient, coprocessor, jobId, model1 } = await loadFixture(pendingJobFixture);
      const second = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 1n);
      await expect(pmhe.connect(coprocessor).reportFailure(second, 11)).to.emit(pmhe, "JobFailed").withArgs(second, 11, 1n);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Finalized);
      expect((await pmhe.jobOf(second)).status).to.equal(JobStatus.Failed);
    });

    it("another hospital's copy of the same content keeps working", async function () {
      const { pmhe, admin, hospital, otherHospital, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(otherHospital).publishModel(MODEL_HASH_1, MODEL_NAME, 1, MODEL_LOC_1);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      const copy = modelId(otherHospital.address, MODEL_HASH_1);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, copy)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });

    it("take jobs again once the publisher is registered again", async function () {
      const { pmhe, admin, hospital, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });

    it("a deprecated model of a revoked publisher reports ModelIsDeprecated", async function () {
      const { pmhe, admin, hospital, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(hospital).deprecateModel(model1);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(model1);
    });
  });
});
