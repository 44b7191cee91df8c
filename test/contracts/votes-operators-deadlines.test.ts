import { expect } from "chai";

import { FailureReason } from "../../protocol/failure-reasons.js";
import {
  COPROCESSOR_ROLE,
  JobStatus,
  RECORD_1,
  RESULT_1,
  RESULT_2,
  Skip,
  eventsOf,
  failureVote,
  h,
  ethers,
  loadFixture,
  lower,
  pendingJobFixture,
  quorumFixture,
  time,
} from "./fixtures.js";

describe("PMHE: operators in office and deadlines", function () {
  describe("attack: a rogue operator at quorum 2", function () {
    it("one operator's vote alone never finalizes, whatever path it tries for a second vote", async function () {
      const { pmhe, coprocessor2: rogue, jobId } = await loadFixture(quorumFixture);
      await expect(pmhe.connect(rogue).commitResult(jobId, RESULT_2))
        .to.emit(pmhe, "ResultCommitted")
        .withArgs(jobId, rogue.address, RESULT_2, 1n);
      await expect(pmhe.connect(rogue).commitResult(jobId, RESULT_2))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, rogue.address);
      await expect(pmhe.connect(rogue).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, rogue.address);
      const me = lower(rogue.address);
      expect(await eventsOf(pmhe, pmhe.connect(rogue).commitResults([jobId, jobId], [RESULT_2, RESULT_2]))).to.deep.equal([
        ["VoteSkipped", jobId, me, Skip.AlreadyVoted],
        ["VoteSkipped", jobId, me, Skip.AlreadyVoted],
      ]);
      expect(await eventsOf(pmhe, pmhe.connect(rogue).castVotes([jobId], [RESULT_2], [jobId], [7]))).to.deep.equal([
        ["VoteSkipped", jobId, me, Skip.AlreadyVoted],
        ["VoteSkipped", jobId, me, Skip.AlreadyVoted],
      ]);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash]).to.deep.equal([JobStatus.Requested, ethers.ZeroHash]);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(1n);
    });

    it("a fresh job's first vote by a rogue operator cannot be doubled through castVotes in one call", async function () {
      const { pmhe, coprocessor2: rogue, patient, model1 } = await loadFixture(quorumFixture);
      const fresh = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      const me = lower(rogue.address);
      expect(await eventsOf(pmhe, pmhe.connect(rogue).castVotes([fresh, fresh], [RESULT_2, RESULT_2], [fresh], [3]))).to.deep.equal([
        ["ResultCommitted", fresh, me, RESULT_2, 1n],
        ["VoteSkipped", fresh, me, Skip.AlreadyVoted],
        ["VoteSkipped", fresh, me, Skip.AlreadyVoted],
      ]);
      expect((await pmhe.jobOf(fresh)).status).to.equal(JobStatus.Requested);
    });
  });

  describe("attack: votes of revoked operators", function () {
    it("a revoked operator's earlier vote stops counting: the job then needs two operators in office", async function () {
      const { pmhe, admin, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(c1).commitResult(jobId, RESULT_1);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(1n);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(0n);
      expect(await pmhe.voteOf(jobId, c1.address)).to.equal(RESULT_1);

      const second = pmhe.connect(c2).commitResult(jobId, RESULT_1);
      await expect(second).to.emit(pmhe, "ResultCommitted").withArgs(jobId, c2.address, RESULT_1, 1n);
      await expect(second).to.not.emit(pmhe, "JobFinalized");
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);

      const third = pmhe.connect(c3).commitResult(jobId, RESULT_1);
      await expect(third).to.emit(pmhe, "ResultCommitted").withArgs(jobId, c3.address, RESULT_1, 2n);
      await expect(third).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 2n]);
    });

    it("re-granting the role counts the earlier vote again", async function () {
      const { pmhe, admin, coprocessor: c1, coprocessor2: c2, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(c1).commitResult(jobId, RESULT_1);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, c1.address);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(1n);
      await expect(pmhe.connect(c2).commitResult(jobId, RESULT_1)).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      // The re-granted operator still has its one vote on the job.
      await expect(pmhe.connect(c1).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(jobId, c1.address);
    });

    it("jobOf.votes and voteCount follow revocations and grants after the job settled; the outcome stays", async function () {
      const { pmhe, admin, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(c1).commitResult(jobId, RESULT_1);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      await pmhe.connect(c2).commitResult(jobId, RESULT_1);
      await pmhe.connect(c3).commitResult(jobId, RESULT_1);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, c1.address);
      expect((await pmhe.jobOf(jobId)).votes).to.equal(3n);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(3n);

      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c2.address);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c3.address);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 1n]);
      const [finalized] = await pmhe.queryFilter(pmhe.filters.JobFinalized(jobId));
      expect(finalized?.args.votes).to.equal(2n);
    });

    it("a revoked operator's failure vote stops counting too", async function () {
      const { pmhe, admin, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, jobId } = await loadFixture(quorumFixture);
      const reason = FailureReason.RecordBlobMissing;
      await pmhe.connect(c1).reportFailure(jobId, reason);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      const second = pmhe.connect(c2).reportFailure(jobId, reason);
      await expect(second).to.emit(pmhe, "FailureReported").withArgs(jobId, c2.address, reason, 1n);
      await expect(second).to.not.emit(pmhe, "JobFailed");
      await expect(pmhe.connect(c3).reportFailure(jobId, reason)).to.emit(pmhe, "JobFailed").withArgs(jobId, reason, 2n);
      expect(await pmhe.voteCount(jobId, failureVote(reason))).to.equal(2n);
    });

    it("a revoked dissenter's first vote stays the conflict reference but never decides", async function () {
      const { pmhe, admin, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, jobId } = await loadFixture(quorumFixture);
      await pmhe.connect(c2).commitResult(jobId, RESULT_2);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c2.address);
      await expect(pmhe.connect(c1).commitResult(jobId, RESULT_1))
        .to.emit(pmhe, "ResultConflict")
        .withArgs(jobId, c1.address, RESULT_1, RESULT_2);
      await expect(pmhe.connect(c3).commitResult(jobId, RESULT_1)).to.emit(pmhe, "JobFinalized").withArgs(jobId, RESULT_1, 2n);
      expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(0n);
      expect((await pmhe.jobOf(jobId)).resultHash).to.equal(RESULT_1);
    });

    it("a revocation takes effect on every job at once", async function () {
      const { pmhe, admin, patient, coprocessor: c1, jobId, model1 } = await loadFixture(quorumFixture);
      const other = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      await pmhe.connect(c1).commitResults([jobId, other], [RESULT_1, RESULT_2]);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      expect(await pmhe.voteCount(jobId, RESULT_1)).to.equal(0n);
      expect(await pmhe.voteCount(other, RESULT_2)).to.equal(0n);
    });

    it("at quorum 1 a revoked operator's first vote no longer counts after the job settled", async function () {
      const { pmhe, admin, coprocessor, jobId } = await loadFixture(pendingJobFixture);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, coprocessor.address);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.resultHash, job.votes]).to.deep.equal([JobStatus.Finalized, RESULT_1, 0n]);
    });
  });

  describe("attack: votes after the deadline", function () {
    it("takes a vote at the deadline and reverts VotingClosed after it; the job can then only be expired", async function () {
      const { pmhe, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, stranger, jobId, deadline } =
        await loadFixture(quorumFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(pmhe.connect(c1).commitResult(jobId, RESULT_1)).to.emit(pmhe, "ResultCommitted");
      await time.increaseTo(deadline + 1n);
      await expect(pmhe.connect(c2).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "VotingClosed")
        .withArgs(jobId, deadline);
      await expect(pmhe.connect(c3).reportFailure(jobId, FailureReason.EvaluationError))
        .to.be.revertedWithCustomError(pmhe, "VotingClosed")
        .withArgs(jobId, deadline);
      expect(await pmhe.voteOf(jobId, c2.address)).to.equal(ethers.ZeroHash);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);

      await expect(pmhe.connect(stranger).expireJob(jobId)).to.emit(pmhe, "JobExpired").withArgs(jobId, stranger.address);
      await expect(pmhe.connect(c2).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Expired);
    });

    it("a lone operator cannot finalize a quorum-1 job after its deadline", async function () {
      const { pmhe, coprocessor, jobId, deadline } = await loadFixture(pendingJobFixture);
      await time.increaseTo(deadline + 10n);
      await expect(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "VotingClosed")
        .withArgs(jobId, deadline);
      expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
    });

    it("refuses late votes on a finalized job after its deadline too", async function () {
      const { pmhe, admin, coprocessor, coprocessor2, jobId, deadline } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
      await time.increaseTo(deadline + 1n);
      await expect(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2))
        .to.be.revertedWithCustomError(pmhe, "VotingClosed")
        .withArgs(jobId, deadline);
      expect(await pmhe.conflictCount(jobId)).to.equal(0n);
    });

    it("reports JobNotPending rather than VotingClosed for failed and expired jobs, UnknownJob for unknown ids", async function () {
      const { pmhe, coprocessor, coprocessor2, admin, jobId, deadline } = await loadFixture(pendingJobFixture);
      await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
      await pmhe.connect(coprocessor).reportFailure(jobId, FailureReason.EvaluationError);
      await time.increaseTo(deadline + 1n);
      await expect(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "JobNotPending")
        .withArgs(jobId, JobStatus.Failed);
      await expect(pmhe.connect(coprocessor2).commitResult(h("no-such-job"), RESULT_1))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(h("no-such-job"));
    });
  });

  describe("expireJob", function () {
    it("lets anyone expire a pending job once its deadline has passed", async function () {
      const { pmhe, stranger, jobId, deadline } = await loadFixture(pendingJobFixture);
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(pmhe.connect(stranger).expireJob(jobId)).to.emit(pmhe, "JobExpired").withArgs(jobId, stranger.address);
      const job = await pmhe.jobOf(jobId);
      expect([job.status, job.deadline, job.resultHash, job.failureReason, job.votes]).to.deep.equal([
        JobStatus.Expired,
        deadline,
        ethers.ZeroHash,
        0n,
        0n,
      ]);
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
      const { pmhe, coprocessor, patient, stranger, jobId, deadline, model1 } = await loadFixture(pendingJobFixture);
      const failed = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
      const expired = await pmhe.nextJobId(patient.address);
      await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
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
});
