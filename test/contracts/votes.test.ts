import { expect } from "chai";

import { FailureReason } from "../../protocol/failure-reasons.js";
import {
  COPROCESSOR_ROLE,
  JobStatus,
  MODEL_HASH_1,
  RECORD_1,
  RESULT_1,
  RESULT_2,
  failureVote,
  h,
  ethers,
  loadFixture,
  pendingJobFixture,
  quorumFixture,
  time,
} from "./fixtures.js";

describe("PMHE: votes", function () {
  describe("commitResult (quorum 1)", function () {
    it("finalizes a pending job with the result hash", async function () {
      const { pmhe, coprocessor, patient, jobId, deadline } = await loadFixture(pendingJobFixture);
      const tx = pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(tx).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor.address, RESULT_1, 1n);
      await expect(tx).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 1n);
      await expect(tx).to.not.emit(pmhe, "ResultConflict");

      const job = await pmhe.jobOf(jobId);
      expect(job.status).to.equal(JobStatus.Finalized);
      expect(job.resultHash).to.equal(RESULT_1);
      expect(job.failureReason).to.equal(0n);
      expect(job.votes).to.equal(1n);
      expect([job.patient, job.recordHash, job.modelHash, job.deadline]).to.deep.equal([
        patient.address,
        RECORD_1,
        MODEL_HASH_1,
        deadline,
      ]);
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
      await expect(pmhe.connect(coprocessor).commitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(pmhe, "ZeroHash");
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
      const job = await pmhe.jobOf(jobId);
      expect([job.resultHash, job.votes]).to.deep.equal([RESULT_1, 2n]);
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
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 1n]);
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
      expect([job.status, job.resultHash]).to.deep.equal([JobStatus.Failed, ethers.ZeroHash]);
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
      const { pmhe, coprocessor, patient, jobId, model1 } = await loadFixture(pendingJobFixture);
      const second = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(coprocessor).commitResult(second, RESULT_2);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
      expect((await pmhe.jobOf(second)).resultHash).to.equal(RESULT_2);
    });
  });

  describe("reportFailure (quorum 1)", function () {
    it("marks a pending job as failed with the reason", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      const tx = pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.ModelHashMismatch);
      await expect(tx).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor.address, FailureReason.ModelHashMismatch, 1n);
      await expect(tx).to.emit(pmhe, "JobFailed").withArgs(jobId, FailureReason.ModelHashMismatch, 1n);

      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.failureReason, job.resultHash, job.votes]).to.deep.equal([
        JobStatus.Failed,
        BigInt(FailureReason.ModelHashMismatch),
        ethers.ZeroHash,
        1n,
      ]);
      expect(await pmhe.voteOf(jobId, coprocessor.address)).to.equal(failureVote(FailureReason.ModelHashMismatch));
      expect(await pmhe.voteCount(jobId, failureVote(FailureReason.ModelHashMismatch))).to.equal(1n);
    });

    it("stores the full uint16 range of reason codes", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await expect(pmhe.connect(coprocessor).reportFailure(jobId, 0xffff)).to.emit(pmhe, "JobFailed").withArgs(jobId, 0xffff, 1n);
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

    it("reverts UnknownJob for an unknown id and InvalidFailureReason for reason 0", async function () {
      const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      const unknown = h("no-such-job");
      await expect(pmhe.connect(coprocessor).reportFailure(unknown, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
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
      await expect(tx).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor2.address, FailureReason.EvaluationError, 1n);
      await expect(tx)
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, coprocessor2.address, failureVote(FailureReason.EvaluationError), RESULT_1);
      await expect(tx).to.not.emit(pmhe, "JobFailed");
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.failureReason]).to.deep.equal([JobStatus.Finalized, RESULT_1, 0n]);
    });

    it("reverts JobNotPending(Failed) for any vote on a failed job, by another coprocessor or the same", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.RecordBlobMissing);
      for (const account of [coprocessor2, coprocessor]) {
        await expect(pmhe.connect(account).reportFailure(jobId, FailureReason.EvaluationError))
          .to.be.revertedWithCustomError(pmhe, "JobNotPending")
          .withArgs(jobId, JobStatus.Failed);
      }
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

  describe("quorum 2 with three coprocessors", function () {
    it("finalizes with the honest hash when the dissenter votes in between, and records the conflict", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      expect((await pmhe.jobOf(jobId)).quorum).to.equal(2n);

      const first = pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await expect(first).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor.address, RESULT_1, 1n);
      await expect(first).to.not.emit(pmhe, "JobFinalized");
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(ethers.ZeroHash);
      expect((await pmhe.jobOf(jobId)).votes).to.equal(0n);

      const dissent = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(dissent).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_2, 1n);
      await expect(dissent).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, RESULT_2, RESULT_1);
      await expect(dissent).to.not.emit(pmhe, "JobFinalized");

      const decisive = pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);
      await expect(decisive).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor3.address, RESULT_1, 2n);
      await expect(decisive).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      await expect(decisive).to.not.emit(pmhe, "ResultConflict");

      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 2n]);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(2n);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(1n);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("records a late dissent after finalization without changing the final hash", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);
      const late = pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await expect(late).to.emit(pmhe, "ResultCommitted").withArgs(jobId, coprocessor2.address, RESULT_2, 1n);
      await expect(late).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, RESULT_2, RESULT_1);
      await expect(late).to.not.emit(pmhe, "JobFinalized");
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 2n]);
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
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
      expect(await pmhe.conflictCount(jobId)).to.equal(2n);

      // After finalization the reference is the final hash: a late agreeing vote is no conflict.
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, stranger.address);
      const late = pmhe.connect(stranger).commitResult(jobId, RESULT_1);
      await expect(late).to.emit(pmhe, "ResultCommitted").withArgs(jobId, stranger.address, RESULT_1, 3n);
      await expect(late).to.not.emit(pmhe, "ResultConflict");
      expect(await pmhe.conflictCount(jobId)).to.equal(2n);
      const job = await pmhe.jobOf(jobId);
      expect([job.resultHash, job.votes]).to.deep.equal([RESULT_1, 3n]);
    });

    it("fails the job when two coprocessors report the same reason, recording a differing reason as a conflict", async function () {
      const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      const miss = FailureReason.RecordBlobMissing;
      const bad = FailureReason.MalformedRecord;
      await pmhe.connect(coprocessor).reportFailure(jobId, miss);
      const other = pmhe.connect(coprocessor2).reportFailure(jobId, bad);
      await expect(other).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor2.address, bad, 1n);
      await expect(other).to.emit(pmhe, "ResultConflict").withArgs(jobId, coprocessor2.address, failureVote(bad), failureVote(miss));
      await expect(other).to.not.emit(pmhe, "JobFailed");
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);

      const decisive = pmhe.connect(coprocessor3).reportFailure(jobId, miss);
      await expect(decisive).to.emit(pmhe, "FailureReported").withArgs(jobId, coprocessor3.address, miss, 2n);
      await expect(decisive).to.emit(pmhe, "JobFailed").withArgs(jobId, miss, 2n);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.failureReason, job.resultHash, job.votes]).to.deep.equal([
        JobStatus.Failed,
        BigInt(miss),
        ethers.ZeroHash,
        2n,
      ]);
      expect(await pmhe.conflictCount(jobId)).to.equal(1n);
    });

    it("fails with the second value when it reaches quorum first, and refuses later votes", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, coprocessor3, stranger, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor2).reportFailure(jobId, FailureReason.EvaluationError);
      await expect(pmhe.connect(coprocessor3).reportFailure(jobId, FailureReason.EvaluationError))
        .to.emit(pmhe, "JobFailed")
        .withArgs(jobId, FailureReason.EvaluationError, 2n);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.failureReason, job.resultHash]).to.deep.equal([
        JobStatus.Failed,
        BigInt(FailureReason.EvaluationError),
        ethers.ZeroHash,
      ]);
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
      await expect(pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1)).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.failureReason]).to.deep.equal([JobStatus.Finalized, RESULT_1, 0n]);
    });

    it("lets a job expire when the votes never agree", async function () {
      const { pmhe, coprocessor, coprocessor2, stranger, jobId, deadline } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await time.increaseTo(deadline + 1n);
      await expect(pmhe.connect(stranger).expireJob(jobId)).to.emit(pmhe, "JobExpired").withArgs(jobId, stranger.address);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Expired, ethers.ZeroHash, 0n]);
    });

    it("lets the event log alone rebuild the job's history", async function () {
      const { pmhe, hospital, patient, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1);

      const [requested] = await pmhe.queryFilter(pmhe.filters.PredictionRequested(jobId));
      expect(requested?.args.requester).to.equal(patient.address);
      expect(requested?.args.patient).to.equal(patient.address);
      expect(requested?.args.recordHash).to.equal(RECORD_1);
      expect(requested?.args.quorum).to.equal(2n);

      const [published] = await pmhe.queryFilter(pmhe.filters.ModelPublished(requested!.args.modelId));
      expect(published?.args.publisher).to.equal(hospital.address);
      expect(published?.args.modelHash).to.equal(MODEL_HASH_1);
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
      expect(finals.map((e) => [e.args.resultHash, e.args.votes])).to.deep.equal([[RESULT_1, 2n]]);
      expect(await pmhe.queryFilter(pmhe.filters.JobFailed(jobId))).to.have.length(0);
      expect(await pmhe.queryFilter(pmhe.filters.JobExpired(jobId))).to.have.length(0);
    });
  });
});
