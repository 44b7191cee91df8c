import { expect } from "chai";
import type { ContractTransactionResponse, LogDescription } from "ethers";
import { globalOptions, network } from "hardhat";

import type { Hash } from "../../protocol/hash.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

/** Mirrors `IPredictionJobs.JobStatus`. */
const JobStatus = { Requested: 1n, Finalized: 2n, Failed: 3n, Expired: 4n } as const;
/** Mirrors `IPredictionJobs.VoteSkipReason`, as documented for {VoteSkipped}. */
const Skip = { AlreadyVoted: 1n, JobNotPending: 2n } as const;

const COPROCESSOR_ROLE = ethers.id("COPROCESSOR_ROLE");
const DEFAULT_TIMEOUT = 3600;
const MAX_COMMIT_BATCH = 32;

const h = (label: string): Hash => ethers.id(label) as Hash;
const KEYS = h("key-bundle");
const RECORD = h("record");
const MODEL = h("model");
const result = (label: string | number): Hash => h(`result-${label}`);

/** PMHE with three coprocessors and one patient whose record and model are ready for jobs. */
async function deployFixture() {
  const signers = await ethers.getSigners();
  const at = (i: number) => {
    const signer = signers[i];
    if (!signer) throw new Error("not enough signers");
    return signer;
  };
  const [admin, hospital, c1, c2, c3, patient, stranger] = [at(0), at(1), at(2), at(3), at(4), at(5), at(6)];
  const pmhe = await ethers.deployContract("PMHE", [admin.address]);
  await pmhe.connect(admin).registerHospital(hospital.address, h("hospital-key"), "https://hospital.example/key");
  for (const c of [c1, c2, c3]) await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, c.address);
  await pmhe.connect(patient).registerKeys(KEYS, "blob://keys");
  await pmhe.connect(patient).anchorRecord(RECORD);
  await pmhe.connect(hospital).publishModel(MODEL, "heart-risk", 1, "blob://model");

  /** Requests `n` jobs on the patient's record and returns their ids. */
  const requestJobs = async (n: number): Promise<Hash[]> => {
    const ids: Hash[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await pmhe.nextJobId(patient.address)) as Hash);
      await pmhe.connect(patient).requestPrediction(RECORD, MODEL);
    }
    return ids;
  };
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

type Pmhe = Awaited<ReturnType<typeof deployFixture>>["pmhe"];

/** The contract's events in a transaction, in order, as `[name, ...args]` with addresses and hashes lower-cased. */
async function eventsOf(pmhe: Pmhe, tx: Promise<ContractTransactionResponse> | ContractTransactionResponse): Promise<unknown[][]> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.logs
    .map((log) => pmhe.interface.parseLog(log))
    .filter((parsed): parsed is LogDescription => parsed !== null)
    .map((parsed) => [parsed.name, ...parsed.args.toArray().map((v: unknown) => (typeof v === "string" ? v.toLowerCase() : v))]);
}

const lower = (value: string) => value.toLowerCase();

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
      const { pmhe, c1, c2, stranger, jobs } = await loadFixture(quorum1Fixture);
      const [failed, pending, late] = jobs as [Hash, Hash, Hash];
      await pmhe.connect(c2).reportFailure(failed, 7);
      await time.increase(DEFAULT_TIMEOUT + 1);
      await pmhe.connect(stranger).expireJob(late);

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
      await expect(pmhe.connect(c1).commitResults([], [result(0)]))
        .to.be.revertedWithCustomError(pmhe, "EmptyCommitBatch");
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

  describe("gas", function () {
    before(function () {
      // Coverage instrumentation adds gas to every call, so the figures only hold on uninstrumented runs.
      if (globalOptions.coverage) this.skip();
    });

    const gasOf = async (tx: Promise<ContractTransactionResponse>): Promise<number> => {
      const receipt = await (await tx).wait();
      if (!receipt) throw new Error("no receipt");
      return Number(receipt.gasUsed);
    };

    /** Gas per entry of a finalizing batch of `size` at quorum 1, and of one commitResult on a job alike. */
    async function perEntry(size: number): Promise<{ single: number; batch: number }> {
      const { pmhe, c1, requestJobs } = await loadFixture(deployFixture);
      const jobs = await requestJobs(size + 1);
      const single = await gasOf(pmhe.connect(c1).commitResult(jobs[size]!, result("single")));
      const batch = await gasOf(pmhe.connect(c1).commitResults(jobs.slice(0, size), jobs.slice(0, size).map((_, i) => result(i))));
      return { single, batch: batch / size };
    }

    it("costs less per entry than commitResult from 8 entries on, and a lone entry at most 3k more", async function () {
      const one = await perEntry(1);
      const eight = await perEntry(8);
      const full = await perEntry(MAX_COMMIT_BATCH);
      if (process.env.PMHE_PRINT_GAS) {
        console.log(`commitResult ${one.single}; commitResults per entry: 1 → ${one.batch}, 8 → ${eight.batch}, 32 → ${full.batch}`);
      }
      expect(one.batch).to.be.at.most(one.single + 3_000);
      expect(eight.batch).to.be.below(eight.single - 15_000);
      expect(full.batch).to.be.below(full.single - 18_000);
      // A full batch stays far below a block's gas: 32 finalizing votes under 2M.
      expect(full.batch * MAX_COMMIT_BATCH).to.be.below(2_000_000);
    });
  });
});
