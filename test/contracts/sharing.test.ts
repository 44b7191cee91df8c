import { expect } from "chai";

import { FailureReason } from "../../protocol/failure-reasons.js";
import { buildRecordTree } from "../../protocol/merkle.js";
import {
  DAY,
  DEFAULT_TIMEOUT,
  HOSPITAL_KEY_2,
  HOSPITAL_ROLE,
  KEYS_2,
  KEYS_LOC_2,
  RECORD_1,
  RECORD_2,
  RESULT_2,
  SHARED_1,
  SHARED_2,
  SHARED_LOC,
  ethers,
  finalizedJobFixture,
  h,
  loadFixture,
  time,
} from "./fixtures.js";

describe("PMHE: result sharing", function () {
  describe("shareResult / sharedResultOf", function () {
    it("lets the patient share a finalized result with a consented hospital, and share again", async function () {
      const { pmhe, patient, hospital, jobId } = await loadFixture(finalizedJobFixture);
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(ethers.ZeroHash);
      await expect(pmhe.connect(patient).shareResult(jobId, hospital.address, SHARED_1, SHARED_LOC))
        .to.emit(pmhe, "ResultShared")
        .withArgs(jobId, patient.address, hospital.address, SHARED_1, SHARED_LOC);
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(SHARED_1);

      await expect(pmhe.connect(patient).shareResult(jobId, hospital.address, SHARED_2, ""))
        .to.emit(pmhe, "ResultShared")
        .withArgs(jobId, patient.address, hospital.address, SHARED_2, "");
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(SHARED_2);
    });

    it("keeps one shared hash per (job, hospital)", async function () {
      const { pmhe, patient, hospital, otherHospital, jobId, expiresAt } = await loadFixture(finalizedJobFixture);
      await pmhe.connect(patient).grantConsent(otherHospital.address, expiresAt, true);
      await pmhe.connect(patient).shareResult(jobId, hospital.address, SHARED_1, SHARED_LOC);
      await pmhe.connect(patient).shareResult(jobId, otherHospital.address, SHARED_2, SHARED_LOC);
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(SHARED_1);
      expect(await pmhe.sharedResultOf(jobId, otherHospital.address)).to.equal(SHARED_2);
    });

    it("shares the result of a batch job requested by the hospital; only the patient may share it", async function () {
      const { pmhe, patient, hospital, coprocessor, model1 } = await loadFixture(finalizedJobFixture);
      const tree = buildRecordTree([RECORD_2]);
      await pmhe.connect(patient).anchorBatch(tree.root, 1);
      const batchJob = await pmhe.nextJobId(patient.address);
      await pmhe.connect(hospital).requestBatchPrediction(patient.address, tree.root, RECORD_2, tree.proofOf(RECORD_2), model1);
      await pmhe.connect(coprocessor).commitResult(batchJob, RESULT_2);
      await expect(pmhe.connect(patient).shareResult(batchJob, hospital.address, SHARED_1, SHARED_LOC))
        .to.emit(pmhe, "ResultShared")
        .withArgs(batchJob, patient.address, hospital.address, SHARED_1, SHARED_LOC);
      await expect(pmhe.connect(hospital).shareResult(batchJob, hospital.address, SHARED_1, SHARED_LOC))
        .to.be.revertedWithCustomError(pmhe, "NotJobPatient")
        .withArgs(batchJob, hospital.address);
    });

    it("reverts UnknownJob for an unknown id", async function () {
      const { pmhe, patient, hospital } = await loadFixture(finalizedJobFixture);
      await expect(pmhe.connect(patient).shareResult(h("no-such-job"), hospital.address, SHARED_1, SHARED_LOC))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(h("no-such-job"));
    });

    it("reverts NotJobPatient for anyone but the job's patient, including one holding a copy of the same record", async function () {
      const { pmhe, admin, hospital, otherPatient, stranger, jobId } = await loadFixture(finalizedJobFixture);
      await pmhe.connect(stranger).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(stranger).anchorRecord(RECORD_1);
      await pmhe.connect(stranger).grantConsent(hospital.address, (await time.latest()) + DAY, true);
      for (const account of [hospital, otherPatient, stranger, admin]) {
        await expect(pmhe.connect(account).shareResult(jobId, hospital.address, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "NotJobPatient")
          .withArgs(jobId, account.address);
      }
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(ethers.ZeroHash);
    });

    it("reverts JobNotFinalized for pending, failed and expired jobs", async function () {
      const { pmhe, patient, hospital, coprocessor, stranger, model1 } = await loadFixture(finalizedJobFixture);
      const pending = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      const failed = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(coprocessor).reportFailure(failed, FailureReason.EvaluationError);
      const expired = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await time.increase(Number(DEFAULT_TIMEOUT) + 1);
      await pmhe.connect(stranger).expireJob(expired);
      for (const id of [pending, failed, expired]) {
        await expect(pmhe.connect(patient).shareResult(id, hospital.address, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "JobNotFinalized")
          .withArgs(id);
      }
    });

    it("reverts ZeroHash for a zero shared hash", async function () {
      const { pmhe, patient, hospital, jobId } = await loadFixture(finalizedJobFixture);
      await expect(pmhe.connect(patient).shareResult(jobId, hospital.address, ethers.ZeroHash, SHARED_LOC)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts NotAHospital for accounts without HOSPITAL_ROLE, including a removed hospital with its key and consent", async function () {
      const { pmhe, admin, patient, hospital, stranger, jobId } = await loadFixture(finalizedJobFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [stranger.address, hospital.address, ethers.ZeroAddress]) {
        await expect(pmhe.connect(patient).shareResult(jobId, account, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "NotAHospital")
          .withArgs(account);
      }
    });

    it("reverts UnknownHospital for a hospital with no registered key, until it sets one", async function () {
      const { pmhe, admin, patient, stranger, jobId, expiresAt } = await loadFixture(finalizedJobFixture);
      await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, stranger.address);
      await pmhe.connect(patient).grantConsent(stranger.address, expiresAt, true);
      await expect(pmhe.connect(patient).shareResult(jobId, stranger.address, SHARED_1, SHARED_LOC))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
      expect(await pmhe.sharedResultOf(jobId, stranger.address)).to.equal(ethers.ZeroHash);

      await pmhe.connect(stranger).setHospitalKey(HOSPITAL_KEY_2);
      await expect(pmhe.connect(patient).shareResult(jobId, stranger.address, SHARED_1, SHARED_LOC))
        .to.emit(pmhe, "ResultShared")
        .withArgs(jobId, patient.address, stranger.address, SHARED_1, SHARED_LOC);
    });

    it("reverts ConsentDoesNotCoverResults without consent, with a consent excluding results, after revocation and after expiry", async function () {
      const { pmhe, patient, hospital, otherHospital, jobId, expiresAt } = await loadFixture(finalizedJobFixture);
      const refused = async (hospitalAddress: string) =>
        expect(pmhe.connect(patient).shareResult(jobId, hospitalAddress, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "ConsentDoesNotCoverResults")
          .withArgs(patient.address, hospitalAddress);

      await refused(otherHospital.address);
      await pmhe.connect(patient).grantConsent(otherHospital.address, expiresAt, false);
      await refused(otherHospital.address);
      await pmhe.connect(patient).grantConsent(otherHospital.address, expiresAt, true);
      await pmhe.connect(patient).revokeConsent(otherHospital.address);
      await refused(otherHospital.address);

      await time.increaseTo(expiresAt);
      await refused(hospital.address);
      expect(await pmhe.sharedResultOf(jobId, hospital.address)).to.equal(ethers.ZeroHash);
    });
  });
});
