import { expect } from "chai";
import { network } from "hardhat";

import { FailureReason } from "../../protocol/failure-reasons.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

/** Mirrors `IPredictionJobs.JobStatus`. */
const JobStatus = { None: 0n, Requested: 1n, Finalized: 2n, Failed: 3n } as const;

const HOSPITAL_ROLE = ethers.id("HOSPITAL_ROLE");
const COPROCESSOR_ROLE = ethers.id("COPROCESSOR_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

/** Deterministic, distinct, non-zero test hashes. */
const h = (label: string): string => ethers.id(label);
const KEYS_1 = h("key-bundle-1");
const KEYS_2 = h("key-bundle-2");
const KEYS_3 = h("key-bundle-3");
const RECORD_1 = h("record-1");
const RECORD_2 = h("record-2");
const MODEL_1 = h("model-1");
const MODEL_2 = h("model-2");
const RESULT_1 = h("result-1");
const RESULT_2 = h("result-2");

/** Sets the timestamp of the next block and returns it, so stored timestamps can be checked exactly. */
async function nextTimestamp(): Promise<number> {
  const t = (await time.latest()) + 1_000;
  await time.setNextBlockTimestamp(t);
  return t;
}

async function deployFixture() {
  const [admin, hospital, coprocessor, patient, otherPatient, stranger] = await ethers.getSigners();
  if (!admin || !hospital || !coprocessor || !patient || !otherPatient || !stranger) {
    throw new Error("not enough signers");
  }
  const pmhe = await ethers.deployContract("PMHE", [admin.address]);
  await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, hospital.address);
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor.address);
  return { pmhe, admin, hospital, coprocessor, patient, otherPatient, stranger };
}

/** `patient` and `otherPatient` registered (KEYS_1), RECORD_1 anchored by `patient`, MODEL_1 published. */
async function recordAndModelFixture() {
  const f = await deployFixture();
  const { pmhe, hospital, patient, otherPatient } = f;
  await pmhe.connect(patient).registerKeys(KEYS_1);
  await pmhe.connect(otherPatient).registerKeys(KEYS_1);
  await pmhe.connect(patient).anchorRecord(RECORD_1);
  await pmhe.connect(hospital).publishModel(MODEL_1);
  return f;
}

/** As {@link recordAndModelFixture}, plus one pending job of `patient` on RECORD_1 / MODEL_1. */
async function pendingJobFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, patient } = f;
  const jobId = await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 0n);
  await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
  return { ...f, jobId };
}

describe("PMHE", function () {
  describe("deployment and roles", function () {
    it("grants DEFAULT_ADMIN_ROLE to the constructor's admin only", async function () {
      const { pmhe, admin, hospital, coprocessor } = await loadFixture(deployFixture);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, hospital.address)).to.equal(false);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, coprocessor.address)).to.equal(false);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, admin.address)).to.equal(false);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, admin.address)).to.equal(false);
    });

    it("deploys for an admin that is not the deployer", async function () {
      const { admin, stranger } = await loadFixture(deployFixture);
      const pmhe = await ethers.deployContract("PMHE", [stranger.address], admin);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, stranger.address)).to.equal(true);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(false);
    });

    it("exposes the role identifiers as keccak256 of their names", async function () {
      const { pmhe } = await loadFixture(deployFixture);
      expect(await pmhe.HOSPITAL_ROLE()).to.equal(HOSPITAL_ROLE);
      expect(await pmhe.COPROCESSOR_ROLE()).to.equal(COPROCESSOR_ROLE);
      expect(HOSPITAL_ROLE).to.not.equal(COPROCESSOR_ROLE);
    });

    it("lets the admin grant both roles to the fixture's accounts", async function () {
      const { pmhe, hospital, coprocessor } = await loadFixture(deployFixture);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(true);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, coprocessor.address)).to.equal(true);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, hospital.address)).to.equal(false);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, coprocessor.address)).to.equal(false);
    });

    it("reverts ZeroAddress for a zero admin", async function () {
      const factory = await ethers.getContractFactory("PMHE");
      await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("refuses role grants from accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { pmhe, hospital, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).grantRole(HOSPITAL_ROLE, stranger.address))
        .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
        .withArgs(hospital.address, DEFAULT_ADMIN_ROLE);
    });
  });

  describe("registerKeys / currentKeyBundle / keyBundleAt", function () {
    it("registers a new patient at key version 1", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 1n, KEYS_1);

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(await pmhe.keyBundleAt(patient.address, 1)).to.equal(KEYS_1);
    });

    it("rotates keys to the next version and keeps the history", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.connect(patient).registerKeys(KEYS_2))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 2n, KEYS_2);

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_2);
      expect(keyVersion).to.equal(2n);
      expect(await pmhe.keyBundleAt(patient.address, 1)).to.equal(KEYS_1);
      expect(await pmhe.keyBundleAt(patient.address, 2)).to.equal(KEYS_2);
    });

    it("allows rotating back to an earlier, non-current bundle as a new version", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await pmhe.connect(patient).registerKeys(KEYS_2);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 3n, KEYS_1);

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(3n);
      expect(await pmhe.keyBundleAt(patient.address, 2)).to.equal(KEYS_2);
    });

    it("numbers key versions per patient", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await pmhe.connect(patient).registerKeys(KEYS_2);
      await expect(pmhe.connect(otherPatient).registerKeys(KEYS_3))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(otherPatient.address, 1n, KEYS_3);

      const [otherHash, otherVersion] = await pmhe.currentKeyBundle(otherPatient.address);
      expect(otherHash).to.equal(KEYS_3);
      expect(otherVersion).to.equal(1n);
      const [patientHash, patientVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(patientHash).to.equal(KEYS_2);
      expect(patientVersion).to.equal(2n);
    });

    it("lets two patients register the same bundle hash", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.connect(otherPatient).registerKeys(KEYS_1))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(otherPatient.address, 1n, KEYS_1);
    });

    it("reverts ZeroHash for a zero bundle hash, on registration and on rotation", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      const [, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyVersion).to.equal(1n);
    });

    it("reverts KeyBundleUnchanged when the bundle is already the current one", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1))
        .to.be.revertedWithCustomError(pmhe, "KeyBundleUnchanged")
        .withArgs(KEYS_1);
      await pmhe.connect(patient).registerKeys(KEYS_2);
      await expect(pmhe.connect(patient).registerKeys(KEYS_2))
        .to.be.revertedWithCustomError(pmhe, "KeyBundleUnchanged")
        .withArgs(KEYS_2);
    });

    it("currentKeyBundle reverts PatientNotRegistered for an unregistered address", async function () {
      const { pmhe, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.currentKeyBundle(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
    });

    it("keyBundleAt reverts UnknownKeyVersion for version 0, a future version, and an unregistered address", async function () {
      const { pmhe, patient, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.keyBundleAt(patient.address, 0))
        .to.be.revertedWithCustomError(pmhe, "UnknownKeyVersion")
        .withArgs(patient.address, 0n);
      await expect(pmhe.keyBundleAt(patient.address, 2))
        .to.be.revertedWithCustomError(pmhe, "UnknownKeyVersion")
        .withArgs(patient.address, 2n);
      await expect(pmhe.keyBundleAt(stranger.address, 1))
        .to.be.revertedWithCustomError(pmhe, "UnknownKeyVersion")
        .withArgs(stranger.address, 1n);
    });
  });

  describe("anchorRecord / recordOf", function () {
    it("anchors a record under the patient's current key version", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(patient.address, RECORD_1, 1n, KEYS_1);

      const [owner, keyBundleHash, keyVersion, anchoredAt] = await pmhe.recordOf(RECORD_1);
      expect(owner).to.equal(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(anchoredAt).to.equal(BigInt(t));
    });

    it("keeps old records pointing at their original key bundle after a key rotation", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await pmhe.connect(patient).anchorRecord(RECORD_1);
      await pmhe.connect(patient).registerKeys(KEYS_2);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_2))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(patient.address, RECORD_2, 2n, KEYS_2);

      const [, oldBundle, oldVersion] = await pmhe.recordOf(RECORD_1);
      expect(oldBundle).to.equal(KEYS_1);
      expect(oldVersion).to.equal(1n);
      const [, newBundle, newVersion] = await pmhe.recordOf(RECORD_2);
      expect(newBundle).to.equal(KEYS_2);
      expect(newVersion).to.equal(2n);
    });

    it("reverts PatientNotRegistered when the caller has no keys", async function () {
      const { pmhe, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.connect(stranger).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts ZeroHash for a zero record hash", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1);
      await expect(pmhe.connect(patient).anchorRecord(ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts RecordAlreadyAnchored for a re-anchor by the same or another patient", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      await expect(pmhe.connect(otherPatient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      const [owner] = await pmhe.recordOf(RECORD_1);
      expect(owner).to.equal(patient.address);
    });

    it("recordOf reverts UnknownRecord for a hash never anchored", async function () {
      const { pmhe } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.recordOf(RECORD_2)).to.be.revertedWithCustomError(pmhe, "UnknownRecord").withArgs(RECORD_2);
      await expect(pmhe.recordOf(ethers.ZeroHash))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(ethers.ZeroHash);
    });
  });

  describe("publishModel / modelOf", function () {
    it("lets a hospital publish a model", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      const t = await nextTimestamp();
      await expect(pmhe.connect(hospital).publishModel(MODEL_1))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(MODEL_1, hospital.address);

      const [publisher, publishedAt] = await pmhe.modelOf(MODEL_1);
      expect(publisher).to.equal(hospital.address);
      expect(publishedAt).to.equal(BigInt(t));
    });

    it("refuses accounts without HOSPITAL_ROLE, including the admin and the coprocessor", async function () {
      const { pmhe, admin, coprocessor, patient } = await loadFixture(deployFixture);
      for (const account of [admin, coprocessor, patient]) {
        await expect(pmhe.connect(account).publishModel(MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, HOSPITAL_ROLE);
      }
    });

    it("refuses a hospital whose role was revoked", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).publishModel(MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
        .withArgs(hospital.address, HOSPITAL_ROLE);
    });

    it("reverts ZeroHash for a zero model hash", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).publishModel(ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts ModelAlreadyPublished for a re-publish by any hospital", async function () {
      const { pmhe, admin, hospital, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(hospital).publishModel(MODEL_1);
      await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, stranger.address);
      await expect(pmhe.connect(hospital).publishModel(MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(MODEL_1);
      await expect(pmhe.connect(stranger).publishModel(MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(MODEL_1);
      const [publisher] = await pmhe.modelOf(MODEL_1);
      expect(publisher).to.equal(hospital.address);
    });

    it("modelOf reverts UnknownModel for a hash never published", async function () {
      const { pmhe } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.modelOf(MODEL_2)).to.be.revertedWithCustomError(pmhe, "UnknownModel").withArgs(MODEL_2);
    });
  });

  describe("requestPrediction / computeJobId / requestNonce / jobOf", function () {
    it("creates a job whose id is the predicted one and emits it", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      expect(await pmhe.requestNonce(patient.address)).to.equal(0n);
      const predicted = await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 0n);
      const returned = await pmhe.connect(patient).requestPrediction.staticCall(RECORD_1, MODEL_1);
      expect(returned).to.equal(predicted);

      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, patient.address, RECORD_1, MODEL_1, KEYS_1, patient.address);
      expect(await pmhe.requestNonce(patient.address)).to.equal(1n);

      const job = await pmhe.jobOf(predicted);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
      expect(job.status).to.equal(JobStatus.Requested);
      expect(job.requestedAt).to.equal(BigInt(t));
      expect(job.failureReason).to.equal(0n);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
    });

    it("computes job ids as keccak256(abi.encode(chainid, contract, requester, record, model, nonce))", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const { chainId } = await ethers.provider.getNetwork();
      const expected = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(
          ["uint256", "address", "address", "bytes32", "bytes32", "uint256"],
          [chainId, await pmhe.getAddress(), patient.address, RECORD_1, MODEL_1, 7n],
        ),
      );
      expect(await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 7n)).to.equal(expected);
    });

    it("gives two requests of the same record and model different ids", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const first = await pmhe.connect(patient).requestPrediction.staticCall(RECORD_1, MODEL_1);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      const second = await pmhe.connect(patient).requestPrediction.staticCall(RECORD_1, MODEL_1);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(second, patient.address, RECORD_1, MODEL_1, KEYS_1, patient.address);

      expect(second).to.not.equal(first);
      expect(first).to.equal(await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 0n));
      expect(second).to.equal(await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 1n));
      expect(await pmhe.requestNonce(patient.address)).to.equal(2n);
      expect((await pmhe.jobOf(first)).status).to.equal(JobStatus.Requested);
      expect((await pmhe.jobOf(second)).status).to.equal(JobStatus.Requested);
    });

    it("keeps a separate nonce per requester", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(otherPatient).anchorRecord(RECORD_2);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);

      const predicted = await pmhe.computeJobId(otherPatient.address, RECORD_2, MODEL_1, 0n);
      await expect(pmhe.connect(otherPatient).requestPrediction(RECORD_2, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, otherPatient.address, RECORD_2, MODEL_1, KEYS_1, otherPatient.address);
      expect(await pmhe.requestNonce(patient.address)).to.equal(2n);
      expect(await pmhe.requestNonce(otherPatient.address)).to.equal(1n);
    });

    it("emits the key bundle the record was encrypted under, not the patient's current one", async function () {
      const { pmhe, hospital, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2);
      await pmhe.connect(patient).anchorRecord(RECORD_2);
      await pmhe.connect(hospital).publishModel(MODEL_2);

      const oldJob = await pmhe.computeJobId(patient.address, RECORD_1, MODEL_2, 0n);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(oldJob, patient.address, RECORD_1, MODEL_2, KEYS_1, patient.address);
      const newJob = await pmhe.computeJobId(patient.address, RECORD_2, MODEL_2, 1n);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_2, MODEL_2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(newJob, patient.address, RECORD_2, MODEL_2, KEYS_2, patient.address);
    });

    it("reverts UnknownRecord for a record never anchored", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_2, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(RECORD_2);
    });

    it("reverts NotRecordOwner when a stranger or another patient requests on someone else's record", async function () {
      const { pmhe, otherPatient, stranger, admin, hospital, coprocessor } = await loadFixture(recordAndModelFixture);
      for (const account of [stranger, otherPatient, admin, hospital, coprocessor]) {
        await expect(pmhe.connect(account).requestPrediction(RECORD_1, MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "NotRecordOwner")
          .withArgs(RECORD_1, account.address);
      }
      expect(await pmhe.requestNonce(stranger.address)).to.equal(0n);
    });

    it("reverts UnknownModel for a model never published", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(MODEL_2);
      expect(await pmhe.requestNonce(patient.address)).to.equal(0n);
    });

    it("requestNonce is 0 for an address that never requested", async function () {
      const { pmhe, stranger } = await loadFixture(pendingJobFixture);
      expect(await pmhe.requestNonce(stranger.address)).to.equal(0n);
    });

    it("jobOf reverts UnknownJob for an id not requested yet", async function () {
      const { pmhe, patient } = await loadFixture(pendingJobFixture);
      const notYet = await pmhe.computeJobId(patient.address, RECORD_1, MODEL_1, 1n);
      await expect(pmhe.jobOf(notYet)).to.be.revertedWithCustomError(pmhe, "UnknownJob").withArgs(notYet);
    });
  });

  describe("commitResult", function () {
    it("finalizes a pending job with the result hash", async function () {
      const { pmhe, coprocessor, patient, jobId } = await loadFixture(pendingJobFixture);
      const before = await pmhe.jobOf(jobId);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "ResultCommitted")
        .withArgs(jobId, coprocessor.address, RESULT_1);

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(job.failureReason).to.equal(0n);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
      expect(job.requestedAt).to.equal(before.requestedAt);
    });

    it("refuses accounts without COPROCESSOR_ROLE, including the admin, the hospital and the requester", async function () {
      const { pmhe, admin, hospital, patient, jobId } = await loadFixture(pendingJobFixture);
      for (const account of [admin, hospital, patient]) {
        await expect(pmhe.connect(account).commitResult(jobId, RESULT_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, COPROCESSOR_ROLE);
      }
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("reverts UnknownJob for an unknown id", async function () {
      const { pmhe, coprocessor } = await loadFixture(pendingJobFixture);
      const unknown = h("no-such-job");
      await expect(pmhe.connect(coprocessor).commitResult(unknown, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
    });

    it("reverts ZeroHash for a zero result hash and leaves the job pending", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("reverts JobNotPending(Finalized) for a second commit and keeps the first result", async function () {
      const { pmhe, admin, coprocessor, stranger, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address);
      for (const account of [coprocessor, stranger]) {
        await expect(pmhe.connect(account).commitResult(jobId, RESULT_2))
          .to.be.revertedWithCustomError(pmhe, "JobNotPending")
          .withArgs(jobId, JobStatus.Finalized);
      }
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
    });

    it("reverts JobNotPending(Failed) for a commit after a failure", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
    });

    it("finalizes jobs independently of each other", async function () {
      const { pmhe, coprocessor, patient, jobId } = await loadFixture(pendingJobFixture);
      const second = await pmhe.connect(patient).requestPrediction.staticCall(RECORD_1, MODEL_1);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(coprocessor).commitResult(second, RESULT_2);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
      expect((await pmhe.jobOf(second)).resultHash).to.equal(RESULT_2);
    });
  });

  describe("reportFailure", function () {
    it("marks a pending job as failed with the reason", async function () {
      const { pmhe, coprocessor, patient, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.ModelHashMismatch))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, coprocessor.address, FailureReason.ModelHashMismatch);

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.failureReason).to.equal(BigInt(FailureReason.ModelHashMismatch));
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
    });

    it("stores the full uint16 range of reason codes", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, 0xffff))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, coprocessor.address, 0xffff);
      expect((await pmhe.jobOf(jobId)).failureReason).to.equal(0xffffn);
    });

    it("refuses accounts without COPROCESSOR_ROLE, including the admin, the hospital and the requester", async function () {
      const { pmhe, admin, hospital, patient, jobId } = await loadFixture(pendingJobFixture);
      for (const account of [admin, hospital, patient]) {
        await expect(pmhe.connect(account).reportFailure(jobId, FailureReason.EvaluationError))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, COPROCESSOR_ROLE);
      }
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("reverts UnknownJob for an unknown id", async function () {
      const { pmhe, coprocessor } = await loadFixture(pendingJobFixture);
      const unknown = h("no-such-job");
      await expect(pmhe.connect(coprocessor).reportFailure(unknown, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
    });

    it("reverts InvalidFailureReason for reason 0 and leaves the job pending", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, 0))
        .to.be.revertedWithCustomError(pmhe, "InvalidFailureReason")
        .withArgs(0n);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("reverts JobNotPending(Finalized) for a failure after a commit", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Finalized);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.failureReason).to.equal(0n);
    });

    it("reverts JobNotPending(Failed) for a second failure and keeps the first reason", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.RecordBlobMissing);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      expect((await pmhe.jobOf(jobId)).failureReason).to.equal(BigInt(FailureReason.RecordBlobMissing));
    });
  });
});
