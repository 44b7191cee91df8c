import { expect } from "chai";

import { FailureReason } from "../../protocol/failure-reasons.js";
import type { Hash } from "../../protocol/hash.js";
import {
  COPROCESSOR_ROLE,
  DEFAULT_TIMEOUT,
  JobStatus,
  MAX_COMMIT_BATCH,
  Skip,
  ethers,
  eventsOf,
  h,
  loadFixture,
  lower,
  recordAndModelFixture,
  requestJobs as requestJobsOf,
  result,
  time,
} from "./fixtures.js";

/** PMHE with three coprocessors and one patient whose record and model are ready for jobs. */
async function deployFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, admin, coprocessor: c1, coprocessor2: c2, coprocessor3: c3, patient, stranger, model1 } = f;
  for (const c of [c2, c3]) await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, c.address);
  /** Requests `n` jobs on the patient's record and returns their ids. */
  const requestJobs = (n: number): Promise<Hash[]> => requestJobsOf(pmhe, patient, model1, n);
  return { pmhe, admin, c1, c2, c3, patient, stranger, requestJobs };
}

/** Four pending jobs at quorum 1. */
async function quorum1Fixture() {
  const f = await deployFixture();
  return { ...f, jobs: await f.requestJobs(4) };
}

/** Four pending jobs at quorum 2. */
async function quorum2Fixture() {
  const f = await deployFixture();
  await f.pmhe.connect(f.admin).setQuorum(2);
  return { ...f, jobs: await f.requestJobs(4) };
}

describe("PredictionJobs.commitResults", function () {
  describe("voting", function () {
    it("finalizes every job of a batch at quorum 1, with the events of commitResult in entry order", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const hashes = jobs.map((_, i) => result(i));
      const events = await eventsOf(pmhe, pmhe.connect(c1).commitResults(jobs, hashes));

      const me = lower(c1.address);
      expect(events).to.deep.equal(
        jobs.flatMap((jobId, i) => [
          ["ResultCommitted", jobId, me, hashes[i], 1n],
          ["JobFinalized", jobId, hashes[i], 1n],
        ]),
      );
      for (const [i, jobId] of jobs.entries()) {
        const job = await pmhe.jobOf(jobId);
        expect(job.status, `job ${i}`).to.equal(JobStatus.Finalized);
        expect(job.resultHash, `job ${i}`).to.equal(hashes[i]);
        expect(await pmhe.voteOf(jobId, c1.address), `job ${i}`).to.equal(hashes[i]);
      }
    });

    it("counts each entry as one vote at quorum 2: one operator's batch leaves the jobs pending, a second one's finalizes them", async function () {
      const { pmhe, c1, c2, jobs } = await loadFixture(quorum2Fixture);
      const hashes = jobs.map((_, i) => result(i));

      const first = await eventsOf(pmhe, pmhe.connect(c1).commitResults(jobs, hashes));
      expect(first).to.deep.equal(jobs.map((jobId, i) => ["ResultCommitted", jobId, lower(c1.address), hashes[i], 1n]));
      for (const jobId of jobs) expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);

      const second = await eventsOf(pmhe, pmhe.connect(c2).commitResults(jobs, hashes));
      expect(second).to.deep.equal(
        jobs.flatMap((jobId, i) => [
          ["ResultCommitted", jobId, lower(c2.address), hashes[i], 2n],
          ["JobFinalized", jobId, hashes[i], 2n],
        ]),
      );
      for (const [i, jobId] of jobs.entries()) {
        expect((await pmhe.jobOf(jobId)).resultHash).to.equal(hashes[i]);
        expect(await pmhe.voteCount(jobId, hashes[i]!)).to.equal(2n);
      }
    });

    it("mixes with single commits: a single vote and a batch entry make a quorum of 2, in either order", async function () {
      const { pmhe, c1, c2, jobs } = await loadFixture(quorum2Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await pmhe.connect(c1).commitResult(a, result("a"));
      await expect(pmhe.connect(c2).commitResults([a, b], [result("a"), result("b")]))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(a, result("a"), 2n);
      expect((await pmhe.jobOf(b)).status).to.equal(JobStatus.Requested);

      await expect(pmhe.connect(c1).commitResult(b, result("b")))
        .to.emit(pmhe, "JobFinalized")
        .withArgs(b, result("b"), 2n);
      // The batch vote is a vote like any other for the single path: a second one from c2 reverts.
      await expect(pmhe.connect(c2).commitResult(b, result("b")))
        .to.be.revertedWithCustomError(pmhe, "AlreadyVoted")
        .withArgs(b, c2.address);
    });

    it("produces the same events and state as the same votes cast one by one with commitResult, conflicts and late votes included", async function () {
      // Quorum 2. c1 votes first; c2 agrees on job 0 (finalizing it), dissents on job 1, opens job 3; c3 votes late
      // and dissenting on job 0, and settles jobs 1 and 2 with c1's value.
      const plan = ([j0, j1, j2, j3]: Hash[]) =>
        [
          { voter: "c1", votes: [[j0!, result("x")], [j1!, result("y")], [j2!, result("z")]] },
          { voter: "c2", votes: [[j0!, result("x")], [j1!, result("wrong")], [j3!, result("w")]] },
          { voter: "c3", votes: [[j0!, result("late")], [j1!, result("y")], [j2!, result("z")]] },
        ] as const;

      const run = async (batched: boolean) => {
        const f = await loadFixture(quorum2Fixture);
        const signers = { c1: f.c1, c2: f.c2, c3: f.c3 };
        const events: unknown[][] = [];
        for (const { voter, votes } of plan(f.jobs)) {
          const pmhe = f.pmhe.connect(signers[voter]);
          if (batched) {
            events.push(...(await eventsOf(f.pmhe, pmhe.commitResults(votes.map((v) => v[0]), votes.map((v) => v[1])))));
          } else {
            for (const [jobId, value] of votes) events.push(...(await eventsOf(f.pmhe, pmhe.commitResult(jobId, value))));
          }
        }
        const state = [];
        for (const jobId of f.jobs) {
          const job = await f.pmhe.jobOf(jobId);
          const ballots = await Promise.all([f.c1, f.c2, f.c3].map((c) => f.pmhe.voteOf(jobId, c.address)));
          state.push([job.status, job.resultHash, await f.pmhe.conflictCount(jobId), ...ballots]);
        }
        return { events, state };
      };

      const single = await run(false);
      const batched = await run(true);
      expect(batched).to.deep.equal(single);
      // The scenario exercises what it claims to.
      const names = single.events.map((e) => e[0]);
      expect(names.filter((n) => n === "ResultConflict")).to.have.length(2);
      expect(names.filter((n) => n === "JobFinalized")).to.have.length(3);
    });

    it("settles a dissenting batch at quorum 2 like commitResult: the conflict is counted and the job stays pending", async function () {
      const { pmhe, c1, c2, jobs } = await loadFixture(quorum2Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await pmhe.connect(c1).commitResult(a, result("honest"));
      await expect(pmhe.connect(c2).commitResults([a, b], [result("dissent"), result("b")]))
        .to.emit(pmhe, "ResultConflict")
        .withArgs(a, c2.address, result("dissent"), result("honest"));
      expect(await pmhe.conflictCount(a)).to.equal(1n);
      expect((await pmhe.jobOf(a)).status).to.equal(JobStatus.Requested);
      expect(await pmhe.voteCount(a, result("dissent"))).to.equal(1n);
    });
  });

  describe("skipped entries", function () {
    it("skips jobs the sender already voted on, earlier or in the same batch, with VoteSkipped(AlreadyVoted), and changes nothing for them", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await pmhe.connect(c1).commitResult(a, result("a"));

      const events = await eventsOf(pmhe, pmhe.connect(c1).commitResults([a, b, b], [result("other"), result("b"), result("b-again")]));

      const me = lower(c1.address);
      expect(events).to.deep.equal([
        ["VoteSkipped", a, me, Skip.AlreadyVoted],
        ["ResultCommitted", b, me, result("b"), 1n],
        ["JobFinalized", b, result("b"), 1n],
        ["VoteSkipped", b, me, Skip.AlreadyVoted],
      ]);
      for (const [jobId, kept, ignored] of [[a, result("a"), result("other")], [b, result("b"), result("b-again")]] as const) {
        expect(await pmhe.voteOf(jobId, c1.address)).to.equal(kept);
        expect((await pmhe.jobOf(jobId)).resultHash).to.equal(kept);
        expect(await pmhe.voteCount(jobId, ignored)).to.equal(0n);
        expect(await pmhe.conflictCount(jobId)).to.equal(0n);
      }
    });

    it("skips failed and expired jobs with VoteSkipped(JobNotPending), votes on the others, and leaves the skipped jobs as they were", async function () {
      const { pmhe, c1, c2, stranger, jobs, requestJobs } = await loadFixture(quorum1Fixture);
      const [failed, , late] = jobs as [Hash, Hash, Hash];
      await pmhe.connect(c2).reportFailure(failed, 7);
      await time.increase(DEFAULT_TIMEOUT + 1n);
      await pmhe.connect(stranger).expireJob(late);
      // A job requested after the jump, still open for votes.
      const [pending] = (await requestJobs(1)) as [Hash];

      const events = await eventsOf(
        pmhe,
        pmhe.connect(c1).commitResults([failed, late, pending], [result("f"), result("l"), result("p")]),
      );
      const me = lower(c1.address);
      expect(events).to.deep.equal([
        ["VoteSkipped", failed, me, Skip.JobNotPending],
        ["VoteSkipped", late, me, Skip.JobNotPending],
        ["ResultCommitted", pending, me, result("p"), 1n],
        ["JobFinalized", pending, result("p"), 1n],
      ]);
      expect((await pmhe.jobOf(failed)).status).to.equal(JobStatus.Failed);
      expect((await pmhe.jobOf(failed)).failureReason).to.equal(7n);
      expect((await pmhe.jobOf(late)).status).to.equal(JobStatus.Expired);
      for (const jobId of [failed, late]) {
        expect(await pmhe.voteOf(jobId, c1.address)).to.equal(ethers.ZeroHash);
        expect(await pmhe.conflictCount(jobId)).to.equal(0n);
      }
    });

    it("skips jobs past their deadline with VoteSkipped(VotingClosed), finalized ones included, and votes on the others", async function () {
      const { pmhe, c1, c2, jobs, requestJobs } = await loadFixture(quorum1Fixture);
      const [open, finalized] = jobs as [Hash, Hash];
      await pmhe.connect(c2).commitResult(finalized, result("final"));
      const { deadline } = await pmhe.jobOf(open);
      await time.increaseTo(deadline + 1n);
      const [fresh] = (await requestJobs(1)) as [Hash];

      const me = lower(c1.address);
      expect(
        await eventsOf(pmhe, pmhe.connect(c1).commitResults([open, finalized, fresh], [result("o"), result("f"), result("n")])),
      ).to.deep.equal([
        ["VoteSkipped", open, me, Skip.VotingClosed],
        ["VoteSkipped", finalized, me, Skip.VotingClosed],
        ["ResultCommitted", fresh, me, result("n"), 1n],
        ["JobFinalized", fresh, result("n"), 1n],
      ]);
      expect((await pmhe.jobOf(open)).status).to.equal(JobStatus.Requested);
      expect(await pmhe.voteOf(open, c1.address)).to.equal(ethers.ZeroHash);
      expect(await pmhe.voteOf(finalized, c1.address)).to.equal(ethers.ZeroHash);
      expect(await pmhe.conflictCount(finalized)).to.equal(0n);
    });

    it("emits only VoteSkipped when every entry is skipped", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a] = jobs as [Hash];
      await pmhe.connect(c1).commitResult(a, result("a"));
      expect(await eventsOf(pmhe, pmhe.connect(c1).commitResults([a], [result("a")]))).to.deep.equal([
        ["VoteSkipped", a, lower(c1.address), Skip.AlreadyVoted],
      ]);
    });
  });

  describe("refusals", function () {
    it("is restricted to COPROCESSOR_ROLE", async function () {
      const { pmhe, stranger, patient, jobs } = await loadFixture(quorum1Fixture);
      for (const caller of [stranger, patient]) {
        await expect(pmhe.connect(caller).commitResults([jobs[0]!], [result(0)]))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, COPROCESSOR_ROLE);
      }
      expect((await pmhe.jobOf(jobs[0]!)).status).to.equal(JobStatus.Requested);
    });

    it("reverts EmptyCommitBatch for no entries", async function () {
      const { pmhe, c1 } = await loadFixture(quorum1Fixture);
      await expect(pmhe.connect(c1).commitResults([], [])).to.be.revertedWithCustomError(pmhe, "EmptyCommitBatch");
    });

    it("reverts CommitBatchLengthMismatch when the arrays differ in length, either way", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      await expect(pmhe.connect(c1).commitResults(jobs.slice(0, 2), [result(0)]))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(2n, 1n);
      await expect(pmhe.connect(c1).commitResults(jobs.slice(0, 1), [result(0), result(1)]))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(1n, 2n);
      // The lengths are checked before the size, so an empty id list with a hash is a mismatch.
      await expect(pmhe.connect(c1).commitResults([], [result(0)]))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(0n, 1n);
    });

    it("accepts MAX_COMMIT_BATCH (32) entries and reverts CommitBatchTooLarge above", async function () {
      const { pmhe, c1, requestJobs } = await loadFixture(deployFixture);
      expect(await pmhe.MAX_COMMIT_BATCH()).to.equal(BigInt(MAX_COMMIT_BATCH));
      const jobs = await requestJobs(MAX_COMMIT_BATCH + 1);
      const hashes = jobs.map((_, i) => result(i));

      await expect(pmhe.connect(c1).commitResults(jobs, hashes))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchTooLarge")
        .withArgs(BigInt(MAX_COMMIT_BATCH + 1), BigInt(MAX_COMMIT_BATCH));
      expect(await pmhe.voteOf(jobs[0]!, c1.address)).to.equal(ethers.ZeroHash);

      await pmhe.connect(c1).commitResults(jobs.slice(0, MAX_COMMIT_BATCH), hashes.slice(0, MAX_COMMIT_BATCH));
      for (const [i, jobId] of jobs.entries()) {
        expect((await pmhe.jobOf(jobId)).status, `job ${i}`).to.equal(i < MAX_COMMIT_BATCH ? JobStatus.Finalized : JobStatus.Requested);
      }
    });

    it("reverts the whole batch for an unknown job id, a zero result hash or a reserved result hash, whatever the valid entries before it", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      const unknown = h("no such job");
      await expect(pmhe.connect(c1).commitResults([a, unknown], [result("a"), result("u")]))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
      await expect(pmhe.connect(c1).commitResults([a, b], [result("a"), ethers.ZeroHash])).to.be.revertedWithCustomError(
        pmhe,
        "ZeroHash",
      );
      const reserved = ethers.toBeHex(0xffff, 32);
      await expect(pmhe.connect(c1).commitResults([a, b], [result("a"), reserved]))
        .to.be.revertedWithCustomError(pmhe, "ReservedResultHash")
        .withArgs(reserved);
      expect(await pmhe.voteOf(a, c1.address)).to.equal(ethers.ZeroHash);
      expect((await pmhe.jobOf(a)).status).to.equal(JobStatus.Requested);
    });

    it("reverts for an unknown job id even after skipped entries: skipping is only for jobs that exist", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await pmhe.connect(c1).commitResult(a, result("a"));
      await expect(pmhe.connect(c1).commitResults([a, b, h("missing")], [result("a"), result("b"), result("m")]))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(h("missing"));
      expect(await pmhe.voteOf(b, c1.address)).to.equal(ethers.ZeroHash);
    });
  });
});

describe("PredictionJobs.castVotes", function () {
  describe("voting", function () {
    it("casts the results first, then the failures: a job in both lists is finalized and its failure entry skipped", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b, c] = jobs as [Hash, Hash, Hash];
      const me = lower(c1.address);
      const events = await eventsOf(
        pmhe,
        pmhe.connect(c1).castVotes([a, b], [result("a"), result("b")], [b, c], [FailureReason.EvaluationError, 9]),
      );
      expect(events).to.deep.equal([
        ["ResultCommitted", a, me, result("a"), 1n],
        ["JobFinalized", a, result("a"), 1n],
        ["ResultCommitted", b, me, result("b"), 1n],
        ["JobFinalized", b, result("b"), 1n],
        ["VoteSkipped", b, me, Skip.AlreadyVoted],
        ["FailureReported", c, me, 9n, 1n],
        ["JobFailed", c, 9n, 1n],
      ]);
      expect((await pmhe.jobOf(b)).status).to.equal(JobStatus.Finalized);
      expect((await pmhe.jobOf(c)).status).to.equal(JobStatus.Failed);
      expect((await pmhe.jobOf(c)).failureReason).to.equal(9n);
    });

    it("produces the same events and state as commitResult then reportFailure one by one, at quorum 2 with conflicts", async function () {
      // c1 votes results on 0 and 1 and a failure on 2; c2 agrees on 0, fails 1 (a conflict), fails 2 alike; c3 fails 1.
      type Vote = readonly [Hash, Hash | number];
      const plan = ([j0, j1, j2]: Hash[]) =>
        [
          { voter: "c1", results: [[j0!, result("x")], [j1!, result("y")]], failures: [[j2!, 5]] },
          { voter: "c2", results: [[j0!, result("x")]], failures: [[j1!, 11], [j2!, 5]] },
          { voter: "c3", results: [], failures: [[j1!, 11]] },
        ] as { voter: "c1" | "c2" | "c3"; results: Vote[]; failures: Vote[] }[];

      const run = async (batched: boolean) => {
        const f = await loadFixture(quorum2Fixture);
        const signers = { c1: f.c1, c2: f.c2, c3: f.c3 };
        const events: unknown[][] = [];
        for (const { voter, results, failures } of plan(f.jobs)) {
          const pmhe = f.pmhe.connect(signers[voter]);
          if (batched) {
            const tx = pmhe.castVotes(
              results.map((v) => v[0]),
              results.map((v) => v[1] as Hash),
              failures.map((v) => v[0]),
              failures.map((v) => v[1] as number),
            );
            events.push(...(await eventsOf(f.pmhe, tx)));
          } else {
            for (const [jobId, value] of results) events.push(...(await eventsOf(f.pmhe, pmhe.commitResult(jobId, value as Hash))));
            for (const [jobId, reason] of failures) events.push(...(await eventsOf(f.pmhe, pmhe.reportFailure(jobId, reason as number))));
          }
        }
        const state = [];
        for (const jobId of f.jobs) {
          const job = await f.pmhe.jobOf(jobId);
          const ballots = await Promise.all([f.c1, f.c2, f.c3].map((c) => f.pmhe.voteOf(jobId, c.address)));
          state.push([job.status, job.resultHash, job.failureReason, job.votes, await f.pmhe.conflictCount(jobId), ...ballots]);
        }
        return { events, state };
      };

      const single = await run(false);
      const batched = await run(true);
      expect(batched).to.deep.equal(single);
      const names = single.events.map((e) => e[0]);
      expect(names.filter((n) => n === "JobFinalized")).to.have.length(1);
      expect(names.filter((n) => n === "JobFailed")).to.have.length(2);
      expect(names.filter((n) => n === "ResultConflict")).to.have.length(2);
    });

    it("accepts either list empty", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await expect(pmhe.connect(c1).castVotes([a], [result("a")], [], [])).to.emit(pmhe, "JobFinalized").withArgs(a, result("a"), 1n);
      await expect(pmhe.connect(c1).castVotes([], [], [b], [3])).to.emit(pmhe, "JobFailed").withArgs(b, 3n, 1n);
    });

    it("skips failure entries like result entries: already voted, failed or expired, past the deadline", async function () {
      const { pmhe, c1, c2, stranger, jobs } = await loadFixture(quorum1Fixture);
      const [voted, failed, expired, closed] = jobs as [Hash, Hash, Hash, Hash];
      await pmhe.connect(c1).commitResult(voted, result("v"));
      await pmhe.connect(c2).reportFailure(failed, 4);
      const me = lower(c1.address);
      expect(await eventsOf(pmhe, pmhe.connect(c1).castVotes([], [], [voted, failed], [1, 1]))).to.deep.equal([
        ["VoteSkipped", voted, me, Skip.AlreadyVoted],
        ["VoteSkipped", failed, me, Skip.JobNotPending],
      ]);

      const { deadline } = await pmhe.jobOf(closed);
      await time.increaseTo(deadline + 1n);
      await pmhe.connect(stranger).expireJob(expired);
      expect(await eventsOf(pmhe, pmhe.connect(c1).castVotes([], [], [expired, closed], [1, 1]))).to.deep.equal([
        ["VoteSkipped", expired, me, Skip.JobNotPending],
        ["VoteSkipped", closed, me, Skip.VotingClosed],
      ]);
      expect((await pmhe.jobOf(closed)).status).to.equal(JobStatus.Requested);
      expect((await pmhe.jobOf(failed)).failureReason).to.equal(4n);
    });
  });

  describe("refusals", function () {
    it("is restricted to COPROCESSOR_ROLE, including a revoked coprocessor", async function () {
      const { pmhe, admin, c1, stranger, patient, jobs } = await loadFixture(quorum1Fixture);
      await pmhe.connect(admin).revokeRole(COPROCESSOR_ROLE, c1.address);
      for (const caller of [stranger, patient, c1]) {
        await expect(pmhe.connect(caller).castVotes([jobs[0]!], [result(0)], [jobs[1]!], [1]))
          .to.be.revertedWithCustomError(pmhe, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, COPROCESSOR_ROLE);
      }
    });

    it("reverts EmptyCommitBatch when both lists are empty", async function () {
      const { pmhe, c1 } = await loadFixture(quorum1Fixture);
      await expect(pmhe.connect(c1).castVotes([], [], [], [])).to.be.revertedWithCustomError(pmhe, "EmptyCommitBatch");
    });

    it("reverts CommitBatchLengthMismatch for either pair of lists, the results' first", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      await expect(pmhe.connect(c1).castVotes([a, b], [result(0)], [], []))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(2n, 1n);
      await expect(pmhe.connect(c1).castVotes([], [], [a], [1, 2]))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(1n, 2n);
      await expect(pmhe.connect(c1).castVotes([a], [], [a, b, b], [1]))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(1n, 0n);
      await expect(pmhe.connect(c1).castVotes([], [result(0)], [], []))
        .to.be.revertedWithCustomError(pmhe, "CommitBatchLengthMismatch")
        .withArgs(0n, 1n);
    });

    it("accepts MAX_COMMIT_BATCH entries in total and reverts CommitBatchTooLarge above, counted over both lists", async function () {
      const { pmhe, c1, requestJobs } = await loadFixture(deployFixture);
      const jobs = await requestJobs(MAX_COMMIT_BATCH + 1);
      const split = (nResults: number, total: number) => {
        const picked = jobs.slice(0, total);
        return [
          picked.slice(0, nResults),
          picked.slice(0, nResults).map((_, i) => result(i)),
          picked.slice(nResults),
          picked.slice(nResults).map(() => 10),
        ] as const;
      };
      for (const nResults of [0, 17, MAX_COMMIT_BATCH + 1]) {
        await expect(pmhe.connect(c1).castVotes(...split(nResults, MAX_COMMIT_BATCH + 1)))
          .to.be.revertedWithCustomError(pmhe, "CommitBatchTooLarge")
          .withArgs(BigInt(MAX_COMMIT_BATCH + 1), BigInt(MAX_COMMIT_BATCH));
      }
      expect(await pmhe.voteOf(jobs[0]!, c1.address)).to.equal(ethers.ZeroHash);

      await pmhe.connect(c1).castVotes(...split(20, MAX_COMMIT_BATCH));
      for (const [i, jobId] of jobs.entries()) {
        const expected = i < 20 ? JobStatus.Finalized : i < MAX_COMMIT_BATCH ? JobStatus.Failed : JobStatus.Requested;
        expect((await pmhe.jobOf(jobId)).status, `job ${i}`).to.equal(expected);
      }
    });

    it("reverts the whole call for a zero reason, a zero or reserved result hash, or an unknown job in either list", async function () {
      const { pmhe, c1, jobs } = await loadFixture(quorum1Fixture);
      const [a, b] = jobs as [Hash, Hash];
      const unknown = h("no such job");
      await expect(pmhe.connect(c1).castVotes([a], [result("a")], [b], [0]))
        .to.be.revertedWithCustomError(pmhe, "InvalidFailureReason")
        .withArgs(0n);
      await expect(pmhe.connect(c1).castVotes([a], [ethers.ZeroHash], [b], [1])).to.be.revertedWithCustomError(pmhe, "ZeroHash");
      const reserved = ethers.toBeHex(15, 32);
      await expect(pmhe.connect(c1).castVotes([a], [reserved], [b], [1]))
        .to.be.revertedWithCustomError(pmhe, "ReservedResultHash")
        .withArgs(reserved);
      await expect(pmhe.connect(c1).castVotes([a], [result("a")], [unknown], [1]))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
      await expect(pmhe.connect(c1).castVotes([unknown], [result("u")], [b], [1]))
        .to.be.revertedWithCustomError(pmhe, "UnknownJob")
        .withArgs(unknown);
      for (const jobId of [a, b]) {
        expect(await pmhe.voteOf(jobId, c1.address)).to.equal(ethers.ZeroHash);
        expect((await pmhe.jobOf(jobId)).status).to.equal(JobStatus.Requested);
      }
    });
  });
});
