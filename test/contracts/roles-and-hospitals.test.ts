import { expect } from "chai";

import {
  COPROCESSOR_ROLE,
  DEFAULT_ADMIN_ROLE,
  DEFAULT_QUORUM,
  DEFAULT_TIMEOUT,
  HOSPITAL_KEY_1,
  HOSPITAL_KEY_2,
  HOSPITAL_NAME_1,
  HOSPITAL_NAME_2,
  HOSPITAL_ROLE,
  JobStatus,
  KEYS_1,
  MAX_BATCH_SIZE,
  MAX_COMMIT_BATCH,
  MAX_JOB_TIMEOUT,
  MAX_OPERATORS,
  RECORD_1,
  RESULT_1,
  deployFixture,
  ethers,
  loadFixture,
  networkHelpers,
  nextTimestamp,
  pendingJobFixture,
  recordAndModelFixture,
} from "./fixtures.js";

/** A distinct address per index that no test signer uses. */
const operatorAddress = (i: number): string => ethers.getAddress(ethers.zeroPadValue(ethers.toBeHex(0x10000 + i), 20));

/**
 * As {@link recordAndModelFixture}, with every operator index in use: the fixture's coprocessor (index 0) and
 * MAX_OPERATORS - 1 further accounts (indexes 1..254), the last of which is returned.
 */
async function allOperatorsFixture() {
  const f = await recordAndModelFixture();
  const extra: string[] = [];
  for (let i = 1; i < MAX_OPERATORS; i++) {
    extra.push(operatorAddress(i));
    await f.pmhe.connect(f.admin).grantRole(COPROCESSOR_ROLE, operatorAddress(i));
  }
  return { ...f, extra, last: extra[extra.length - 1]! };
}

describe("PMHE: deployment, roles and hospitals", function () {
  describe("deployment", function () {
    it("grants DEFAULT_ADMIN_ROLE to the constructor's admin only", async function () {
      const { pmhe, admin, hospital, coprocessor } = await loadFixture(deployFixture);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, hospital.address)).to.equal(false);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, coprocessor.address)).to.equal(false);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, admin.address)).to.equal(false);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, admin.address)).to.equal(false);
    });

    it("deploys for an admin that is not the deployer, with the given quorum and timeout announced from 0", async function () {
      const { admin, stranger } = await loadFixture(deployFixture);
      const pmhe = await ethers.deployContract("PMHE", [stranger.address, 3, 600], admin);
      const deployment = pmhe.deploymentTransaction();
      await expect(deployment).to.emit(pmhe, "QuorumChanged").withArgs(0n, 3n);
      await expect(deployment).to.emit(pmhe, "JobTimeoutChanged").withArgs(0n, 600n);
      await expect(deployment)
        .to.emit(pmhe, "RoleGranted")
        .withArgs(DEFAULT_ADMIN_ROLE, stranger.address, admin.address);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, stranger.address)).to.equal(true);
      expect(await pmhe.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(false);
      expect(await pmhe.quorum()).to.equal(3n);
      expect(await pmhe.jobTimeout()).to.equal(600n);
    });

    it("the fixture deploys with quorum 1 and timeout 3600", async function () {
      const { pmhe } = await loadFixture(deployFixture);
      const deployment = pmhe.deploymentTransaction();
      await expect(deployment).to.emit(pmhe, "QuorumChanged").withArgs(0n, DEFAULT_QUORUM);
      await expect(deployment).to.emit(pmhe, "JobTimeoutChanged").withArgs(0n, DEFAULT_TIMEOUT);
      expect(await pmhe.quorum()).to.equal(DEFAULT_QUORUM);
      expect(await pmhe.jobTimeout()).to.equal(DEFAULT_TIMEOUT);
    });

    it("accepts the bounds: quorum 255, timeouts 1 and MAX_JOB_TIMEOUT", async function () {
      const { admin } = await loadFixture(deployFixture);
      for (const [q, t] of [
        [255n, 1n],
        [1n, MAX_JOB_TIMEOUT],
      ] as const) {
        const pmhe = await ethers.deployContract("PMHE", [admin.address, q, t]);
        expect(await pmhe.quorum()).to.equal(q);
        expect(await pmhe.jobTimeout()).to.equal(t);
      }
    });

    it("reverts InvalidQuorum for quorum 0", async function () {
      const { admin } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("PMHE");
      await expect(factory.deploy(admin.address, 0, DEFAULT_TIMEOUT))
        .to.be.revertedWithCustomError(factory, "InvalidQuorum")
        .withArgs(0n);
    });

    it("reverts InvalidJobTimeout for timeout 0 and above MAX_JOB_TIMEOUT", async function () {
      const { admin } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("PMHE");
      for (const t of [0n, MAX_JOB_TIMEOUT + 1n]) {
        await expect(factory.deploy(admin.address, 1, t))
          .to.be.revertedWithCustomError(factory, "InvalidJobTimeout")
          .withArgs(t);
      }
    });

    it("reverts ZeroAddress for a zero admin", async function () {
      const factory = await ethers.getContractFactory("PMHE");
      await expect(factory.deploy(ethers.ZeroAddress, 1, DEFAULT_TIMEOUT)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
    });

    it("exposes the role identifiers and limits", async function () {
      const { pmhe } = await loadFixture(deployFixture);
      expect(await pmhe.HOSPITAL_ROLE()).to.equal(HOSPITAL_ROLE);
      expect(await pmhe.COPROCESSOR_ROLE()).to.equal(COPROCESSOR_ROLE);
      expect(HOSPITAL_ROLE).to.not.equal(COPROCESSOR_ROLE);
      expect(await pmhe.MAX_JOB_TIMEOUT()).to.equal(MAX_JOB_TIMEOUT);
      expect(await pmhe.MAX_BATCH_SIZE()).to.equal(MAX_BATCH_SIZE);
      expect(await pmhe.MAX_COMMIT_BATCH()).to.equal(BigInt(MAX_COMMIT_BATCH));
      expect(await pmhe.MAX_OPERATORS()).to.equal(BigInt(MAX_OPERATORS));
    });
  });

  describe("roles", function () {
    it("gives the fixture's accounts their roles", async function () {
      const { pmhe, hospital, otherHospital, coprocessor } = await loadFixture(deployFixture);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(true);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, otherHospital.address)).to.equal(true);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, coprocessor.address)).to.equal(true);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, hospital.address)).to.equal(false);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, coprocessor.address)).to.equal(false);
    });

    it("refuses role grants and revocations from accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { pmhe, hospital, coprocessor, stranger } = await loadFixture(deployFixture);
      for (const account of [hospital, coprocessor, stranger]) {
        await expect(pmhe.connect(account).grantRole(COPROCESSOR_ROLE, stranger.address))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
        await expect(pmhe.connect(account).revokeRole(COPROCESSOR_ROLE, coprocessor.address))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, stranger.address)).to.equal(false);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, coprocessor.address)).to.equal(true);
    });

    it("a coprocessor that renounces its role can no longer vote", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).renounceRole(COPROCESSOR_ROLE, coprocessor.address);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
        .withArgs(coprocessor.address, COPROCESSOR_ROLE);
    });
  });

  describe("operator accounts (at most MAX_OPERATORS ever)", function () {
    it("reverts TooManyOperators for a new account once MAX_OPERATORS accounts have been granted the role", async function () {
      const { pmhe, admin, stranger } = await loadFixture(allOperatorsFixture);
      await expect(pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address))
        .to.be.revertedWithCustomError(pmhe, "TooManyOperators")
        .withArgs(stranger.address);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, stranger.address)).to.equal(false);
    });

    it("never reuses an index: after a revocation a new account is still refused, the revoked one can be granted again", async function () {
      const { pmhe, admin, coprocessor, stranger, extra } = await loadFixture(allOperatorsFixture);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, extra[10]!);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, coprocessor.address);
      await expect(pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address))
        .to.be.revertedWithCustomError(pmhe, "TooManyOperators")
        .withArgs(stranger.address);
      await expect(pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, extra[10]!))
        .to.emit(pmhe, "RoleGranted")
        .withArgs(COPROCESSOR_ROLE, extra[10]!, admin.address);
      await expect(pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor.address)).to.not.revert(ethers);
      expect(await pmhe.hasRole(COPROCESSOR_ROLE, coprocessor.address)).to.equal(true);
    });

    it("granting the role to an account that holds it uses no index and is a no-op", async function () {
      const { pmhe, admin, coprocessor } = await loadFixture(allOperatorsFixture);
      await expect(pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor.address)).to.not.emit(pmhe, "RoleGranted");
    });

    it("counts the vote of the operator with the last index (254) like any other", async function () {
      const { pmhe, admin, patient, coprocessor, model1, last } = await loadFixture(allOperatorsFixture);
      await pmhe.connect(admin).setQuorum(2);
      const jobId = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);

      await networkHelpers.impersonateAccount(last);
      await networkHelpers.setBalance(last, 10n ** 18n);
      const lastOperator = await ethers.getSigner(last);
      await expect(pmhe.connect(lastOperator).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "ResultCommitted")
        .withArgs(jobId, last, RESULT_1, 1n);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(jobId, RESULT_1, 2n);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(2n);

      // The last index's bit is cleared on revocation like any other.
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, last);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(1n);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.votes).to.equal(1n);
      await networkHelpers.stopImpersonatingAccount(last);
    });
  });

  describe("registerHospital / setHospitalKey / hospitalKeyOf", function () {
    it("registers a hospital: grants HOSPITAL_ROLE, stores its X25519 key and emits its name", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      const tx = pmhe.connect(admin).registerHospital(stranger.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1);
      await expect(tx).to.emit(pmhe, "HospitalRegistered").withArgs(stranger.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1);
      await expect(tx).to.emit(pmhe, "RoleGranted").withArgs(HOSPITAL_ROLE, stranger.address, admin.address);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(true);
      expect(await pmhe.hospitalKeyOf(stranger.address)).to.equal(HOSPITAL_KEY_1);
    });

    it("re-registering a hospital replaces its key without granting the role again", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      const tx = pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_2, "renamed");
      await expect(tx).to.emit(pmhe, "HospitalRegistered").withArgs(hospital.address, HOSPITAL_KEY_2, "renamed");
      await expect(tx).to.not.emit(pmhe, "RoleGranted");
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(HOSPITAL_KEY_2);
    });

    it("re-registering a removed hospital grants the role back", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_2, HOSPITAL_NAME_1))
        .to.emit(pmhe, "RoleGranted")
        .withArgs(HOSPITAL_ROLE, hospital.address, admin.address);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(true);
    });

    it("refuses registerHospital from accounts without DEFAULT_ADMIN_ROLE", async function () {
      const { pmhe, hospital, coprocessor, stranger } = await loadFixture(deployFixture);
      for (const account of [hospital, coprocessor, stranger]) {
        await expect(pmhe.connect(account).registerHospital(stranger.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(false);
    });

    it("registerHospital reverts ZeroAddress and ZeroKey", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      await expect(
        pmhe.connect(admin).registerHospital(ethers.ZeroAddress, HOSPITAL_KEY_1, HOSPITAL_NAME_1),
      ).to.be.revertedWithCustomError(pmhe, "ZeroAddress");
      await expect(
        pmhe.connect(admin).registerHospital(stranger.address, ethers.ZeroHash, HOSPITAL_NAME_1),
      ).to.be.revertedWithCustomError(pmhe, "ZeroKey");
      expect(await pmhe.hasRole(HOSPITAL_ROLE, stranger.address)).to.equal(false);
      await expect(pmhe.hospitalKeyOf(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
    });

    it("lets a hospital replace its own key, and only its own", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(deployFixture);
      const key = ethers.id("hospital-x25519-rotated");
      await expect(pmhe.connect(hospital).setHospitalKey(key))
        .to.emit(pmhe, "HospitalKeyUpdated")
        .withArgs(hospital.address, key);
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(key);
      expect(await pmhe.hospitalKeyOf(otherHospital.address)).to.equal(HOSPITAL_KEY_2);
    });

    it("lets a hospital granted the role directly set its first key", async function () {
      const { pmhe, admin, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, stranger.address);
      await expect(pmhe.hospitalKeyOf(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
      await expect(pmhe.connect(stranger).setHospitalKey(HOSPITAL_KEY_1))
        .to.emit(pmhe, "HospitalKeyUpdated")
        .withArgs(stranger.address, HOSPITAL_KEY_1);
      expect(await pmhe.hospitalKeyOf(stranger.address)).to.equal(HOSPITAL_KEY_1);
    });

    it("refuses setHospitalKey from accounts without HOSPITAL_ROLE, including a removed hospital", async function () {
      const { pmhe, admin, hospital, coprocessor, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      for (const account of [admin, coprocessor, stranger, hospital]) {
        await expect(pmhe.connect(account).setHospitalKey(HOSPITAL_KEY_2))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, HOSPITAL_ROLE);
      }
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(HOSPITAL_KEY_1);
    });

    it("setHospitalKey reverts ZeroKey and keeps the key", async function () {
      const { pmhe, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(hospital).setHospitalKey(ethers.ZeroHash)).to.be.revertedWithCustomError(pmhe, "ZeroKey");
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(HOSPITAL_KEY_1);
    });

    it("removing a hospital is revokeRole; its last key stays readable", async function () {
      const { pmhe, admin, hospital } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address))
        .to.emit(pmhe, "RoleRevoked")
        .withArgs(HOSPITAL_ROLE, hospital.address, admin.address);
      expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital.address)).to.equal(false);
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(HOSPITAL_KEY_1);
    });

    it("hospitalKeyOf reverts UnknownHospital for an account never registered", async function () {
      const { pmhe, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.hospitalKeyOf(stranger.address))
        .to.be.revertedWithCustomError(pmhe, "UnknownHospital")
        .withArgs(stranger.address);
    });

    it("emits both hospitals' names at registration", async function () {
      const { pmhe, hospital, otherHospital } = await loadFixture(deployFixture);
      const events = await pmhe.queryFilter(pmhe.filters.HospitalRegistered());
      expect(events.map((e) => [e.args.hospital, e.args.encryptionKey, e.args.name])).to.deep.equal([
        [hospital.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1],
        [otherHospital.address, HOSPITAL_KEY_2, HOSPITAL_NAME_2],
      ]);
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

    it("lets governance set the job timeout, from 1 up to MAX_JOB_TIMEOUT", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      await expect(pmhe.connect(admin).setJobTimeout(1)).to.emit(pmhe, "JobTimeoutChanged").withArgs(DEFAULT_TIMEOUT, 1n);
      expect(await pmhe.jobTimeout()).to.equal(1n);
      await expect(pmhe.connect(admin).setJobTimeout(MAX_JOB_TIMEOUT))
        .to.emit(pmhe, "JobTimeoutChanged")
        .withArgs(1n, MAX_JOB_TIMEOUT);
      expect(await pmhe.jobTimeout()).to.equal(MAX_JOB_TIMEOUT);
    });

    it("setJobTimeout reverts InvalidJobTimeout for 0 and above MAX_JOB_TIMEOUT", async function () {
      const { pmhe, admin } = await loadFixture(deployFixture);
      for (const t of [0n, MAX_JOB_TIMEOUT + 1n]) {
        await expect(pmhe.connect(admin).setJobTimeout(t))
          .to.be.revertedWithCustomError(pmhe, "InvalidJobTimeout")
          .withArgs(t);
      }
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
      const { pmhe, admin, patient, model1, jobId, deadline } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).setQuorum(2);
      await pmhe.connect(admin).setJobTimeout(60);
      const old = await pmhe.jobOf(jobId);
      expect(old.quorum).to.equal(1n);
      expect(old.deadline).to.equal(deadline);

      const newId = await pmhe.nextJobId(patient.address);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1))
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(newId, patient.address, RECORD_1, model1, KEYS_1, patient.address, 2n, BigInt(t) + 60n);
      const fresh = await pmhe.jobOf(newId);
      expect(fresh.quorum).to.equal(2n);
      expect(fresh.deadline).to.equal(BigInt(t) + 60n);
    });
  });
});
