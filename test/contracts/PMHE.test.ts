import { expect } from "chai";
import { globalOptions, network } from "hardhat";

import { FailureReason } from "../../protocol/failure-reasons.js";
import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree } from "../../protocol/merkle.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

/** Mirrors `IPredictionJobs.JobStatus`. */
const JobStatus = { None: 0n, Requested: 1n, Finalized: 2n, Failed: 3n, Expired: 4n } as const;

const HOSPITAL_ROLE = ethers.id("HOSPITAL_ROLE");
const COPROCESSOR_ROLE = ethers.id("COPROCESSOR_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

const DEFAULT_TIMEOUT = 3600n;
const MAX_JOB_TIMEOUT = 365n * 24n * 3600n;
const MAX_BATCH_SIZE = 2n ** 24n - 1n;
const DAY = 24 * 3600;

/** Deterministic, distinct, non-zero test hashes. */
const h = (label: string): Hash => ethers.id(label) as Hash;
const KEYS_1 = h("key-bundle-1");
const KEYS_2 = h("key-bundle-2");
const KEYS_3 = h("key-bundle-3");
const KEYS_LOC_1 = "blob://key-bundle-1";
const KEYS_LOC_2 = "blob://key-bundle-2";
const HOSPITAL_KEY_1 = h("hospital-key-1");
const HOSPITAL_KEY_2 = h("hospital-key-2");
const HOSPITAL_LOC_1 = "https://hospital.example/key-1";
const HOSPITAL_LOC_2 = "https://hospital.example/key-2";
const RECORD_1 = h("record-1");
const RECORD_2 = h("record-2");
const MODEL_1 = h("model-1");
const MODEL_2 = h("model-2");
const MODEL_3 = h("model-3");
const MODEL_NAME = "heart-risk";
const MODEL_LOC_1 = "blob://model-1";
const MODEL_LOC_2 = "blob://model-2";
const RESULT_1 = h("result-1");
const RESULT_2 = h("result-2");
const SHARED_1 = h("shared-1");
const SHARED_2 = h("shared-2");
const SHARED_LOC = "blob://shared-1";
const BATCH_RECORDS = [h("batch-record-a"), h("batch-record-b"), h("batch-record-c")];

/** A failure vote's value, as the contract records it: bytes32(uint256(reason)). */
const failureVote = (reason: number): string => ethers.toBeHex(reason, 32);

/** Flips the lowest bit of a hash. */
const flip = (value: string): Hash => {
  const bytes = ethers.getBytes(value);
  bytes[31] = bytes[31]! ^ 1;
  return ethers.hexlify(bytes) as Hash;
};

/** Sets the timestamp of the next block and returns it, so stored timestamps can be checked exactly. */
async function nextTimestamp(): Promise<number> {
  const t = (await time.latest()) + 1_000;
  await time.setNextBlockTimestamp(t);
  return t;
}

/** The job id formula, written from the NatSpec rather than read from the contract. */
async function expectedJobId(contract: string, patient: string, nonce: bigint): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "address", "uint64"],
      [chainId, contract, patient, nonce],
    ),
  );
}

async function deployFixture() {
  const signers = await ethers.getSigners();
  const at = (i: number) => {
    const signer = signers[i];
    if (!signer) throw new Error("not enough signers");
    return signer;
  };
  const [admin, hospital, otherHospital, coprocessor, coprocessor2, coprocessor3, patient, otherPatient, stranger] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ].map(at) as [
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
    ReturnType<typeof at>,
  ];
  const pmhe = await ethers.deployContract("PMHE", [admin.address]);
  await pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_1, HOSPITAL_LOC_1);
  await pmhe.connect(admin).registerHospital(otherHospital.address, HOSPITAL_KEY_2, HOSPITAL_LOC_2);
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor.address);
  const address = await pmhe.getAddress();
  return {
    pmhe,
    address,
    admin,
    hospital,
    otherHospital,
    coprocessor,
    coprocessor2,
    coprocessor3,
    patient,
    otherPatient,
    stranger,
  };
}

/** `patient` and `otherPatient` registered (KEYS_1), RECORD_1 anchored by `patient`, MODEL_1 (v1) published. */
async function recordAndModelFixture() {
  const f = await deployFixture();
  const { pmhe, hospital, patient, otherPatient } = f;
  await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
  await pmhe.connect(otherPatient).registerKeys(KEYS_1, KEYS_LOC_1);
  await pmhe.connect(patient).anchorRecord(RECORD_1);
  await pmhe.connect(hospital).publishModel(MODEL_1, MODEL_NAME, 1, MODEL_LOC_1);
  return f;
}

/** As {@link recordAndModelFixture}, plus one pending job of `patient` on RECORD_1 / MODEL_1. */
async function pendingJobFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, patient } = f;
  const jobId = await pmhe.nextJobId(patient.address);
  const requestedAt = await nextTimestamp();
  await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
  return { ...f, jobId, requestedAt, deadline: BigInt(requestedAt) + DEFAULT_TIMEOUT };
}

/** As {@link recordAndModelFixture}, plus a 30-day consent of `patient` for `hospital`, covering results. */
async function consentFixture() {
  const f = await recordAndModelFixture();
  const expiresAt = BigInt((await time.latest()) + 30 * DAY);
  await f.pmhe.connect(f.patient).grantConsent(f.hospital.address, expiresAt, true);
  return { ...f, expiresAt };
}

/** As {@link pendingJobFixture}, finalized with RESULT_1, with a 30-day consent of `patient` for `hospital`. */
async function finalizedJobFixture() {
  const f = await pendingJobFixture();
  await f.pmhe.connect(f.coprocessor).commitResult(f.jobId, RESULT_1);
  const expiresAt = BigInt((await time.latest()) + 30 * DAY);
  await f.pmhe.connect(f.patient).grantConsent(f.hospital.address, expiresAt, true);
  return { ...f, expiresAt };
}

/** Quorum 2, three coprocessors, one pending job of `patient` on RECORD_1 / MODEL_1 requested under it. */
async function quorumFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, admin, patient, coprocessor2, coprocessor3 } = f;
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor3.address);
  await pmhe.connect(admin).setQuorum(2);
  const jobId = await pmhe.nextJobId(patient.address);
  await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
  return { ...f, jobId };
}

/** As {@link recordAndModelFixture}, plus a batch of BATCH_RECORDS anchored by `patient` under KEYS_1. */
async function batchFixture() {
  const f = await recordAndModelFixture();
  const tree = buildRecordTree(BATCH_RECORDS);
  const anchoredAt = await nextTimestamp();
  await f.pmhe.connect(f.patient).anchorBatch(tree.root, tree.count);
  return { ...f, tree, anchoredAt };
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

    it("deploys for an admin that is not the deployer, with default quorum 1 and timeout 3600 announced", async function () {
      const { admin, stranger } = await loadFixture(deployFixture);
      const pmhe = await ethers.deployContract("PMHE", [stranger.address], admin);
      const deployment = pmhe.deploymentTransaction();
      await expect(deployment).to.emit(pmhe, "QuorumChanged").withArgs(0n, 1n);
      await expect(deployment).to.emit(pmhe, "JobTimeoutChanged").withArgs(0n, DEFAULT_TIMEOUT);
      await expect(deployment)
        .to.emit(pmhe, "RoleGranted")
        .withArgs(DEFAULT_ADMIN_ROLE, stranger.address, admin.address);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, stranger.address)).to.equal(true);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(false);
      expect(await pmhe.quorum()).to.equal(1n);
      expect(await pmhe.jobTimeout()).to.equal(DEFAULT_TIMEOUT);
    });

    it("exposes the role identifiers and limits", async function () {
      const { pmhe } = await loadFixture(deployFixture);
      expect(await pmhe.HOSPITAL_ROLE()).to.equal(HOSPITAL_ROLE);
      expect(await pmhe.COPROCESSOR_ROLE()).to.equal(COPROCESSOR_ROLE);
      expect(HOSPITAL_ROLE).to.not.equal(COPROCESSOR_ROLE);
      expect(await pmhe.MAX_JOB_TIMEOUT()).to.equal(MAX_JOB_TIMEOUT);
      expect(await pmhe.MAX_BATCH_SIZE()).to.equal(MAX_BATCH_SIZE);
    });

    it("gives the fixture's accounts their roles", async function () {
      const { pmhe, hospital, otherHospital, coprocessor } = await loadFixture(deployFixture);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(true);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, otherHospital.address)).to.equal(true);
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

  describe("registerHospital / setHospitalKey / hospitalKeyOf", function () {
    it("registers a hospital: grants HOSPITAL_ROLE and stores its key", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      const tx = pmhe.connect(admin).registerHospital(stranger.address, HOSPITAL_KEY_1, HOSPITAL_LOC_1);
      await expect(tx)
        .to.emit(pmhe, "HospitalRegistered")
        .withArgs(stranger.address, HOSPITAL_KEY_1, HOSPITAL_LOC_1);
      await expect(tx).to.emit(pmhe, "RoleGranted").withArgs(HOSPITAL_ROLE, stranger.address, admin.address);

      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(true);
      const [keyHash, locator] = await pmhe.hospitalKeyOf(stranger.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_1);
      expect(locator).to.equal(HOSPITAL_LOC_1);
    });

    it("re-registering a hospital replaces its key without granting the role again", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      const tx = pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_2, HOSPITAL_LOC_2);
      await expect(tx)
        .to.emit(pmhe, "HospitalRegistered")
        .withArgs(hospital.address, HOSPITAL_KEY_2, HOSPITAL_LOC_2);
      await expect(tx).to.not.emit(pmhe, "RoleGranted");
      const [keyHash, locator] = await pmhe.hospitalKeyOf(hospital.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_2);
      expect(locator).to.equal(HOSPITAL_LOC_2);
    });

    it("refuses registerHospital from accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { pmhe, hospital, coprocessor, stranger } = await loadFixture(deployFixture);
      for (const account of [hospital, coprocessor, stranger]) {
        await expect(pmhe.connect(account).registerHospital(stranger.address, HOSPITAL_KEY_1, HOSPITAL_LOC_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(false);
    });

    it("registerHospital reverts ZeroAddress and ZeroHash", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      await expect(
        pmhe.connect(admin).registerHospital(ethers.ZeroAddress, HOSPITAL_KEY_1, HOSPITAL_LOC_1),
      ).to.be.revertedWithCustomError(pmhe, "ZeroAddress");
      await expect(
        pmhe.connect(admin).registerHospital(stranger.address, ethers.ZeroHash, HOSPITAL_LOC_1),
      ).to.be.revertedWithCustomError(pmhe, "ZeroHash");
      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(false);
    });

    it("lets a hospital replace its own key", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).setHospitalKey(HOSPITAL_KEY_2, HOSPITAL_LOC_2))
        .to.emit(pmhe, "HospitalKeyUpdated")
        .withArgs(hospital.address, HOSPITAL_KEY_2, HOSPITAL_LOC_2);
      const [keyHash, locator] = await pmhe.hospitalKeyOf(hospital.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_2);
      expect(locator).to.equal(HOSPITAL_LOC_2);
      const [otherKey] = await pmhe.hospitalKeyOf(otherHospital.address);
      expect(otherKey).to.equal(HOSPITAL_KEY_2);
    });

    it("lets a hospital granted the role directly set its first key", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, stranger.address);
      await expect(pmhe.hospitalKeyOf(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
      await expect(pmhe.connect(stranger).setHospitalKey(HOSPITAL_KEY_1, HOSPITAL_LOC_1))
        .to.emit(pmhe, "HospitalKeyUpdated")
        .withArgs(stranger.address, HOSPITAL_KEY_1, HOSPITAL_LOC_1);
      const [keyHash] = await pmhe.hospitalKeyOf(stranger.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_1);
    });

    it("refuses setHospitalKey from accounts without HOSPITAL_ROLE, including a removed hospital", async function () {
      const { pmhe, admin, hospital, coprocessor, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [admin, coprocessor, stranger, hospital]) {
        await expect(pmhe.connect(account).setHospitalKey(HOSPITAL_KEY_2, HOSPITAL_LOC_2))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, HOSPITAL_ROLE);
      }
    });

    it("setHospitalKey reverts ZeroHash and keeps the key", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).setHospitalKey(ethers.ZeroHash, HOSPITAL_LOC_2)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      const [keyHash, locator] = await pmhe.hospitalKeyOf(hospital.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_1);
      expect(locator).to.equal(HOSPITAL_LOC_1);
    });

    it("removing a hospital is revokeRole; its last key stays readable", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address))
        .to.emit(pmhe, "RoleRevoked")
        .withArgs(HOSPITAL_ROLE, hospital.address, admin.address);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(false);
      const [keyHash] = await pmhe.hospitalKeyOf(hospital.address);
      expect(keyHash).to.equal(HOSPITAL_KEY_1);
    });

    it("hospitalKeyOf reverts UnknownHospital for an account never registered", async function () {
      const { pmhe, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.hospitalKeyOf(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
    });
  });

  describe("setQuorum / setJobTimeout", function () {
    it("lets governance set the quorum", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).setQuorum(3)).to.emit(pmhe, "QuorumChanged").withArgs(1n, 3n);
      expect(await pmhe.quorum()).to.equal(3n);
      await expect(pmhe.connect(admin).setQuorum(255)).to.emit(pmhe, "QuorumChanged").withArgs(3n, 255n);
      expect(await pmhe.quorum()).to.equal(255n);
    });

    it("setQuorum reverts InvalidQuorum for 0", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).setQuorum(0)).to.be.revertedWithCustomError(pmhe, "InvalidQuorum").withArgs(0n);
      expect(await pmhe.quorum()).to.equal(1n);
    });

    it("lets governance set the job timeout, up to MAX_JOB_TIMEOUT", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).setJobTimeout(60))
        .to.emit(pmhe, "JobTimeoutChanged")
        .withArgs(DEFAULT_TIMEOUT, 60n);
      expect(await pmhe.jobTimeout()).to.equal(60n);
      await expect(pmhe.connect(admin).setJobTimeout(MAX_JOB_TIMEOUT))
        .to.emit(pmhe, "JobTimeoutChanged")
        .withArgs(60n, MAX_JOB_TIMEOUT);
      expect(await pmhe.jobTimeout()).to.equal(MAX_JOB_TIMEOUT);
    });

    it("setJobTimeout reverts InvalidJobTimeout for 0 and above MAX_JOB_TIMEOUT", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).setJobTimeout(0))
        .to.be.revertedWithCustomError(pmhe, "InvalidJobTimeout")
        .withArgs(0n);
      await expect(pmhe.connect(admin).setJobTimeout(MAX_JOB_TIMEOUT + 1n))
        .to.be.revertedWithCustomError(pmhe, "InvalidJobTimeout")
        .withArgs(MAX_JOB_TIMEOUT + 1n);
      expect(await pmhe.jobTimeout()).to.equal(DEFAULT_TIMEOUT);
    });

    it("refuses both settings from accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { pmhe, hospital, coprocessor, patient } = await loadFixture(deployFixture);
      for (const account of [hospital, coprocessor, patient]) {
        await expect(pmhe.connect(account).setQuorum(2))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
        await expect(pmhe.connect(account).setJobTimeout(60))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
    });

    it("applies to new jobs only: each job keeps the quorum and deadline in force at its request", async function () {
      const { pmhe, admin, patient, jobId, deadline } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).setQuorum(2);
      await pmhe.connect(admin).setJobTimeout(60);
      const old = await pmhe.jobOf(jobId);
      expect(old.quorum).to.equal(1n);
      expect(old.deadline).to.equal(deadline);

      const newId = await pmhe.nextJobId(patient.address);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(newId, patient.address, RECORD_1, MODEL_1, KEYS_1, patient.address, 2n, BigInt(t) + 60n);
      const fresh = await pmhe.jobOf(newId);
      expect(fresh.quorum).to.equal(2n);
      expect(fresh.deadline).to.equal(BigInt(t) + 60n);
    });
  });

  describe("registerKeys / currentKeyBundle / keyBundleAt", function () {
    it("registers a new patient at key version 1, emitting the locator", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 1n, KEYS_1, KEYS_LOC_1);

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(await pmhe.keyBundleAt(patient.address, 1)).to.equal(KEYS_1);
    });

    it("rotates keys to the next version and keeps the history", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 2n, KEYS_2, KEYS_LOC_2);

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_2);
      expect(keyVersion).to.equal(2n);
      expect(await pmhe.keyBundleAt(patient.address, 1)).to.equal(KEYS_1);
      expect(await pmhe.keyBundleAt(patient.address, 2)).to.equal(KEYS_2);
    });

    it("allows rotating back to an earlier, non-current bundle as a new version", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1, ""))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(patient.address, 3n, KEYS_1, "");

      const [keyBundleHash, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(3n);
      expect(await pmhe.keyBundleAt(patient.address, 2)).to.equal(KEYS_2);
    });

    it("numbers key versions per patient", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(otherPatient).registerKeys(KEYS_3, "blob://k3"))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(otherPatient.address, 1n, KEYS_3, "blob://k3");

      const [otherHash, otherVersion] = await pmhe.currentKeyBundle(otherPatient.address);
      expect(otherHash).to.equal(KEYS_3);
      expect(otherVersion).to.equal(1n);
      const [patientHash, patientVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(patientHash).to.equal(KEYS_2);
      expect(patientVersion).to.equal(2n);
    });

    it("lets two patients register the same bundle hash", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(otherPatient).registerKeys(KEYS_1, KEYS_LOC_1))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(otherPatient.address, 1n, KEYS_1, KEYS_LOC_1);
    });

    it("does not disturb the patient's job nonce when rotating keys", async function () {
      const { pmhe, patient, address } = await loadFixture(pendingJobFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
      expect(await pmhe.nextJobId(patient.address)).to.equal(await expectedJobId(address, patient.address, 1n));
      const [, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyVersion).to.equal(2n);
    });

    it("reverts ZeroHash for a zero bundle hash, on registration and on rotation", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash, KEYS_LOC_1)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash, KEYS_LOC_1)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      const [, keyVersion] = await pmhe.currentKeyBundle(patient.address);
      expect(keyVersion).to.equal(1n);
    });

    it("reverts KeyBundleUnchanged when the bundle is already the current one", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_2))
        .to.be.revertedWithCustomError(pmhe, "KeyBundleUnchanged")
        .withArgs(KEYS_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2))
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
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
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
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(patient.address, RECORD_1, 1n, KEYS_1);

      const [owner, keyBundleHash, keyVersion, anchoredAt] = await pmhe.recordOf(RECORD_1);
      expect(owner).to.equal(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(anchoredAt).to.equal(BigInt(t));
      expect(await pmhe.isErased(RECORD_1)).to.equal(false);
    });

    it("keeps old records pointing at their original key bundle after a key rotation", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await pmhe.connect(patient).anchorRecord(RECORD_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
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
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(patient).anchorRecord(ethers.ZeroHash)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts RecordAlreadyAnchored for a re-anchor by the same or another patient, erased or not", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      await expect(pmhe.connect(otherPatient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
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

  describe("anchorBatch / batchOf / batchIncludes", function () {
    it("anchors a Merkle root built with protocol/merkle.ts and reads it back", async function () {
      const { pmhe, patient, tree, anchoredAt } = await loadFixture(batchFixture);
      const [owner, keyBundleHash, keyVersion, count, at, erased] = await pmhe.batchOf(tree.root);
      expect(owner).to.equal(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(count).to.equal(3n);
      expect(at).to.equal(BigInt(anchoredAt));
      expect(erased).to.equal(false);
    });

    it("emits BatchAnchored with the patient's current key version and bundle", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      const tree = buildRecordTree([RECORD_2]);
      await expect(pmhe.connect(patient).anchorBatch(tree.root, 1))
        .to.emit(pmhe, "BatchAnchored")
        .withArgs(patient.address, tree.root, 1n, 2n, KEYS_2);
      const [, keyBundleHash, keyVersion, count] = await pmhe.batchOf(tree.root);
      expect(keyBundleHash).to.equal(KEYS_2);
      expect(keyVersion).to.equal(2n);
      expect(count).to.equal(1n);
    });

    it("accepts the largest batch size, MAX_BATCH_SIZE", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const root = h("large-root");
      await expect(pmhe.connect(patient).anchorBatch(root, MAX_BATCH_SIZE))
        .to.emit(pmhe, "BatchAnchored")
        .withArgs(patient.address, root, MAX_BATCH_SIZE, 1n, KEYS_1);
      const [, , , count] = await pmhe.batchOf(root);
      expect(count).to.equal(MAX_BATCH_SIZE);
    });

    it("reverts PatientNotRegistered when the caller has no keys", async function () {
      const { pmhe, stranger } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(stranger).anchorBatch(h("root"), 2))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts ZeroHash for a zero root", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorBatch(ethers.ZeroHash, 2)).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
    });

    it("reverts InvalidBatchSize for 0 and above MAX_BATCH_SIZE", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorBatch(h("root"), 0))
        .to.be.revertedWithCustomError(pmhe, "InvalidBatchSize")
        .withArgs(0n);
      await expect(pmhe.connect(patient).anchorBatch(h("root"), MAX_BATCH_SIZE + 1n))
        .to.be.revertedWithCustomError(pmhe, "InvalidBatchSize")
        .withArgs(MAX_BATCH_SIZE + 1n);
      await expect(pmhe.connect(patient).anchorBatch(h("root"), 2n ** 32n - 1n))
        .to.be.revertedWithCustomError(pmhe, "InvalidBatchSize")
        .withArgs(2n ** 32n - 1n);
    });

    it("reverts BatchAlreadyAnchored for a re-anchor by the same or another patient", async function () {
      const { pmhe, patient, otherPatient, tree } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).anchorBatch(tree.root, 3))
        .to.be.revertedWithCustomError(pmhe, "BatchAlreadyAnchored")
        .withArgs(tree.root);
      await expect(pmhe.connect(otherPatient).anchorBatch(tree.root, 5))
        .to.be.revertedWithCustomError(pmhe, "BatchAlreadyAnchored")
        .withArgs(tree.root);
      const [owner, , , count] = await pmhe.batchOf(tree.root);
      expect(owner).to.equal(patient.address);
      expect(count).to.equal(3n);
    });

    it("batchOf reverts UnknownBatch for a root never anchored", async function () {
      const { pmhe } = await loadFixture(batchFixture);
      await expect(pmhe.batchOf(h("no-root"))).to.be.revertedWithCustomError(pmhe, "UnknownBatch").withArgs(h("no-root"));
    });

    it("batchIncludes accepts merkle.ts proofs of every record of the batch", async function () {
      const { pmhe, tree } = await loadFixture(batchFixture);
      for (const recordHash of BATCH_RECORDS) {
        expect(await pmhe.batchIncludes(tree.root, recordHash, tree.proofOf(recordHash))).to.equal(true);
      }
    });

    it("batchIncludes refuses tampered proofs, records outside the batch and proofs of other records", async function () {
      const { pmhe, tree } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS as [Hash, Hash, Hash];
      const proof = tree.proofOf(a);
      expect(await pmhe.batchIncludes(tree.root, a, proof.map((p, i) => (i === 0 ? flip(p) : p)))).to.equal(false);
      expect(await pmhe.batchIncludes(tree.root, a, [])).to.equal(false);
      expect(await pmhe.batchIncludes(tree.root, RECORD_1, proof)).to.equal(false);
      expect(await pmhe.batchIncludes(tree.root, b, proof)).to.equal(false);
      expect(await pmhe.batchIncludes(tree.root, flip(a), proof)).to.equal(false);
    });

    it("batchIncludes reverts UnknownBatch for a root never anchored", async function () {
      const { pmhe } = await loadFixture(batchFixture);
      const lone = buildRecordTree([RECORD_2]);
      await expect(pmhe.batchIncludes(lone.root, RECORD_2, []))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(lone.root);
    });
  });

  describe("eraseRecord / eraseBatch / isErased", function () {
    it("flags a record as erased and keeps its anchor readable", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const [, , , anchoredAt] = await pmhe.recordOf(RECORD_1);
      await expect(pmhe.connect(patient).eraseRecord(RECORD_1))
        .to.emit(pmhe, "RecordErased")
        .withArgs(patient.address, RECORD_1);
      expect(await pmhe.isErased(RECORD_1)).to.equal(true);
      const [owner, keyBundleHash, keyVersion, at] = await pmhe.recordOf(RECORD_1);
      expect(owner).to.equal(patient.address);
      expect(keyBundleHash).to.equal(KEYS_1);
      expect(keyVersion).to.equal(1n);
      expect(at).to.equal(anchoredAt);
    });

    it("isErased is false for records never anchored and for batch roots", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).eraseBatch(tree.root);
      expect(await pmhe.isErased(RECORD_2)).to.equal(false);
      expect(await pmhe.isErased(tree.root)).to.equal(false);
    });

    it("flags a batch as erased", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).eraseBatch(tree.root))
        .to.emit(pmhe, "BatchErased")
        .withArgs(patient.address, tree.root);
      const [owner, , , count, , erased] = await pmhe.batchOf(tree.root);
      expect(owner).to.equal(patient.address);
      expect(count).to.equal(3n);
      expect(erased).to.equal(true);
      expect(await pmhe.batchIncludes(tree.root, BATCH_RECORDS[0]!, tree.proofOf(BATCH_RECORDS[0]!))).to.equal(true);
    });

    it("reverts NotRecordOwner when anyone but the owner erases", async function () {
      const { pmhe, admin, hospital, otherPatient, stranger, tree } = await loadFixture(batchFixture);
      for (const account of [otherPatient, stranger, hospital, admin]) {
        await expect(pmhe.connect(account).eraseRecord(RECORD_1))
          .to.be.revertedWithCustomError(pmhe, "NotRecordOwner")
          .withArgs(RECORD_1, account.address);
        await expect(pmhe.connect(account).eraseBatch(tree.root))
          .to.be.revertedWithCustomError(pmhe, "NotRecordOwner")
          .withArgs(tree.root, account.address);
      }
      expect(await pmhe.isErased(RECORD_1)).to.equal(false);
    });

    it("reverts UnknownRecord / UnknownBatch for hashes never anchored", async function () {
      const { pmhe, patient } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).eraseRecord(RECORD_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(RECORD_2);
      await expect(pmhe.connect(patient).eraseBatch(h("no-root")))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(h("no-root"));
    });

    it("reverts RecordIsErased when erasing twice", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      await pmhe.connect(patient).eraseBatch(tree.root);
      await expect(pmhe.connect(patient).eraseRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(RECORD_1);
      await expect(pmhe.connect(patient).eraseBatch(tree.root))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(tree.root);
    });

    it("leaves jobs requested before the erasure untouched", async function () {
      const { pmhe, patient, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Requested);
      expect(job.keyBundleHash).to.equal(KEYS_1);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.RecordBlobMissing))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, FailureReason.RecordBlobMissing, 1n);
    });
  });

  describe("publishModel / deprecateModel / modelOf / latestModelVersion", function () {
    it("lets a hospital publish version 1 of a model", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(0n);
      const t = await nextTimestamp();
      await expect(pmhe.connect(hospital).publishModel(MODEL_1, MODEL_NAME, 1, MODEL_LOC_1))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(MODEL_1, hospital.address, MODEL_NAME, 1n, MODEL_LOC_1);

      const [publisher, version, deprecated, publishedAt] = await pmhe.modelOf(MODEL_1);
      expect(publisher).to.equal(hospital.address);
      expect(version).to.equal(1n);
      expect(deprecated).to.equal(false);
      expect(publishedAt).to.equal(BigInt(t));
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(1n);
    });

    it("numbers versions per (publisher, name)", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(hospital).publishModel(MODEL_2, MODEL_NAME, 2, MODEL_LOC_2))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(MODEL_2, hospital.address, MODEL_NAME, 2n, MODEL_LOC_2);
      await expect(pmhe.connect(otherHospital).publishModel(MODEL_3, MODEL_NAME, 1, "blob://m3"))
        .to.emit(pmhe, "ModelPublished")
        .withArgs(MODEL_3, otherHospital.address, MODEL_NAME, 1n, "blob://m3");
      await pmhe.connect(hospital).publishModel(h("model-4"), "diabetes", 1, "blob://m4");

      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(2n);
      expect(await pmhe.latestModelVersion(otherHospital.address, MODEL_NAME)).to.equal(1n);
      expect(await pmhe.latestModelVersion(hospital.address, "diabetes")).to.equal(1n);
      expect(await pmhe.latestModelVersion(otherHospital.address, "diabetes")).to.equal(0n);
      const [, version] = await pmhe.modelOf(MODEL_2);
      expect(version).to.equal(2n);
    });

    it("reverts ModelVersionNotNext for a skipped, repeated or zero version", async function () {
      const { pmhe, hospital } = await loadFixture(recordAndModelFixture);
      for (const given of [3, 1, 0]) {
        await expect(pmhe.connect(hospital).publishModel(MODEL_2, MODEL_NAME, given, MODEL_LOC_2))
          .to.be.revertedWithCustomError(pmhe, "ModelVersionNotNext")
          .withArgs(MODEL_NAME, 2n, BigInt(given));
      }
      await expect(pmhe.connect(hospital).publishModel(MODEL_2, "new-name", 2, MODEL_LOC_2))
        .to.be.revertedWithCustomError(pmhe, "ModelVersionNotNext")
        .withArgs("new-name", 1n, 2n);
      expect(await pmhe.latestModelVersion(hospital.address, MODEL_NAME)).to.equal(1n);
    });

    it("refuses accounts without HOSPITAL_ROLE, including the admin, the coprocessor and a removed hospital", async function () {
      const { pmhe, admin, hospital, coprocessor, patient } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [admin, coprocessor, patient, hospital]) {
        await expect(pmhe.connect(account).publishModel(MODEL_1, MODEL_NAME, 1, MODEL_LOC_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, HOSPITAL_ROLE);
      }
    });

    it("reverts ZeroHash for a zero model hash", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      await expect(
        pmhe.connect(hospital).publishModel(ethers.ZeroHash, MODEL_NAME, 1, MODEL_LOC_1),
      ).to.be.revertedWithCustomError(pmhe, "ZeroHash");
    });

    it("reverts ModelAlreadyPublished for a re-publish by any hospital, under any name", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(hospital).publishModel(MODEL_1, MODEL_NAME, 2, MODEL_LOC_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(MODEL_1);
      await expect(pmhe.connect(otherHospital).publishModel(MODEL_1, "other", 1, MODEL_LOC_1))
        .to.be.revertedWithCustomError(pmhe, "ModelAlreadyPublished")
        .withArgs(MODEL_1);
      const [publisher] = await pmhe.modelOf(MODEL_1);
      expect(publisher).to.equal(hospital.address);
    });

    it("modelOf reverts UnknownModel for a hash never published", async function () {
      const { pmhe } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.modelOf(MODEL_2)).to.be.revertedWithCustomError(pmhe, "UnknownModel").withArgs(MODEL_2);
    });

    it("lets the publisher deprecate its model, even after losing HOSPITAL_ROLE", async function () {
      const { pmhe, admin, hospital } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).deprecateModel(MODEL_1))
        .to.emit(pmhe, "ModelDeprecated")
        .withArgs(MODEL_1, hospital.address);
      const [publisher, version, deprecated] = await pmhe.modelOf(MODEL_1);
      expect(publisher).to.equal(hospital.address);
      expect(version).to.equal(1n);
      expect(deprecated).to.equal(true);
    });

    it("deprecateModel reverts NotModelPublisher for anyone else", async function () {
      const { pmhe, admin, otherHospital, patient } = await loadFixture(recordAndModelFixture);
      for (const account of [otherHospital, admin, patient]) {
        await expect(pmhe.connect(account).deprecateModel(MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "NotModelPublisher")
          .withArgs(MODEL_1, account.address);
      }
      const [, , deprecated] = await pmhe.modelOf(MODEL_1);
      expect(deprecated).to.equal(false);
    });

    it("deprecateModel reverts ModelIsDeprecated the second time and UnknownModel for an unknown hash", async function () {
      const { pmhe, hospital } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(hospital).deprecateModel(MODEL_1);
      await expect(pmhe.connect(hospital).deprecateModel(MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(MODEL_1);
      await expect(pmhe.connect(hospital).deprecateModel(MODEL_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(MODEL_2);
    });

    it("refuses new requests on a deprecated model but lets jobs already requested finish", async function () {
      const { pmhe, hospital, patient, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(hospital).deprecateModel(MODEL_1);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(MODEL_1);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 1n);
    });
  });

  describe("grantConsent / revokeConsent / consentOf", function () {
    it("lets a patient grant a hospital a consent", async function () {
      const { pmhe, patient, hospital } = await loadFixture(recordAndModelFixture);
      const expiresAt = BigInt((await time.latest()) + DAY);
      await expect(pmhe.connect(patient).grantConsent(hospital.address, expiresAt, false))
        .to.emit(pmhe, "ConsentGranted")
        .withArgs(patient.address, hospital.address, expiresAt, false);
      const [at, mayReceiveResults, active] = await pmhe.consentOf(patient.address, hospital.address);
      expect(at).to.equal(expiresAt);
      expect(mayReceiveResults).to.equal(false);
      expect(active).to.equal(true);
    });

    it("replaces a consent when granted again", async function () {
      const { pmhe, patient, hospital, expiresAt } = await loadFixture(consentFixture);
      const later = expiresAt + BigInt(DAY);
      await expect(pmhe.connect(patient).grantConsent(hospital.address, later, false))
        .to.emit(pmhe, "ConsentGranted")
        .withArgs(patient.address, hospital.address, later, false);
      const [at, mayReceiveResults, active] = await pmhe.consentOf(patient.address, hospital.address);
      expect(at).to.equal(later);
      expect(mayReceiveResults).to.equal(false);
      expect(active).to.equal(true);
    });

    it("is per (patient, hospital)", async function () {
      const { pmhe, patient, otherPatient, hospital, otherHospital } = await loadFixture(consentFixture);
      for (const [p, hosp] of [
        [otherPatient, hospital],
        [patient, otherHospital],
      ] as const) {
        const [at, mayReceiveResults, active] = await pmhe.consentOf(p.address, hosp.address);
        expect(at).to.equal(0n);
        expect(mayReceiveResults).to.equal(false);
        expect(active).to.equal(false);
      }
    });

    it("becomes inactive at its expiry, keeping its values", async function () {
      const { pmhe, patient, hospital, expiresAt } = await loadFixture(consentFixture);
      await time.increaseTo(expiresAt - 1n);
      expect((await pmhe.consentOf(patient.address, hospital.address))[2]).to.equal(true);
      await time.increaseTo(expiresAt);
      const [at, mayReceiveResults, active] = await pmhe.consentOf(patient.address, hospital.address);
      expect(at).to.equal(expiresAt);
      expect(mayReceiveResults).to.equal(true);
      expect(active).to.equal(false);
    });

    it("grantConsent reverts PatientNotRegistered for an unregistered caller", async function () {
      const { pmhe, stranger, hospital } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(stranger).grantConsent(hospital.address, BigInt((await time.latest()) + DAY), true))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
    });

    it("grantConsent reverts NotAHospital for accounts without HOSPITAL_ROLE, including a removed hospital", async function () {
      const { pmhe, admin, patient, hospital, coprocessor, stranger } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      const expiresAt = BigInt((await time.latest()) + DAY);
      for (const account of [stranger.address, coprocessor.address, ethers.ZeroAddress, hospital.address]) {
        await expect(pmhe.connect(patient).grantConsent(account, expiresAt, true))
          .to.be.revertedWithCustomError(pmhe, "NotAHospital")
          .withArgs(account);
      }
    });

    it("grantConsent reverts ConsentExpiryInPast for an expiry now or earlier", async function () {
      const { pmhe, patient, hospital } = await loadFixture(recordAndModelFixture);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).grantConsent(hospital.address, t, true))
        .to.be.revertedWithCustomError(pmhe, "ConsentExpiryInPast")
        .withArgs(BigInt(t));
      await expect(pmhe.connect(patient).grantConsent(hospital.address, 1, true))
        .to.be.revertedWithCustomError(pmhe, "ConsentExpiryInPast")
        .withArgs(1n);
    });

    it("lets a patient revoke an active consent at any time", async function () {
      const { pmhe, patient, hospital } = await loadFixture(consentFixture);
      await expect(pmhe.connect(patient).revokeConsent(hospital.address))
        .to.emit(pmhe, "ConsentRevoked")
        .withArgs(patient.address, hospital.address);
      const [at, mayReceiveResults, active] = await pmhe.consentOf(patient.address, hospital.address);
      expect(at).to.equal(0n);
      expect(mayReceiveResults).to.equal(false);
      expect(active).to.equal(false);
    });

    it("revokeConsent reverts NoConsent when none was granted, after a revocation and after expiry", async function () {
      const { pmhe, patient, hospital, otherHospital, expiresAt } = await loadFixture(consentFixture);
      await expect(pmhe.connect(patient).revokeConsent(otherHospital.address))
        .to.be.revertedWithCustomError(pmhe, "NoConsent")
        .withArgs(patient.address, otherHospital.address);

      await pmhe.connect(patient).grantConsent(otherHospital.address, expiresAt, false);
      await pmhe.connect(patient).revokeConsent(otherHospital.address);
      await expect(pmhe.connect(patient).revokeConsent(otherHospital.address))
        .to.be.revertedWithCustomError(pmhe, "NoConsent")
        .withArgs(patient.address, otherHospital.address);

      await time.increaseTo(expiresAt);
      await expect(pmhe.connect(patient).revokeConsent(hospital.address))
        .to.be.revertedWithCustomError(pmhe, "NoConsent")
        .withArgs(patient.address, hospital.address);
    });
  });

  describe("requestPrediction / computeJobId / jobNonce / nextJobId / jobOf", function () {
    it("creates a job whose id is the predicted one and emits it", async function () {
      const { pmhe, address, patient } = await loadFixture(recordAndModelFixture);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
      const predicted = await expectedJobId(address, patient.address, 0n);
      expect(await pmhe.nextJobId(patient.address)).to.equal(predicted);
      expect(await pmhe.connect(patient).requestPrediction.staticCall(RECORD_1, MODEL_1)).to.equal(predicted);

      const t = await nextTimestamp();
      const deadline = BigInt(t) + DEFAULT_TIMEOUT;
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, patient.address, RECORD_1, MODEL_1, KEYS_1, patient.address, 1n, deadline);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);

      const job = await pmhe.jobOf(predicted);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
      expect(job.status).to.equal(JobStatus.Requested);
      expect(job.requestedAt).to.equal(BigInt(t));
      expect(job.failureReason).to.equal(0n);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(job.patient).to.equal(patient.address);
      expect(job.keyBundleHash).to.equal(KEYS_1);
      expect(job.keyVersion).to.equal(1n);
      expect(job.batchRoot).to.equal(ethers.ZeroHash);
      expect(job.quorum).to.equal(1n);
      expect(job.deadline).to.equal(deadline);
    });

    it("computes job ids as keccak256(abi.encode(chainid, contract, patient, nonce))", async function () {
      const { pmhe, address, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      expect(await pmhe.computeJobId(patient.address, 7n)).to.equal(await expectedJobId(address, patient.address, 7n));
      expect(await pmhe.computeJobId(otherPatient.address, 7n)).to.equal(
        await expectedJobId(address, otherPatient.address, 7n),
      );
      expect(await pmhe.computeJobId(patient.address, 7n)).to.not.equal(await pmhe.computeJobId(patient.address, 8n));
    });

    it("gives two requests of the same record and model consecutive ids", async function () {
      const { pmhe, address, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      const second = await expectedJobId(address, patient.address, 1n);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(second, patient.address, RECORD_1, MODEL_1, KEYS_1, patient.address, 1n, (v: bigint) => v > 0n);
      expect(await pmhe.jobNonce(patient.address)).to.equal(2n);
      expect((await pmhe.jobOf(await expectedJobId(address, patient.address, 0n))).status).to.equal(
        JobStatus.Requested,
      );
      expect((await pmhe.jobOf(second)).status).to.equal(JobStatus.Requested);
    });

    it("keeps a separate nonce per patient", async function () {
      const { pmhe, address, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(otherPatient).anchorRecord(RECORD_2);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);

      const predicted = await expectedJobId(address, otherPatient.address, 0n);
      await expect(pmhe.connect(otherPatient).requestPrediction(RECORD_2, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(predicted, otherPatient.address, RECORD_2, MODEL_1, KEYS_1, otherPatient.address, 1n, (v: bigint) => v > 0n);
      expect(await pmhe.jobNonce(patient.address)).to.equal(2n);
      expect(await pmhe.jobNonce(otherPatient.address)).to.equal(1n);
    });

    it("emits the key bundle the record was encrypted under, not the patient's current one", async function () {
      const { pmhe, address, hospital, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(patient).anchorRecord(RECORD_2);
      await pmhe.connect(hospital).publishModel(MODEL_2, MODEL_NAME, 2, MODEL_LOC_2);

      const oldJob = await expectedJobId(address, patient.address, 0n);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(oldJob, patient.address, RECORD_1, MODEL_2, KEYS_1, patient.address, 1n, (v: bigint) => v > 0n);
      const newJob = await expectedJobId(address, patient.address, 1n);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_2, MODEL_2))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(newJob, patient.address, RECORD_2, MODEL_2, KEYS_2, patient.address, 1n, (v: bigint) => v > 0n);
      const job = await pmhe.jobOf(oldJob);
      expect(job.keyBundleHash).to.equal(KEYS_1);
      expect(job.keyVersion).to.equal(1n);
      expect((await pmhe.jobOf(newJob)).keyVersion).to.equal(2n);
    });

    it("lets a hospital with an active consent request on the patient's record, using the patient's nonce", async function () {
      const { pmhe, address, hospital, patient } = await loadFixture(consentFixture);
      const predicted = await expectedJobId(address, patient.address, 0n);
      expect(await pmhe.nextJobId(patient.address)).to.equal(predicted);
      const t = await nextTimestamp();
      await expect(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(
          predicted,
          patient.address,
          RECORD_1,
          MODEL_1,
          KEYS_1,
          hospital.address,
          1n,
          BigInt(t) + DEFAULT_TIMEOUT,
        );
      const job = await pmhe.jobOf(predicted);
      expect(job.requester).to.equal(hospital.address);
      expect(job.patient).to.equal(patient.address);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
      expect(await pmhe.jobNonce(hospital.address)).to.equal(0n);
    });

    it("reverts NotAuthorizedRequester for accounts that are neither the patient nor a consented hospital", async function () {
      const { pmhe, admin, otherHospital, coprocessor, otherPatient, stranger } = await loadFixture(consentFixture);
      for (const account of [stranger, otherPatient, admin, coprocessor, otherHospital]) {
        await expect(pmhe.connect(account).requestPrediction(RECORD_1, MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
          .withArgs(RECORD_1, account.address);
      }
    });

    it("refuses a hospital once its consent expires (time travel)", async function () {
      const { pmhe, patient, hospital } = await loadFixture(recordAndModelFixture);
      const expiresAt = (await time.latest()) + 100;
      await pmhe.connect(patient).grantConsent(hospital.address, expiresAt, false);
      await time.setNextBlockTimestamp(expiresAt - 1);
      await expect(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1)).to.emit(pmhe, "PredictionRequested");
      await time.setNextBlockTimestamp(expiresAt);
      await expect(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(RECORD_1, hospital.address);
    });

    it("refuses a hospital once the patient revokes its consent", async function () {
      const { pmhe, patient, hospital } = await loadFixture(consentFixture);
      await pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(patient).revokeConsent(hospital.address);
      await expect(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(RECORD_1, hospital.address);
    });

    it("refuses a consented account that no longer holds HOSPITAL_ROLE", async function () {
      const { pmhe, admin, hospital } = await loadFixture(consentFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(RECORD_1, hospital.address);
    });

    it("reverts UnknownRecord for a record never anchored", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_2, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(RECORD_2);
    });

    it("reverts RecordIsErased for an erased record, whoever requests", async function () {
      const { pmhe, patient, hospital } = await loadFixture(consentFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      for (const account of [patient, hospital]) {
        await expect(pmhe.connect(account).requestPrediction(RECORD_1, MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
          .withArgs(RECORD_1);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("reverts UnknownModel for a model never published", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(MODEL_2);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("jobNonce is 0 for an address that never had a job", async function () {
      const { pmhe, stranger, otherPatient } = await loadFixture(pendingJobFixture);
      expect(await pmhe.jobNonce(stranger.address)).to.equal(0n);
      expect(await pmhe.jobNonce(otherPatient.address)).to.equal(0n);
    });

    it("jobOf reverts UnknownJob for an id not requested yet", async function () {
      const { pmhe, patient } = await loadFixture(pendingJobFixture);
      const notYet = await pmhe.nextJobId(patient.address);
      await expect(pmhe.jobOf(notYet)).to.be.revertedWithCustomError(pmhe, "UnknownJob").withArgs(notYet);
    });
  });

  describe("requestBatchPrediction", function () {
    it("creates a job on each record of a batch, with the batch's key bundle and root", async function () {
      const { pmhe, address, patient, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      for (const [i, recordHash] of BATCH_RECORDS.entries()) {
        const jobId = await expectedJobId(address, patient.address, BigInt(i));
        const t = await nextTimestamp();
        const tx = pmhe.connect(patient).requestBatchPrediction(tree.root, recordHash, tree.proofOf(recordHash), MODEL_1);
        await expect(tx)
          .to.emit(pmhe, "PredictionRequested")
          .withArgs(jobId, patient.address, recordHash, MODEL_1, KEYS_1, patient.address, 1n, BigInt(t) + DEFAULT_TIMEOUT);
        await expect(tx).to.emit(pmhe, "PredictionRequestedFromBatch").withArgs(jobId, tree.root);

        const job = await pmhe.jobOf(jobId);
        expect(job.recordHash).to.equal(recordHash);
        expect(job.batchRoot).to.equal(tree.root);
        expect(job.patient).to.equal(patient.address);
        expect(job.keyBundleHash).to.equal(KEYS_1);
        expect(job.keyVersion).to.equal(1n);
        expect(job.requester).to.equal(patient.address);
        expect(job.status).to.equal(JobStatus.Requested);
      }
    });

    it("lets a consented hospital request on a batch record", async function () {
      const { pmhe, address, patient, hospital, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).grantConsent(hospital.address, (await time.latest()) + DAY, false);
      const recordHash = BATCH_RECORDS[1]!;
      const jobId = await expectedJobId(address, patient.address, 0n);
      await expect(
        pmhe.connect(hospital).requestBatchPrediction(tree.root, recordHash, tree.proofOf(recordHash), MODEL_1),
      )
        .to.emit(pmhe, "PredictionRequestedFromBatch")
        .withArgs(jobId, tree.root);
      expect((await pmhe.jobOf(jobId)).requester).to.equal(hospital.address);
    });

    it("reverts InvalidProof for tampered proofs and records outside the batch", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS as [Hash, Hash, Hash];
      const proof = tree.proofOf(a);
      const cases: [Hash, Hash[]][] = [
        [a, proof.map((p, i) => (i === proof.length - 1 ? flip(p) : p))],
        [a, proof.slice(1)],
        [b, proof],
        [RECORD_1, proof],
      ];
      for (const [recordHash, p] of cases) {
        await expect(pmhe.connect(patient).requestBatchPrediction(tree.root, recordHash, p, MODEL_1))
          .to.be.revertedWithCustomError(pmhe, "InvalidProof")
          .withArgs(tree.root, recordHash);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("reverts UnknownBatch for a root never anchored", async function () {
      const { pmhe, patient } = await loadFixture(batchFixture);
      const lone = buildRecordTree([RECORD_2]);
      await expect(pmhe.connect(patient).requestBatchPrediction(lone.root, RECORD_2, [], MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(lone.root);
    });

    it("reverts NotAuthorizedRequester for accounts without the right to the batch", async function () {
      const { pmhe, hospital, otherPatient, stranger, tree } = await loadFixture(batchFixture);
      const recordHash = BATCH_RECORDS[0]!;
      for (const account of [hospital, otherPatient, stranger]) {
        await expect(
          pmhe.connect(account).requestBatchPrediction(tree.root, recordHash, tree.proofOf(recordHash), MODEL_1),
        )
          .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
          .withArgs(tree.root, account.address);
      }
    });

    it("reverts RecordIsErased for an erased batch", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).eraseBatch(tree.root);
      const recordHash = BATCH_RECORDS[0]!;
      await expect(pmhe.connect(patient).requestBatchPrediction(tree.root, recordHash, tree.proofOf(recordHash), MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(tree.root);
    });

    it("reverts UnknownModel and ModelIsDeprecated", async function () {
      const { pmhe, patient, hospital, tree } = await loadFixture(batchFixture);
      const recordHash = BATCH_RECORDS[2]!;
      const proof = tree.proofOf(recordHash);
      await expect(pmhe.connect(patient).requestBatchPrediction(tree.root, recordHash, proof, MODEL_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(MODEL_2);
      await pmhe.connect(hospital).deprecateModel(MODEL_1);
      await expect(pmhe.connect(patient).requestBatchPrediction(tree.root, recordHash, proof, MODEL_1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(MODEL_1);
    });
  });

  describe("commitResult (quorum 1)", function () {
    it("finalizes a pending job with the result hash", async function () {
      const { pmhe, coprocessor, patient, jobId, requestedAt } = await loadFixture(pendingJobFixture);
      const tx = pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(tx).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor.address, RESULT_1, 1n);
      await expect(tx).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 1n);
      await expect(tx).to.not.emit(pmhe, "ResultConflict");

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(job.failureReason).to.equal(0n);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
      expect(job.requestedAt).to.equal(BigInt(requestedAt));
      expect(await pmhe.voteOf(jobId, coprocessor.address)).to.equal(RESULT_1);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(1n);
      expect(await pmhe.conflictCount(jobId)).to.equal(0n);
    });

    it("refuses accounts without COPROCESSOR_ROLE, including the admin, the hospital, the requester and a removed coprocessor", async function () {
      const { pmhe, admin, hospital, patient, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, coprocessor.address);
      for (const account of [admin, hospital, patient, coprocessor]) {
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

    it("reverts ReservedResultHash for hashes in 1..0xffff (the failure-vote range)", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      for (const value of [1, FailureReason.EvaluationError, 0xffff]) {
        await expect(pmhe.connect(coprocessor).commitResult(jobId, failureVote(value)))
          .to.be.revertedWithCustomError(pmhe, "ReservedResultHash")
          .withArgs(failureVote(value));
      }
      await expect(pmhe.connect(coprocessor).commitResult(jobId, failureVote(0x10000)))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, failureVote(0x10000), 1n);
    });

    it("reverts AlreadyVoted when the finalizing coprocessor votes again, by commit or failure", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_2))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, coprocessor.address);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, coprocessor.address);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, coprocessor.address);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(1n);
    });

    it("records a late agreeing commit without finalizing twice", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      const tx = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_1);
      await expect(tx).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_1, 2n);
      await expect(tx).to.not.emit(pmhe, "JobFinalized");
      await expect(tx).to.not.emit(pmhe, "ResultConflict");
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(2n);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
    });

    it("records a late dissenting commit as a conflict without changing the result", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      const tx = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(tx).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_2, 1n);
      await expect(tx).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, RESULT_2, RESULT_1);
      await expect(tx).to.not.emit(pmhe, "JobFinalized");

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(await pmhe.voteOf(jobId, coprocessor2.address)).to.equal(RESULT_2);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("reverts JobNotPending(Failed) for a commit after a failure", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError);
      await expect(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
    });

    it("still finalizes a job past its deadline until someone expires it", async function () {
      const { pmhe, coprocessor, jobId, deadline } = await loadFixture(pendingJobFixture);
      await time.increaseTo(deadline + 10n);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 1n);
    });

    it("voteOf, voteCount and conflictCount are zero before any vote and for unknown jobs", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      const unknown = h("no-such-job");
      for (const id of [jobId, unknown]) {
        expect(await pmhe.voteOf(id, coprocessor.address)).to.equal(ethers.ZeroHash);
        expect(await pmhe.voteCount(id, RESULT_1)).to.equal(0n);
        expect(await pmhe.voteCount(id, ethers.ZeroHash)).to.equal(0n);
        expect(await pmhe.conflictCount(id)).to.equal(0n);
      }
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      expect(await pmhe.voteCount(jobId, ethers.ZeroHash)).to.equal(0n);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(0n);
    });

    it("finalizes jobs independently of each other", async function () {
      const { pmhe, coprocessor, patient, jobId } = await loadFixture(pendingJobFixture);
      const second = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(coprocessor).commitResult(second, RESULT_2);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
      expect((await pmhe.jobOf(second)).resultHash).to.equal(RESULT_2);
    });
  });

  describe("reportFailure (quorum 1)", function () {
    it("marks a pending job as failed with the reason", async function () {
      const { pmhe, coprocessor, patient, jobId } = await loadFixture(pendingJobFixture);
      const tx = pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.ModelHashMismatch);
      await expect(tx)
        .to.emit(pmhe, "FailureReported")
        .withArgs(jobId, coprocessor.address, FailureReason.ModelHashMismatch, 1n);
      await expect(tx).to.emit(pmhe, "JobFailed").withArgs(jobId, FailureReason.ModelHashMismatch, 1n);

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.failureReason).to.equal(BigInt(FailureReason.ModelHashMismatch));
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(job.recordHash).to.equal(RECORD_1);
      expect(job.modelHash).to.equal(MODEL_1);
      expect(job.requester).to.equal(patient.address);
      expect(await pmhe.voteOf(jobId, coprocessor.address)).to.equal(failureVote(FailureReason.ModelHashMismatch));
      expect(await pmhe.voteCount(jobId, failureVote(FailureReason.ModelHashMismatch))).to.equal(1n);
    });

    it("stores the full uint16 range of reason codes", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, 0xffff))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, 0xffff, 1n);
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

    it("records a late failure report on a finalized job as a conflict, keeping the result", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      const tx = pmhe.connect(coprocessor2).reportFailure(jobId, FailureReason.EvaluationError);
      await expect(tx)
        .to.emit(pmhe, "FailureReported")
        .withArgs(jobId, coprocessor2.address, FailureReason.EvaluationError, 1n);
      await expect(tx)
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor2.address, failureVote(FailureReason.EvaluationError), RESULT_1);
      await expect(tx).to.not.emit(pmhe, "JobFailed");
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(job.failureReason).to.equal(0n);
    });

    it("reverts JobNotPending(Failed) for a report by another coprocessor and AlreadyVoted for the same", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.RecordBlobMissing);
      await expect(pmhe.connect(coprocessor2).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      expect((await pmhe.jobOf(jobId)).failureReason).to.equal(BigInt(FailureReason.RecordBlobMissing));
    });

    it("reverts AlreadyVoted for a failure report after the same coprocessor's commit on a pending job", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, coprocessor.address);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, coprocessor.address);
    });
  });

  describe("quorum k = 2 with three coprocessors", function () {
    it("finalizes with the honest hash when the dissenter votes in between, and records the conflict", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      expect((await pmhe.jobOf(jobId)).quorum).to.equal(2n);

      const first = pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(first).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor.address, RESULT_1, 1n);
      await expect(first).to.not.emit(pmhe, "JobFinalized");
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(ethers.ZeroHash);

      const dissent = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(dissent).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_2, 1n);
      await expect(dissent).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, RESULT_2, RESULT_1);
      await expect(dissent).to.not.emit(pmhe, "JobFinalized");

      const decisive = pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);
      await expect(decisive).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor3.address, RESULT_1, 2n);
      await expect(decisive).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      await expect(decisive).to.not.emit(pmhe, "ResultConflict");

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(2n);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(1n);
      expect(await pmhe.voteOf(jobId, coprocessor2.address)).to.equal(RESULT_2);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("records a late dissent after finalization without changing the final hash", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 2n);

      const late = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(late).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_2, 1n);
      await expect(late).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, RESULT_2, RESULT_1);
      await expect(late).to.not.emit(pmhe, "JobFinalized");

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(await pmhe.voteOf(jobId, coprocessor2.address)).to.equal(RESULT_2);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("finalizes with the honest hash when the dissenter votes first", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, coprocessor3, stranger, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor.address, RESULT_1, RESULT_2);
      const decisive = pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);
      await expect(decisive).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      // Before finalization the reference is the first vote, so the decisive vote also differs from it.
      await expect(decisive).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor3.address, RESULT_1, RESULT_2);

      const job = await pmhe.jobOf(jobId);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(2n);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(1n);
      expect(await pmhe.conflictCount(jobId)).to.equal(2n);

      // After finalization the reference is the final hash: a late agreeing vote is no conflict.
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address);
      const late = pmhe.connect(stranger).commitResult(jobId, RESULT_1);
      await expect(late).to.emit(pmhe, "ResultCommitted").withArgs(jobId, stranger.address, RESULT_1, 3n);
      await expect(late).to.not.emit(pmhe, "ResultConflict");
      expect(await pmhe.conflictCount(jobId)).to.equal(2n);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
    });

    it("fails the job when two coprocessors report the same reason, recording a differing reason as a conflict", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      const miss = FailureReason.RecordBlobMissing;
      const bad = FailureReason.MalformedRecord;
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, miss))
        .to.emit(pmhe, "FailureReported")
        .withArgs(jobId, coprocessor.address, miss, 1n);
      const other = pmhe.connect(coprocessor2).reportFailure(jobId, bad);
      await expect(other).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor2.address, bad, 1n);
      await expect(other)
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor2.address, failureVote(bad), failureVote(miss));
      await expect(other).to.not.emit(pmhe, "JobFailed");
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);

      const decisive = pmhe.connect(coprocessor3).reportFailure(jobId, miss);
      await expect(decisive).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor3.address, miss, 2n);
      await expect(decisive).to.emit(pmhe, "JobFailed").withArgs(jobId, miss, 2n);

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.failureReason).to.equal(BigInt(miss));
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("fails with the second reason when it reaches quorum first, and refuses later votes", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, coprocessor3, stranger, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(pmhe.connect(coprocessor2).reportFailure(jobId, FailureReason.EvaluationError))
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor2.address, failureVote(FailureReason.EvaluationError), RESULT_1);
      await expect(pmhe.connect(coprocessor3).reportFailure(jobId, FailureReason.EvaluationError))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, FailureReason.EvaluationError, 2n);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Failed);
      expect(job.failureReason).to.equal(BigInt(FailureReason.EvaluationError));
      expect(job.resultHash).to.equal(ethers.ZeroHash);

      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address);
      await expect(pmhe.connect(stranger).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
    });

    it("finalizes when results outvote an earlier failure report", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError);
      await expect(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor2.address, RESULT_1, failureVote(FailureReason.EvaluationError));
      await expect(pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 2n);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(job.failureReason).to.equal(0n);
    });

    it("lets a job expire when the votes never agree", async function () {
      const { pmhe, coprocessor, coprocessor2, stranger, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      const { deadline } = await pmhe.jobOf(jobId);
      await time.increaseTo(deadline);
      await expect(pmhe.connect(stranger).expireJob(jobId))
        .to.emit(pmhe, "JobExpired")
        .withArgs(jobId, stranger.address);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(ethers.ZeroHash);
    });

    it("lets the event log alone rebuild the job's history", async function () {
      const { pmhe, hospital, patient, coprocessor, coprocessor2, coprocessor3, jobId } =
        await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);

      const [requested] = await pmhe.queryFilter(pmhe.filters.PredictionRequested(jobId));
      expect(requested?.args.requester).to.equal(patient.address);
      expect(requested?.args.patient).to.equal(patient.address);
      expect(requested?.args.recordHash).to.equal(RECORD_1);
      expect(requested?.args.keyBundleHash).to.equal(KEYS_1);
      expect(requested?.args.quorum).to.equal(2n);

      const [published] = await pmhe.queryFilter(pmhe.filters.ModelPublished(requested!.args.modelHash));
      expect(published?.args.publisher).to.equal(hospital.address);
      expect(published?.args.name).to.equal(MODEL_NAME);
      expect(published?.args.version).to.equal(1n);

      const commits = await pmhe.queryFilter(pmhe.filters.ResultCommitted(jobId));
      expect(commits.map((e) => [e.args.coprocessor, e.args.resultHash, e.args.votes])).to.deep.equal([
        [coprocessor2.address, RESULT_2, 1n],
        [coprocessor.address, RESULT_1, 1n],
        [coprocessor3.address, RESULT_1, 2n],
      ]);
      const conflicts = await pmhe.queryFilter(pmhe.filters.ResultConflict(jobId));
      expect(conflicts.map((e) => [e.args.coprocessor, e.args.resultHash, e.args.conflictingWith])).to.deep.equal([
        [coprocessor.address, RESULT_1, RESULT_2],
        [coprocessor3.address, RESULT_1, RESULT_2],
      ]);
      const finals = await pmhe.queryFilter(pmhe.filters.JobFinalized(jobId));
      expect(finals.map((e) => e.args.resultHash)).to.deep.equal([RESULT_1]);
      expect(await pmhe.queryFilter(pmhe.filters.JobFailed(jobId))).to.have.length(0);
      expect(await pmhe.queryFilter(pmhe.filters.JobExpired(jobId))).to.have.length(0);
    });
  });

  describe("expireJob", function () {
    it("lets anyone expire a pending job once its deadline has passed", async function () {
      const { pmhe, stranger, jobId, deadline } = await loadFixture(pendingJobFixture);
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(pmhe.connect(stranger).expireJob(jobId)).to.emit(pmhe, "JobExpired").withArgs(jobId, stranger.address);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Expired);
      expect(job.deadline).to.equal(deadline);
      expect(job.resultHash).to.equal(ethers.ZeroHash);
      expect(job.failureReason).to.equal(0n);
    });

    it("reverts JobNotExpirable before and at the deadline", async function () {
      const { pmhe, stranger, jobId, deadline } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(stranger).expireJob(jobId))
        .to.be.revertedWithCustomError(pmhe, "JobNotExpirable")
        .withArgs(jobId, deadline);
      await time.setNextBlockTimestamp(deadline);
      await expect(pmhe.connect(stranger).expireJob(jobId))
        .to.be.revertedWithCustomError(pmhe, "JobNotExpirable")
        .withArgs(jobId, deadline);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("reverts UnknownJob for an unknown id", async function () {
      const { pmhe, stranger } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(stranger).expireJob(h("no-such-job")))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(h("no-such-job"));
    });

    it("reverts JobNotPending for finalized, failed and already expired jobs", async function () {
      const { pmhe, coprocessor, patient, stranger, jobId, deadline } = await loadFixture(pendingJobFixture);
      const failed = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      const expired = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor).reportFailure(failed, FailureReason.EvaluationError);
      await time.increaseTo(deadline + 10_000n);
      await pmhe.connect(stranger).expireJob(expired);
      for (const [id, status] of [
        [jobId, JobStatus.Finalized],
        [failed, JobStatus.Failed],
        [expired, JobStatus.Expired],
      ] as const) {
        await expect(pmhe.connect(stranger).expireJob(id))
          .to.be.revertedWithCustomError(pmhe, "JobNotPending")
          .withArgs(id, status);
      }
    });

    it("refuses votes on an expired job with JobNotPending(Expired)", async function () {
      const { pmhe, coprocessor, stranger, jobId, deadline } = await loadFixture(pendingJobFixture);
      await time.increaseTo(deadline + 1n);
      await pmhe.connect(stranger).expireJob(jobId);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Expired);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Expired);
    });
  });

  describe("shareResult / sharedResultOf", function () {
    it("lets the patient share a finalized result with a consented hospital", async function () {
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

    it("shares the result of a job requested by the hospital, and of a batch job", async function () {
      const { pmhe, patient, hospital, coprocessor, expiresAt } = await loadFixture(finalizedJobFixture);
      const tree = buildRecordTree([RECORD_2]);
      await pmhe.connect(patient).anchorBatch(tree.root, 1);
      const batchJob = await pmhe.nextJobId(patient.address);
      await pmhe.connect(hospital).requestBatchPrediction(tree.root, RECORD_2, tree.proofOf(RECORD_2), MODEL_1);
      await pmhe.connect(coprocessor).commitResult(batchJob, RESULT_2);
      expect((await pmhe.consentOf(patient.address, hospital.address))[0]).to.equal(expiresAt);
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

    it("reverts NotJobPatient for anyone but the job's patient", async function () {
      const { pmhe, admin, hospital, otherPatient, stranger, jobId } = await loadFixture(finalizedJobFixture);
      for (const account of [hospital, otherPatient, stranger, admin]) {
        await expect(pmhe.connect(account).shareResult(jobId, hospital.address, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "NotJobPatient")
          .withArgs(jobId, account.address);
      }
    });

    it("reverts JobNotFinalized for pending, failed and expired jobs", async function () {
      const { pmhe, patient, hospital, coprocessor, stranger } = await loadFixture(finalizedJobFixture);
      const pending = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      const failed = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
      await pmhe.connect(coprocessor).reportFailure(failed, FailureReason.EvaluationError);
      const expired = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1);
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
      await expect(
        pmhe.connect(patient).shareResult(jobId, hospital.address, ethers.ZeroHash, SHARED_LOC),
      ).to.be.revertedWithCustomError(pmhe, "ZeroHash");
    });

    it("reverts NotAHospital for accounts without HOSPITAL_ROLE, including a removed hospital", async function () {
      const { pmhe, admin, patient, hospital, stranger, jobId } = await loadFixture(finalizedJobFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [stranger.address, hospital.address]) {
        await expect(pmhe.connect(patient).shareResult(jobId, account, SHARED_1, SHARED_LOC))
          .to.be.revertedWithCustomError(pmhe, "NotAHospital")
          .withArgs(account);
      }
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

  describe("gas budgets", function () {
    before(function () {
      // Coverage instrumentation adds gas to every call, so the budgets only hold on uninstrumented runs.
      if (globalOptions.coverage) this.skip();
    });

    const gasOf = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<number> => {
      const receipt = await (await tx).wait();
      if (!receipt) throw new Error("no receipt");
      return Number(receipt.gasUsed);
    };

    it("anchorRecord costs at most 60k", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      expect(await gasOf(pmhe.connect(patient).anchorRecord(RECORD_2))).to.be.at.most(60_000);
    });

    it("anchorBatch costs at most 70k whatever the count", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      expect(await gasOf(pmhe.connect(patient).anchorBatch(h("root-1"), 1))).to.be.at.most(70_000);
      expect(await gasOf(pmhe.connect(patient).anchorBatch(h("root-2"), MAX_BATCH_SIZE))).to.be.at.most(70_000);
    });

    it("requestPrediction costs at most 120k, for a patient's first and later requests and for a hospital's first", async function () {
      const { pmhe, patient, hospital } = await loadFixture(consentFixture);
      expect(await gasOf(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))).to.be.at.most(120_000);
      expect(await gasOf(pmhe.connect(patient).requestPrediction(RECORD_1, MODEL_1))).to.be.at.most(120_000);
      expect(await gasOf(pmhe.connect(hospital).requestPrediction(RECORD_1, MODEL_1))).to.be.at.most(120_000);
    });

    it("commitResult at quorum 1 costs at most 80k", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      expect(await gasOf(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))).to.be.at.most(80_000);
    });
  });
});
