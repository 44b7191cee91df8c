import { expect } from "chai";

import {
  DAY,
  HOSPITAL_ROLE,
  RECORD_1,
  consentFixture,
  ethers,
  loadFixture,
  nextTimestamp,
  recordAndModelFixture,
  time,
} from "./fixtures.js";

describe("PMHE: consents", function () {
  describe("grantConsent / revokeConsent / consentOf", function () {
    it("lets a patient grant a hospital a consent", async function () {
      const { pmhe, patient, hospital } = await loadFixture(recordAndModelFixture);
      const expiresAt = BigInt((await time.latest()) + DAY);
      await expect(pmhe.connect(patient).grantConsent(hospital.address, expiresAt, false))
        .to.emit(pmhe, "ConsentGranted")
        .withArgs(patient.address, hospital.address, expiresAt, false);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([expiresAt, false, true]);
    });

    it("replaces a consent when granted again, expiry and result permission alike (shorter too)", async function () {
      const { pmhe, patient, hospital, expiresAt } = await loadFixture(consentFixture);
      const later = expiresAt + BigInt(DAY);
      await expect(pmhe.connect(patient).grantConsent(hospital.address, later, false))
        .to.emit(pmhe, "ConsentGranted")
        .withArgs(patient.address, hospital.address, later, false);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([later, false, true]);
      const sooner = BigInt((await time.latest()) + 60);
      await pmhe.connect(patient).grantConsent(hospital.address, sooner, true);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([sooner, true, true]);
    });

    it("is per (patient, hospital)", async function () {
      const { pmhe, patient, otherPatient, hospital, otherHospital } = await loadFixture(consentFixture);
      for (const [p, hosp] of [
        [otherPatient, hospital],
        [patient, otherHospital],
      ] as const) {
        expect(await pmhe.consentOf(p.address, hosp.address)).to.deep.equal([0n, false, false]);
      }
    });

    it("becomes inactive at its expiry, keeping its values", async function () {
      const { pmhe, patient, hospital, expiresAt } = await loadFixture(consentFixture);
      await time.increaseTo(expiresAt - 1n);
      expect((await pmhe.consentOf(patient.address, hospital.address))[2]).to.equal(true);
      await time.increaseTo(expiresAt);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([expiresAt, true, false]);
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
      expect((await pmhe.consentOf(patient.address, hospital.address))[2]).to.equal(false);
    });

    it("lets a patient revoke an active consent at any time", async function () {
      const { pmhe, patient, hospital } = await loadFixture(consentFixture);
      await expect(pmhe.connect(patient).revokeConsent(hospital.address))
        .to.emit(pmhe, "ConsentRevoked")
        .withArgs(patient.address, hospital.address);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([0n, false, false]);
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

    it("a consent stays recorded when the hospital is removed, but authorizes nothing until it is registered again", async function () {
      const { pmhe, admin, patient, hospital, model1, expiresAt } = await loadFixture(consentFixture);
      await pmhe.connect(admin).revokeRole(HOSPITAL_ROLE, hospital.address);
      expect(await pmhe.consentOf(patient.address, hospital.address)).to.deep.equal([expiresAt, true, true]);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(patient.address, RECORD_1, hospital.address);
      await pmhe.connect(admin).grantRole(HOSPITAL_ROLE, hospital.address);
      await expect(pmhe.connect(hospital).requestPrediction(patient.address, RECORD_1, model1)).to.emit(
        pmhe,
        "PredictionRequested",
      );
    });
  });
});
