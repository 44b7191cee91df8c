import { expect } from "chai";

import {
  DAY,
  DEFAULT_TIMEOUT,
  HOSPITAL_ROLE,
  JobStatus,
  KEYS_1,
  KEYS_2,
  KEYS_LOC_2,
  MODEL_HASH_1,
  MODEL_HASH_2,
  MODEL_LOC_2,
  MODEL_NAME,
  RECORD_1,
  RECORD_2,
  consentFixture,
  ethers,
  eventsOf,
  expectedJobId,
  h,
  loadFixture,
  lower,
  modelId,
  nextTimestamp,
  pendingJobFixture,
  recordAndModelFixture,
  time,
} from "./fixtures.js";

describe("PMHE: prediction requests", function () {
  describe("requestPrediction / computeJobId / jobNonce / nextJobId / jobOf", function () {
    it("creates a job whose id is the predicted one, emits it, and jobOf returns every field", async function () {
      const { pmhe, address, patient, model1 } = await loadFixture(recordAndModelFixture);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
      const predicted = await expectedJobId(address, patient.address, 0n);
      expect(await pmhe.nextJobId(patient.address)).to.equal(predicted);
      expect(await pmhe.connect(patient).requestPrediction.staticCall(patient.address, RECORD_1, model1)).to.equal(predicted);

      const t = await nextTimestamp();
      const deadline = BigInt(t) + DEFAULT_TIMEOUT;
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, patient.address, RECORD_1, model1, KEYS_1, patient.address, 1n, deadline);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);

      const job = await pmhe.jobOf(predicted);
      expect(job.patient).to.equal(patient.address);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.batchRoot).to.equal(ethers.ZeroHash);
      expect(job.modelId).to.equal(model1);
      expect(job.modelHash).to.equal(MODEL_HASH_1);
      expect(job.keyBundleHash).to.equal(KEYS_1);
      expect(job.keyVersion).to.equal(1n);
      expect(job.status).to.equal(JobStatus.Requested);
      expect(job.quorum).to.equal(1n);
      expect(job.deadline).to.equal(deadline);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(job.failureReason).to.equal(0n);
      expect(job.votes).to.equal(0n);
      expect(job.recordErased).to.equal(false);
    });

    it("jobOf tells that the patient erased the record after the request (recordErased), for this job only", async function () {
      const { pmhe, patient, model1 } = await loadFixture(recordAndModelFixture);
      const first = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(patient).anchorRecord(RECORD_2);
      const second = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_2, model1);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      const [erased, kept] = [await pmhe.jobOf(first), await pmhe.jobOf(second)];
      expect([erased.recordErased, erased.status]).to.deep.equal([true, JobStatus.Requested]);
      expect(kept.recordErased).to.equal(false);
    });

    it("the Job struct has exactly the documented fields: no requester, no request time", async function () {
      const { pmhe } = await loadFixture(recordAndModelFixture);
      const [job] = pmhe.interface.getFunction("jobOf").outputs;
      expect(job?.components?.map((c) => c.name)).to.deep.equal([
        "patient",
        "recordHash",
        "batchRoot",
        "modelId",
        "modelHash",
        "keyBundleHash",
        "keyVersion",
        "status",
        "quorum",
        "deadline",
        "resultHash",
        "failureReason",
        "votes",
        "recordErased",
      ]);
    });

    it("computes job ids as keccak256(abi.encode(chainid, contract, patient, nonce))", async function () {
      const { pmhe, address, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      expect(await pmhe.computeJobId(patient.address, 7n)).to.equal(await expectedJobId(address, patient.address, 7n));
      expect(await pmhe.computeJobId(otherPatient.address, 7n)).to.equal(await expectedJobId(address, otherPatient.address, 7n));
      expect(await pmhe.computeJobId(patient.address, 7n)).to.not.equal(await pmhe.computeJobId(patient.address, 8n));
    });

    it("gives two requests of the same record and model consecutive ids", async function () {
      const { pmhe, address, patient, model1 } = await loadFixture(pendingJobFixture);
      const second = await expectedJobId(address, patient.address, 1n);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(second, patient.address, RECORD_1, model1, KEYS_1, patient.address, 1n, (v: bigint) => v > 0n);
      expect(await pmhe.jobNonce(patient.address)).to.equal(2n);
      expect((await pmhe.jobOf(await expectedJobId(address, patient.address, 0n))).status).to.equal(JobStatus.Requested);
      expect((await pmhe.jobOf(second)).status).to.equal(JobStatus.Requested);
    });

    it("keeps a separate nonce per patient", async function () {
      const { pmhe, address, patient, otherPatient, model1 } = await loadFixture(pendingJobFixture);
      await pmhe.connect(otherPatient).anchorRecord(RECORD_2);
      const predicted = await expectedJobId(address, otherPatient.address, 0n);
      await expect(pmhe.connect(otherPatient).requestPrediction(otherPatient.address, RECORD_2, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, otherPatient.address, RECORD_2, model1, KEYS_1, otherPatient.address, 1n, (v: bigint) => v > 0n);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
      expect(await pmhe.jobNonce(otherPatient.address)).to.equal(1n);
    });

    it("uses the key bundle the record was encrypted under, not the patient's current one", async function () {
      const { pmhe, address, hospital, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(patient).anchorRecord(RECORD_2);
      await pmhe.connect(hospital).publishModel(MODEL_HASH_2, MODEL_NAME, 2, MODEL_LOC_2);
      const model2 = modelId(hospital.address, MODEL_HASH_2);

      const oldJob = await expectedJobId(address, patient.address, 0n);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(oldJob, patient.address, RECORD_1, model2, KEYS_1, patient.address, 1n, (v: bigint) => v > 0n);
      const newJob = await expectedJobId(address, patient.address, 1n);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_2, model2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(newJob, patient.address, RECORD_2, model2, KEYS_2, patient.address, 1n, (v: bigint) => v > 0n);
      expect([(await pmhe.jobOf(oldJob)).keyBundleHash, (await pmhe.jobOf(oldJob)).keyVersion]).to.deep.equal([KEYS_1, 1n]);
      expect([(await pmhe.jobOf(newJob)).keyBundleHash, (await pmhe.jobOf(newJob)).keyVersion]).to.deep.equal([KEYS_2, 2n]);
    });

    it("lets a hospital with an active consent request on the patient's record, using the patient's nonce", async function () {
      const { pmhe, address, hospital, patient, model1 } = await loadFixture(consentFixture);
      const predicted = await expectedJobId(address, patient.address, 0n);
      const t = await nextTimestamp();
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, patient.address, RECORD_1, model1, KEYS_1, hospital.address, 1n, BigInt(t) + DEFAULT_TIMEOUT);
      // The requester is only in the event; the job is the patient's.
      const [event] = await pmhe.queryFilter(pmhe.filters.PredictionRequested(predicted));
      expect(event?.args.requester).to.equal(hospital.address);
      expect((await pmhe.jobOf(predicted)).patient).to.equal(patient.address);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
      expect(await pmhe.jobNonce(hospital.address)).to.equal(0n);
    });

    it("reverts NotAuthorizedRequester(patient, record, caller) for accounts that are neither the patient nor a consented hospital", async function () {
      const { pmhe, admin, otherHospital, coprocessor, patient, otherPatient, stranger, model1 } =
        await loadFixture(consentFixture);
      for (const account of [stranger, otherPatient, admin, coprocessor, otherHospital]) {
        await expect(pmhe.connect(account).requestPrediction(patient.address, RECORD_1, model1))
          .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
          .withArgs(patient.address, RECORD_1, account.address);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("refuses a hospital once its consent expires (time travel)", async function () {
      const { pmhe, patient, hospital, model1 } = await loadFixture(recordAndModelFixture);
      const expiresAt = (await time.latest()) + 100;
      await pmhe.connect(patient).grantConsent(hospital.address, expiresAt, false);
      await time.setNextBlockTimestamp(expiresAt - 1);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
      await time.setNextBlockTimestamp(expiresAt);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(patient.address, RECORD_1, hospital.address);
    });

    it("refuses a hospital once the patient revokes its consent; the job requested before stays", async function () {
      const { pmhe, patient, hospital, model1 } = await loadFixture(consentFixture);
      const jobId = await pmhe.nextJobId(patient.address);
      await pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(patient).revokeConsent(hospital.address);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(patient.address, RECORD_1, hospital.address);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("refuses a consented account that no longer holds HOSPITAL_ROLE", async function () {
      const { pmhe, admin, patient, hospital, model1 } = await loadFixture(consentFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(patient.address, RECORD_1, hospital.address);
    });

    it("reverts UnknownRecord(patient, hash) for a record not anchored in the patient's namespace", async function () {
      const { pmhe, patient, otherPatient, model1 } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_2, model1))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(patient.address, RECORD_2);
      await expect(pmhe.connect(otherPatient).requestPrediction(otherPatient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(otherPatient.address, RECORD_1);
    });

    it("reverts RecordIsErased for an erased record, whoever requests", async function () {
      const { pmhe, patient, hospital, model1 } = await loadFixture(consentFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      for (const account of [patient, hospital]) {
        await expect(pmhe.connect(account).requestPrediction(patient.address, RECORD_1, model1))
          .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
          .withArgs(RECORD_1);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("reverts UnknownModel for a model never published", async function () {
      const { pmhe, patient, hospital } = await loadFixture(recordAndModelFixture);
      const unknown = modelId(hospital.address, MODEL_HASH_2);
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, unknown))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(unknown);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("jobNonce is 0 for an address that never had a job; jobOf reverts UnknownJob for an id not requested yet", async function () {
      const { pmhe, patient, stranger, otherPatient } = await loadFixture(pendingJobFixture);
      expect(await pmhe.jobNonce(stranger.address)).to.equal(0n);
      expect(await pmhe.jobNonce(otherPatient.address)).to.equal(0n);
      const notYet = await pmhe.nextJobId(patient.address);
      await expect(pmhe.jobOf(notYet)).to.be.revertedWithCustomError(pmhe, "UnknownJob").withArgs(notYet);
    });
  });

  describe("attack: a stranger anchors the victim's record hash first", function () {
    /**
     * The stranger registers, anchors RECORD_2 (the victim's next record) before the victim does, and consents
     * `otherHospital`; then the victim anchors RECORD_2.
     */
    async function squatFixture() {
      const f = await recordAndModelFixture();
      const { pmhe, patient: victim, stranger, otherHospital } = f;
      await pmhe.connect(stranger).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(stranger).anchorRecord(RECORD_2);
      await pmhe.connect(stranger).grantConsent(otherHospital.address, (await time.latest()) + DAY, true);
      await pmhe.connect(victim).anchorRecord(RECORD_2);
      return f;
    }

    it("the victim's own anchorRecord still succeeds after the stranger's", async function () {
      const { pmhe, patient: victim, stranger } = await loadFixture(squatFixture);
      const anchors = await pmhe.queryFilter(pmhe.filters.RecordAnchored(undefined, RECORD_2));
      expect(anchors.map((e) => [e.args.patient, e.args.keyVersion, e.args.keyBundleHash])).to.deep.equal([
        [stranger.address, 1n, KEYS_2],
        [victim.address, 1n, KEYS_1],
      ]);
      expect((await pmhe.recordOf(victim.address, RECORD_2))[0]).to.equal(KEYS_1);
      expect((await pmhe.recordOf(stranger.address, RECORD_2))[0]).to.equal(KEYS_2);
    });

    it("a hospital consented only by the stranger cannot request on the victim's record: NotAuthorizedRequester names the victim", async function () {
      const { pmhe, patient: victim, otherHospital, model1 } = await loadFixture(squatFixture);
      await expect(pmhe.connect(otherHospital).requestPrediction(victim.address, RECORD_2, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(victim.address, RECORD_2, otherHospital.address);
      expect(await pmhe.jobNonce(victim.address)).to.equal(0n);
    });

    it("the stranger cannot request on the victim's record either", async function () {
      const { pmhe, patient: victim, stranger, model1 } = await loadFixture(squatFixture);
      await expect(pmhe.connect(stranger).requestPrediction(victim.address, RECORD_2, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(victim.address, RECORD_2, stranger.address);
    });

    it("the stranger's copy is the stranger's own: its jobs name the stranger and the stranger's keys", async function () {
      const { pmhe, address, patient: victim, stranger, otherHospital, model1 } = await loadFixture(squatFixture);
      const jobId = await expectedJobId(address, stranger.address, 0n);
      await expect(pmhe.connect(otherHospital).requestPrediction(stranger.address, RECORD_2, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(jobId, stranger.address, RECORD_2, model1, KEYS_2, otherHospital.address, 1n, (v: bigint) => v > 0n);
      const job = await pmhe.jobOf(jobId);
      expect([job.patient, job.keyBundleHash, job.keyVersion]).to.deep.equal([stranger.address, KEYS_2, 1n]);
      expect(await pmhe.jobNonce(victim.address)).to.equal(0n);
      // The victim requests on its own copy as usual, under its own keys.
      const victimJob = await pmhe.nextJobId(victim.address);
      await pmhe.connect(victim).requestPrediction(victim.address, RECORD_2, model1);
      expect((await pmhe.jobOf(victimJob)).patient).to.equal(victim.address);
      expect((await pmhe.jobOf(victimJob)).keyBundleHash).to.equal(KEYS_1);
    });

    it("the stranger erasing its copy leaves the victim's requestable", async function () {
      const { pmhe, patient: victim, stranger, model1 } = await loadFixture(squatFixture);
      await pmhe.connect(stranger).eraseRecord(RECORD_2);
      await expect(pmhe.connect(victim).requestPrediction(victim.address, RECORD_2, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });
  });

  describe("anchorAndRequest", function () {
    it("anchors the record in the caller's namespace and requests a prediction on it in one transaction", async function () {
      const { pmhe, address, patient, model1 } = await loadFixture(recordAndModelFixture);
      const jobId = await expectedJobId(address, patient.address, 0n);
      expect(await pmhe.connect(patient).anchorAndRequest.staticCall(RECORD_2, model1)).to.equal(jobId);
      const t = await nextTimestamp();
      const deadline = BigInt(t) + DEFAULT_TIMEOUT;
      const me = lower(patient.address);
      expect(await eventsOf(pmhe, pmhe.connect(patient).anchorAndRequest(RECORD_2, model1))).to.deep.equal([
        ["RecordAnchored", me, RECORD_2, 1n, KEYS_1],
        ["PredictionRequested", jobId, me, RECORD_2, lower(model1), KEYS_1, me, 1n, deadline],
      ]);
      expect(await pmhe.recordOf(patient.address, RECORD_2)).to.deep.equal([KEYS_1, 1n, BigInt(t), false]);
      const job = await pmhe.jobOf(jobId);
      expect([job.patient, job.recordHash, job.modelId, job.keyVersion, job.status]).to.deep.equal([
        patient.address,
        RECORD_2,
        model1,
        1n,
        JobStatus.Requested,
      ]);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
    });

    it("works for a hash another patient anchored first: the record goes in the caller's namespace", async function () {
      const { pmhe, otherPatient, model1 } = await loadFixture(recordAndModelFixture);
      const jobId = await pmhe.nextJobId(otherPatient.address);
      await pmhe.connect(otherPatient).anchorAndRequest(RECORD_1, model1);
      expect((await pmhe.jobOf(jobId)).patient).to.equal(otherPatient.address);
    });

    it("reverts PatientNotRegistered, ZeroHash and RecordAlreadyAnchored like anchorRecord", async function () {
      const { pmhe, patient, stranger, model1 } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(stranger).anchorAndRequest(RECORD_2, model1))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
      await expect(pmhe.connect(patient).anchorAndRequest(ethers.ZeroHash, model1)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      await expect(pmhe.connect(patient).anchorAndRequest(RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("refuses an erased record with RecordIsErased and requests nothing", async function () {
      const { pmhe, patient, model1 } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      await expect(pmhe.connect(patient).anchorAndRequest(RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(RECORD_1);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("reverts UnknownModel and ModelIsDeprecated, leaving the record unanchored", async function () {
      const { pmhe, hospital, patient, model1 } = await loadFixture(recordAndModelFixture);
      const unknown = modelId(hospital.address, h("never-published"));
      await expect(pmhe.connect(patient).anchorAndRequest(RECORD_2, unknown))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(unknown);
      await pmhe.connect(hospital).deprecateModel(model1);
      await expect(pmhe.connect(patient).anchorAndRequest(RECORD_2, model1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(model1);
      await expect(pmhe.recordOf(patient.address, RECORD_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(patient.address, RECORD_2);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });
  });
});
