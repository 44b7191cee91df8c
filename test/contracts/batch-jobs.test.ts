import { expect } from "chai";

import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree } from "../../protocol/merkle.js";
import {
  BATCH_RECORDS,
  DAY,
  DEFAULT_TIMEOUT,
  JobStatus,
  KEYS_1,
  KEYS_2,
  KEYS_LOC_2,
  MODEL_HASH_2,
  RECORD_1,
  RECORD_2,
  batchFixture,
  expectedJobId,
  flip,
  loadFixture,
  modelId,
  nextTimestamp,
  time,
} from "./fixtures.js";

/** As {@link batchFixture}, plus a consent of `patient` for `hospital` covering requests. */
async function consentedBatchFixture() {
  const f = await batchFixture();
  await f.pmhe.connect(f.patient).grantConsent(f.hospital.address, (await time.latest()) + 30 * DAY, false);
  return f;
}

describe("PMHE: batch prediction requests", function () {
  describe("requestBatchPrediction", function () {
    it("creates a job on each record of a batch, with the batch's key bundle and root", async function () {
      const { pmhe, address, patient, tree, model1 } = await loadFixture(batchFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      for (const [i, recordHash] of BATCH_RECORDS.entries()) {
        const jobId = await expectedJobId(address, patient.address, BigInt(i));
        const t = await nextTimestamp();
        const tx = pmhe
          .connect(patient)
          .requestBatchPrediction(patient.address, tree.root, recordHash, tree.proofOf(recordHash), model1);
        await expect(tx)
          .to.emit(pmhe, "PredictionRequested")
          .withArgs(jobId, patient.address, recordHash, model1, KEYS_1, patient.address, 1n, BigInt(t) + DEFAULT_TIMEOUT);
        await expect(tx).to.emit(pmhe, "PredictionRequestedFromBatch").withArgs(jobId, tree.root);

        const job = await pmhe.jobOf(jobId);
        expect([job.patient, job.recordHash, job.batchRoot, job.modelId]).to.deep.equal([
          patient.address,
          recordHash,
          tree.root,
          model1,
        ]);
        expect([job.keyBundleHash, job.keyVersion, job.status]).to.deep.equal([KEYS_1, 1n, JobStatus.Requested]);
      }
    });

    it("uses the batch's key version even when the same hash is also anchored on its own under another", async function () {
      const { pmhe, patient, tree, model1 } = await loadFixture(batchFixture);
      const a = BATCH_RECORDS[0];
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(patient).anchorRecord(a);
      const single = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, a, model1);
      const batched = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, a, tree.proofOf(a), model1);
      expect((await pmhe.jobOf(single)).keyVersion).to.equal(2n);
      expect((await pmhe.jobOf(single)).batchRoot).to.equal("0x" + "00".repeat(32));
      expect((await pmhe.jobOf(batched)).keyVersion).to.equal(1n);
      expect((await pmhe.jobOf(batched)).keyBundleHash).to.equal(KEYS_1);
    });

    it("lets a consented hospital request on a batch record; the requester is in the event only", async function () {
      const { pmhe, address, patient, hospital, tree, model1 } = await loadFixture(consentedBatchFixture);
      const recordHash = BATCH_RECORDS[1];
      const jobId = await expectedJobId(address, patient.address, 0n);
      const tx = pmhe
        .connect(hospital)
        .requestBatchPrediction(patient.address, tree.root, recordHash, tree.proofOf(recordHash), model1);
      await expect(tx)
        .to.emit(pmhe, "PredictionRequested")
        .withArgs(jobId, patient.address, recordHash, model1, KEYS_1, hospital.address, 1n, (v: bigint) => v > 0n);
      await expect(tx).to.emit(pmhe, "PredictionRequestedFromBatch").withArgs(jobId, tree.root);
      expect((await pmhe.jobOf(jobId)).patient).to.equal(patient.address);
    });

    it("reverts InvalidProof for tampered proofs and records outside the batch", async function () {
      const { pmhe, patient, tree, model1 } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS;
      const proof = tree.proofOf(a);
      const cases: [Hash, Hash[]][] = [
        [a, proof.map((p, i) => (i === proof.length - 1 ? flip(p) : p))],
        [a, proof.slice(1)],
        [b, proof],
        [RECORD_1, proof],
      ];
      for (const [recordHash, p] of cases) {
        await expect(pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, recordHash, p, model1))
          .to.be.revertedWithCustomError(pmhe, "InvalidProof")
          .withArgs(tree.root, recordHash);
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("reverts UnknownBatch(patient, root) for a root the patient never anchored", async function () {
      const { pmhe, patient, otherPatient, tree, model1 } = await loadFixture(batchFixture);
      const lone = buildRecordTree([RECORD_2]);
      await expect(pmhe.connect(patient).requestBatchPrediction(patient.address, lone.root, RECORD_2, [], model1))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(patient.address, lone.root);
      const a = BATCH_RECORDS[0];
      await expect(
        pmhe.connect(otherPatient).requestBatchPrediction(otherPatient.address, tree.root, a, tree.proofOf(a), model1),
      )
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(otherPatient.address, tree.root);
    });

    it("reverts UnknownModel and ModelIsDeprecated", async function () {
      const { pmhe, patient, hospital, tree, model1 } = await loadFixture(batchFixture);
      const recordHash = BATCH_RECORDS[2];
      const proof = tree.proofOf(recordHash);
      const unknown = modelId(hospital.address, MODEL_HASH_2);
      await expect(pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, recordHash, proof, unknown))
        .to.be.revertedWithCustomError(pmhe, "UnknownModel")
        .withArgs(unknown);
      await pmhe.connect(hospital).deprecateModel(model1);
      await expect(pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, recordHash, proof, model1))
        .to.be.revertedWithCustomError(pmhe, "ModelIsDeprecated")
        .withArgs(model1);
    });
  });

  describe("attack: a leaf of the victim's batch without the victim's consent", function () {
    it("reverts NotAuthorizedRequester(victim, root, caller) for unconsented hospitals, other patients and strangers", async function () {
      const { pmhe, patient: victim, hospital, otherPatient, stranger, tree, model1 } = await loadFixture(batchFixture);
      const a = BATCH_RECORDS[0];
      for (const account of [hospital, otherPatient, stranger]) {
        await expect(
          pmhe.connect(account).requestBatchPrediction(victim.address, tree.root, a, tree.proofOf(a), model1),
        )
          .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
          .withArgs(victim.address, tree.root, account.address);
      }
      expect(await pmhe.jobNonce(victim.address)).to.equal(0n);
    });

    it("a hospital consented by someone who anchored the same root cannot request on the victim's batch", async function () {
      const { pmhe, patient: victim, otherHospital, stranger, tree, model1 } = await loadFixture(batchFixture);
      await pmhe.connect(stranger).registerKeys(KEYS_2, KEYS_LOC_2);
      await pmhe.connect(stranger).anchorBatch(tree.root, tree.count);
      await pmhe.connect(stranger).grantConsent(otherHospital.address, (await time.latest()) + DAY, false);
      const a = BATCH_RECORDS[0];
      await expect(
        pmhe.connect(otherHospital).requestBatchPrediction(victim.address, tree.root, a, tree.proofOf(a), model1),
      )
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(victim.address, tree.root, otherHospital.address);
      // On the stranger's own copy it may, and the job is the stranger's.
      const jobId = await pmhe.nextJobId(stranger.address);
      await pmhe.connect(otherHospital).requestBatchPrediction(stranger.address, tree.root, a, tree.proofOf(a), model1);
      expect([(await pmhe.jobOf(jobId)).patient, (await pmhe.jobOf(jobId)).keyBundleHash]).to.deep.equal([
        stranger.address,
        KEYS_2,
      ]);
    });

    it("a hospital's consent ends with its expiry for batch requests too", async function () {
      const { pmhe, patient, hospital, tree, model1 } = await loadFixture(batchFixture);
      const expiresAt = (await time.latest()) + 100;
      await pmhe.connect(patient).grantConsent(hospital.address, expiresAt, false);
      const a = BATCH_RECORDS[0];
      await time.setNextBlockTimestamp(expiresAt);
      await expect(pmhe.connect(hospital).requestBatchPrediction(patient.address, tree.root, a, tree.proofOf(a), model1))
        .to.be.revertedWithCustomError(pmhe, "NotAuthorizedRequester")
        .withArgs(patient.address, tree.root, hospital.address);
    });
  });

  describe("attack: erased records requested by another route", function () {
    it("an erased batch refuses every leaf, whoever requests (RecordIsErased(root))", async function () {
      const { pmhe, patient, hospital, tree, model1 } = await loadFixture(consentedBatchFixture);
      await pmhe.connect(patient).eraseBatch(tree.root);
      for (const account of [patient, hospital]) {
        for (const recordHash of BATCH_RECORDS) {
          await expect(
            pmhe
              .connect(account)
              .requestBatchPrediction(patient.address, tree.root, recordHash, tree.proofOf(recordHash), model1),
          )
            .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
            .withArgs(tree.root);
        }
      }
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);
    });

    it("a leaf erased with eraseBatchRecord is refused by requestBatchPrediction and anchorAndRequest; the other leaves still work", async function () {
      const { pmhe, patient, hospital, tree, model1 } = await loadFixture(consentedBatchFixture);
      const [a, b] = BATCH_RECORDS;
      await pmhe.connect(patient).eraseBatchRecord(tree.root, a, tree.proofOf(a));
      for (const account of [patient, hospital]) {
        await expect(pmhe.connect(account).requestBatchPrediction(patient.address, tree.root, a, tree.proofOf(a), model1))
          .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
          .withArgs(a);
      }
      await expect(pmhe.connect(patient).anchorAndRequest(a, model1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(a);
      // Never anchored on its own, yet requestPrediction reports the erasure, not a missing anchor.
      await expect(pmhe.connect(patient).requestPrediction(patient.address, a, model1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(a);
      expect(await pmhe.jobNonce(patient.address)).to.equal(0n);

      const jobId = await pmhe.nextJobId(patient.address);
      await pmhe.connect(hospital).requestBatchPrediction(patient.address, tree.root, b, tree.proofOf(b), model1);
      expect((await pmhe.jobOf(jobId)).recordHash).to.equal(b);
    });

    it("a hash both anchored on its own and in a batch, erased by either route, is refused by every route with RecordIsErased", async function () {
      for (const eraseBy of ["eraseRecord", "eraseBatchRecord"] as const) {
        const { pmhe, patient, hospital, tree, model1 } = await loadFixture(consentedBatchFixture);
        const c = BATCH_RECORDS[2];
        await pmhe.connect(patient).anchorRecord(c);
        if (eraseBy === "eraseRecord") await pmhe.connect(patient).eraseRecord(c);
        else await pmhe.connect(patient).eraseBatchRecord(tree.root, c, tree.proofOf(c));

        for (const account of [patient, hospital]) {
          await expect(pmhe.connect(account).requestPrediction(patient.address, c, model1), `${eraseBy}, single`)
            .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
            .withArgs(c);
          await expect(
            pmhe.connect(account).requestBatchPrediction(patient.address, tree.root, c, tree.proofOf(c), model1),
            `${eraseBy}, batch`,
          )
            .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
            .withArgs(c);
        }
        await expect(pmhe.connect(patient).anchorAndRequest(c, model1))
          .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
          .withArgs(c);
        expect(await pmhe.jobNonce(patient.address), eraseBy).to.equal(0n);
      }
    });

    it("another patient's erasure of the same hash in its own namespace does not block the victim's leaf", async function () {
      const { pmhe, patient: victim, otherPatient, tree, model1 } = await loadFixture(batchFixture);
      const a = BATCH_RECORDS[0];
      await pmhe.connect(otherPatient).anchorRecord(a);
      await pmhe.connect(otherPatient).eraseRecord(a);
      expect(await pmhe.isErased(victim.address, a)).to.equal(false);
      const jobId = await pmhe.nextJobId(victim.address);
      await pmhe.connect(victim).requestBatchPrediction(victim.address, tree.root, a, tree.proofOf(a), model1);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("jobs requested on a leaf before its erasure stay pending for the coprocessors to fail", async function () {
      const { pmhe, patient, tree, model1 } = await loadFixture(batchFixture);
      const b = BATCH_RECORDS[1];
      const jobId = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, b, tree.proofOf(b), model1);
      await pmhe.connect(patient).eraseBatchRecord(tree.root, b, tree.proofOf(b));
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.batchRoot, job.keyBundleHash, job.recordErased]).to.deep.equal([JobStatus.Requested, tree.root, KEYS_1, true]);
    });

    it("jobOf reports recordErased for every job of a batch erased whole, and not for a job on another batch", async function () {
      const { pmhe, patient, tree, model1 } = await loadFixture(batchFixture);
      const [a, b] = [BATCH_RECORDS[0], BATCH_RECORDS[2]];
      const jobA = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, a, tree.proofOf(a), model1);
      const jobB = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, b, tree.proofOf(b), model1);
      expect((await pmhe.jobOf(jobA)).recordErased, "before the erasure").to.equal(false);
      await pmhe.connect(patient).eraseBatch(tree.root);
      expect([(await pmhe.jobOf(jobA)).recordErased, (await pmhe.jobOf(jobB)).recordErased]).to.deep.equal([true, true]);
    });
  });
});
