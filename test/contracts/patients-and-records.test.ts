import { expect } from "chai";

import { FailureReason } from "../../protocol/failure-reasons.js";
import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree } from "../../protocol/merkle.js";
import {
  BATCH_RECORDS,
  JobStatus,
  KEYS_1,
  KEYS_2,
  KEYS_3,
  KEYS_LOC_1,
  KEYS_LOC_2,
  MAX_BATCH_SIZE,
  RECORD_1,
  RECORD_2,
  batchFixture,
  deployFixture,
  ethers,
  expectedJobId,
  flip,
  h,
  loadFixture,
  nextTimestamp,
  pendingJobFixture,
  recordAndModelFixture,
} from "./fixtures.js";

describe("PMHE: patients and records", function () {
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

    it("numbers key versions per patient, and lets two patients register the same bundle hash", async function () {
      const { pmhe, patient, otherPatient, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(otherPatient).registerKeys(KEYS_3, "blob://k3"))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(otherPatient.address, 1n, KEYS_3, "blob://k3");
      await expect(pmhe.connect(stranger).registerKeys(KEYS_2, KEYS_LOC_2))
        .to.emit(pmhe, "PatientKeysRegistered")
        .withArgs(stranger.address, 1n, KEYS_2, KEYS_LOC_2);
      expect(await pmhe.currentKeyBundle(otherPatient.address)).to.deep.equal([KEYS_3, 1n]);
      expect(await pmhe.currentKeyBundle(patient.address)).to.deep.equal([KEYS_2, 2n]);
    });

    it("does not disturb the patient's job nonce when rotating keys", async function () {
      const { pmhe, patient, address } = await loadFixture(pendingJobFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      expect(await pmhe.jobNonce(patient.address)).to.equal(1n);
      expect(await pmhe.nextJobId(patient.address)).to.equal(await expectedJobId(address, patient.address, 1n));
      expect((await pmhe.currentKeyBundle(patient.address))[1]).to.equal(2n);
    });

    it("reverts ZeroHash for a zero bundle hash, on registration and on rotation", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash, KEYS_LOC_1)).to.be.revertedWithCustomError(pmhe, "ZeroHash");
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      await expect(pmhe.connect(patient).registerKeys(ethers.ZeroHash, KEYS_LOC_1)).to.be.revertedWithCustomError(pmhe, "ZeroHash");
      expect((await pmhe.currentKeyBundle(patient.address))[1]).to.equal(1n);
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
      for (const [account, version] of [
        [patient.address, 0n],
        [patient.address, 2n],
        [stranger.address, 1n],
      ] as const) {
        await expect(pmhe.keyBundleAt(account, version))
          .to.be.revertedWithCustomError(pmhe, "UnknownKeyVersion")
          .withArgs(account, version);
      }
    });
  });

  describe("anchorRecord / recordOf (one namespace per patient)", function () {
    it("anchors a record under the patient's current key version", async function () {
      const { pmhe, patient } = await loadFixture(deployFixture);
      await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
      const t = await nextTimestamp();
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(patient.address, RECORD_1, 1n, KEYS_1);
      expect(await pmhe.recordOf(patient.address, RECORD_1)).to.deep.equal([KEYS_1, 1n, BigInt(t), false]);
      expect(await pmhe.isErased(patient.address, RECORD_1)).to.equal(false);
    });

    it("keeps old records pointing at their original key bundle after a key rotation", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_2))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(patient.address, RECORD_2, 2n, KEYS_2);
      const [oldBundle, oldVersion] = await pmhe.recordOf(patient.address, RECORD_1);
      expect([oldBundle, oldVersion]).to.deep.equal([KEYS_1, 1n]);
      const [newBundle, newVersion] = await pmhe.recordOf(patient.address, RECORD_2);
      expect([newBundle, newVersion]).to.deep.equal([KEYS_2, 2n]);
    });

    it("attack: a stranger anchoring a victim's record hash first blocks nothing; each copy is its anchorer's own", async function () {
      const { pmhe, patient: victim, stranger } = await loadFixture(deployFixture);
      await pmhe.connect(victim).registerKeys(KEYS_1, KEYS_LOC_1);
      await pmhe.connect(stranger).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(stranger).anchorRecord(RECORD_1))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(stranger.address, RECORD_1, 1n, KEYS_2);
      // Nothing in the victim's namespace yet.
      await expect(pmhe.recordOf(victim.address, RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(victim.address, RECORD_1);

      await expect(pmhe.connect(victim).anchorRecord(RECORD_1))
        .to.emit(pmhe, "RecordAnchored")
        .withArgs(victim.address, RECORD_1, 1n, KEYS_1);
      expect((await pmhe.recordOf(victim.address, RECORD_1))[0]).to.equal(KEYS_1);
      expect((await pmhe.recordOf(stranger.address, RECORD_1))[0]).to.equal(KEYS_2);

      // Erasing one copy leaves the other.
      await pmhe.connect(stranger).eraseRecord(RECORD_1);
      expect(await pmhe.isErased(stranger.address, RECORD_1)).to.equal(true);
      expect(await pmhe.isErased(victim.address, RECORD_1)).to.equal(false);
      expect((await pmhe.recordOf(victim.address, RECORD_1))[3]).to.equal(false);
    });

    it("reverts PatientNotRegistered when the caller has no keys", async function () {
      const { pmhe, stranger } = await loadFixture(deployFixture);
      await expect(pmhe.connect(stranger).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts ZeroHash for a zero record hash", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorRecord(ethers.ZeroHash)).to.be.revertedWithCustomError(pmhe, "ZeroHash");
    });

    it("reverts RecordAlreadyAnchored for a re-anchor by the same patient, even after a key rotation", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordAlreadyAnchored")
        .withArgs(RECORD_1);
      expect((await pmhe.recordOf(patient.address, RECORD_1))[1]).to.equal(1n);
    });

    it("reverts RecordIsErased for an erased record anchored again, and its anchor stays readable", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      await expect(pmhe.connect(patient).anchorRecord(RECORD_1))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(RECORD_1);
      expect((await pmhe.recordOf(patient.address, RECORD_1))[3]).to.equal(true);
    });

    it("recordOf reverts UnknownRecord for a hash never anchored in that namespace", async function () {
      const { pmhe, patient, otherPatient } = await loadFixture(recordAndModelFixture);
      for (const [account, hash] of [
        [patient.address, RECORD_2],
        [patient.address, ethers.ZeroHash],
        [otherPatient.address, RECORD_1],
      ] as const) {
        await expect(pmhe.recordOf(account, hash)).to.be.revertedWithCustomError(pmhe, "UnknownRecord").withArgs(account, hash);
      }
    });
  });

  describe("anchorBatch / batchOf / batchIncludes", function () {
    it("anchors a Merkle root built with protocol/merkle.ts and reads it back", async function () {
      const { pmhe, patient, tree, anchoredAt } = await loadFixture(batchFixture);
      expect(await pmhe.batchOf(patient.address, tree.root)).to.deep.equal([KEYS_1, 1n, 3n, BigInt(anchoredAt), false]);
    });

    it("emits BatchAnchored with the patient's current key version and bundle", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      await pmhe.connect(patient).registerKeys(KEYS_2, KEYS_LOC_2);
      const tree = buildRecordTree([RECORD_2]);
      await expect(pmhe.connect(patient).anchorBatch(tree.root, 1))
        .to.emit(pmhe, "BatchAnchored")
        .withArgs(patient.address, tree.root, 1n, 2n, KEYS_2);
      const [keyBundleHash, keyVersion, count] = await pmhe.batchOf(patient.address, tree.root);
      expect([keyBundleHash, keyVersion, count]).to.deep.equal([KEYS_2, 2n, 1n]);
    });

    it("accepts the largest batch size, MAX_BATCH_SIZE", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const root = h("large-root");
      await expect(pmhe.connect(patient).anchorBatch(root, MAX_BATCH_SIZE))
        .to.emit(pmhe, "BatchAnchored")
        .withArgs(patient.address, root, MAX_BATCH_SIZE, 1n, KEYS_1);
      expect((await pmhe.batchOf(patient.address, root))[2]).to.equal(MAX_BATCH_SIZE);
    });

    it("reverts PatientNotRegistered, ZeroHash and InvalidBatchSize (0, MAX_BATCH_SIZE + 1, 2^32 - 1)", async function () {
      const { pmhe, patient, stranger } = await loadFixture(recordAndModelFixture);
      await expect(pmhe.connect(stranger).anchorBatch(h("root"), 2))
        .to.be.revertedWithCustomError(pmhe, "PatientNotRegistered")
        .withArgs(stranger.address);
      await expect(pmhe.connect(patient).anchorBatch(ethers.ZeroHash, 2)).to.be.revertedWithCustomError(pmhe, "ZeroHash");
      for (const count of [0n, MAX_BATCH_SIZE + 1n, 2n ** 32n - 1n]) {
        await expect(pmhe.connect(patient).anchorBatch(h("root"), count))
          .to.be.revertedWithCustomError(pmhe, "InvalidBatchSize")
          .withArgs(count);
      }
    });

    it("reverts BatchAlreadyAnchored for a re-anchor by the same patient; another patient anchors the same root in its own namespace", async function () {
      const { pmhe, patient, otherPatient, tree } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).anchorBatch(tree.root, 5))
        .to.be.revertedWithCustomError(pmhe, "BatchAlreadyAnchored")
        .withArgs(tree.root);
      await pmhe.connect(otherPatient).registerKeys(KEYS_2, KEYS_LOC_2);
      await expect(pmhe.connect(otherPatient).anchorBatch(tree.root, 5))
        .to.emit(pmhe, "BatchAnchored")
        .withArgs(otherPatient.address, tree.root, 5n, 2n, KEYS_2);
      expect((await pmhe.batchOf(patient.address, tree.root))[2]).to.equal(3n);
      expect((await pmhe.batchOf(otherPatient.address, tree.root))[2]).to.equal(5n);
    });

    it("batchOf and batchIncludes revert UnknownBatch for a root the patient never anchored", async function () {
      const { pmhe, patient, otherPatient, tree } = await loadFixture(batchFixture);
      const lone = buildRecordTree([RECORD_2]);
      await expect(pmhe.batchOf(patient.address, lone.root))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(patient.address, lone.root);
      await expect(pmhe.batchIncludes(patient.address, lone.root, RECORD_2, []))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(patient.address, lone.root);
      const a = BATCH_RECORDS[0];
      await expect(pmhe.batchIncludes(otherPatient.address, tree.root, a, tree.proofOf(a)))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(otherPatient.address, tree.root);
    });

    it("batchIncludes accepts merkle.ts proofs of every record of the batch", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      for (const recordHash of BATCH_RECORDS) {
        expect(await pmhe.batchIncludes(patient.address, tree.root, recordHash, tree.proofOf(recordHash))).to.equal(true);
      }
    });

    it("batchIncludes refuses tampered proofs, records outside the batch and proofs of other records", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS;
      const proof = tree.proofOf(a);
      const cases: [Hash, Hash[]][] = [
        [a, proof.map((p, i) => (i === 0 ? flip(p) : p))],
        [a, []],
        [RECORD_1, proof],
        [b, proof],
        [flip(a), proof],
      ];
      for (const [recordHash, p] of cases) {
        expect(await pmhe.batchIncludes(patient.address, tree.root, recordHash, p)).to.equal(false);
      }
    });
  });

  describe("eraseRecord / eraseBatch / eraseBatchRecord / isErased", function () {
    it("flags a record as erased and keeps its anchor readable", async function () {
      const { pmhe, patient } = await loadFixture(recordAndModelFixture);
      const [, , anchoredAt] = await pmhe.recordOf(patient.address, RECORD_1);
      await expect(pmhe.connect(patient).eraseRecord(RECORD_1))
        .to.emit(pmhe, "RecordErased")
        .withArgs(patient.address, RECORD_1);
      expect(await pmhe.isErased(patient.address, RECORD_1)).to.equal(true);
      expect(await pmhe.recordOf(patient.address, RECORD_1)).to.deep.equal([KEYS_1, 1n, anchoredAt, true]);
    });

    it("flags a batch as erased; its proofs still verify", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).eraseBatch(tree.root))
        .to.emit(pmhe, "BatchErased")
        .withArgs(patient.address, tree.root);
      const [, , count, , erased] = await pmhe.batchOf(patient.address, tree.root);
      expect([count, erased]).to.deep.equal([3n, true]);
      const a = BATCH_RECORDS[0];
      expect(await pmhe.batchIncludes(patient.address, tree.root, a, tree.proofOf(a))).to.equal(true);
    });

    it("isErased is false for hashes never anchored, for batch roots, and for the leaves of an erased batch", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      await pmhe.connect(patient).eraseBatch(tree.root);
      for (const hash of [RECORD_2, tree.root, BATCH_RECORDS[0]]) {
        expect(await pmhe.isErased(patient.address, hash)).to.equal(false);
      }
    });

    it("erases one leaf of a batch with its proof, leaving the batch and its other leaves usable", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS;
      await expect(pmhe.connect(patient).eraseBatchRecord(tree.root, a, tree.proofOf(a)))
        .to.emit(pmhe, "RecordErased")
        .withArgs(patient.address, a);
      expect(await pmhe.isErased(patient.address, a)).to.equal(true);
      expect(await pmhe.isErased(patient.address, b)).to.equal(false);
      expect((await pmhe.batchOf(patient.address, tree.root))[4]).to.equal(false);
      // The leaf was never anchored on its own: it has no record anchor to read.
      await expect(pmhe.recordOf(patient.address, a))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(patient.address, a);
    });

    it("an erased leaf can no longer be anchored on its own (RecordIsErased)", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const a = BATCH_RECORDS[0];
      await pmhe.connect(patient).eraseBatchRecord(tree.root, a, tree.proofOf(a));
      await expect(pmhe.connect(patient).anchorRecord(a)).to.be.revertedWithCustomError(pmhe, "RecordIsErased").withArgs(a);
    });

    it("erasing a leaf that is also anchored on its own erases that record too", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const b = BATCH_RECORDS[1];
      await pmhe.connect(patient).anchorRecord(b);
      await pmhe.connect(patient).eraseBatchRecord(tree.root, b, tree.proofOf(b));
      expect((await pmhe.recordOf(patient.address, b))[3]).to.equal(true);
      await expect(pmhe.connect(patient).eraseRecord(b)).to.be.revertedWithCustomError(pmhe, "RecordIsErased").withArgs(b);
    });

    it("eraseBatchRecord reverts InvalidProof for a tampered proof or a record outside the batch, erasing nothing", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const [a, b] = BATCH_RECORDS;
      const proof = tree.proofOf(a);
      const cases: [Hash, Hash[]][] = [
        [a, proof.map((x, i) => (i === 0 ? flip(x) : x))],
        [b, proof],
        [RECORD_2, proof],
        [a, []],
      ];
      for (const [recordHash, p] of cases) {
        await expect(pmhe.connect(patient).eraseBatchRecord(tree.root, recordHash, p))
          .to.be.revertedWithCustomError(pmhe, "InvalidProof")
          .withArgs(tree.root, recordHash);
      }
      for (const hash of [a, b, RECORD_2]) expect(await pmhe.isErased(patient.address, hash)).to.equal(false);
    });

    it("eraseBatchRecord reverts RecordIsErased for a leaf already erased", async function () {
      const { pmhe, patient, tree } = await loadFixture(batchFixture);
      const c = BATCH_RECORDS[2];
      await pmhe.connect(patient).eraseBatchRecord(tree.root, c, tree.proofOf(c));
      await expect(pmhe.connect(patient).eraseBatchRecord(tree.root, c, tree.proofOf(c)))
        .to.be.revertedWithCustomError(pmhe, "RecordIsErased")
        .withArgs(c);
    });

    it("nobody can erase in another patient's namespace: the calls look in the caller's own and find nothing", async function () {
      const { pmhe, admin, hospital, patient, otherPatient, stranger, tree } = await loadFixture(batchFixture);
      const a = BATCH_RECORDS[0];
      for (const account of [otherPatient, stranger, hospital, admin]) {
        await expect(pmhe.connect(account).eraseRecord(RECORD_1))
          .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
          .withArgs(account.address, RECORD_1);
        await expect(pmhe.connect(account).eraseBatch(tree.root))
          .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
          .withArgs(account.address, tree.root);
        await expect(pmhe.connect(account).eraseBatchRecord(tree.root, a, tree.proofOf(a)))
          .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
          .withArgs(account.address, tree.root);
      }
      expect(await pmhe.isErased(patient.address, RECORD_1)).to.equal(false);
      expect(await pmhe.isErased(patient.address, a)).to.equal(false);
      expect((await pmhe.batchOf(patient.address, tree.root))[4]).to.equal(false);
    });

    it("reverts UnknownRecord / UnknownBatch for hashes never anchored", async function () {
      const { pmhe, patient } = await loadFixture(batchFixture);
      await expect(pmhe.connect(patient).eraseRecord(RECORD_2))
        .to.be.revertedWithCustomError(pmhe, "UnknownRecord")
        .withArgs(patient.address, RECORD_2);
      await expect(pmhe.connect(patient).eraseBatch(h("no-root")))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(patient.address, h("no-root"));
    });

    it("reverts RecordIsErased when erasing a record or a batch twice", async function () {
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

    it("leaves jobs requested before the erasure untouched: coprocessors fail them with RecordErased", async function () {
      const { pmhe, patient, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(patient).eraseRecord(RECORD_1);
      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Requested);
      expect(job.keyBundleHash).to.equal(KEYS_1);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.RecordErased))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, FailureReason.RecordErased, 1n);
    });
  });
});
