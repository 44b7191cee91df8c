import { expect } from "chai";
import { globalOptions } from "hardhat";

import type { Hash } from "../../protocol/hash.js";
import {
  BATCH_RECORDS,
  COPROCESSOR_ROLE,
  MAX_BATCH_SIZE,
  MAX_COMMIT_BATCH,
  RECORD_1,
  RECORD_2,
  RESULT_1,
  RESULT_2,
  batchFixture,
  consentFixture,
  gasOf,
  h,
  loadFixture,
  pendingJobFixture,
  quorumFixture,
  recordAndModelFixture,
  requestJobs,
  result,
} from "./fixtures.js";

/** Gas of each measured operation, printed at the end of the suite (docs/gas.md keeps the figures). */
const measured = new Map<string, number | string>();
const record = (name: string, gas: number): number => {
  measured.set(name, gas);
  return gas;
};

/** Budgets checked on every uninstrumented run: the measured figures with a little headroom. */
const BUDGET = {
  anchorRecord: 55_000, // measured 51,541
  anchorBatch: 55_000, // 52,113 / 52,137
  requestPrediction: 115_000, // 111,167
  requestPredictionByHospital: 118_000, // 114,039
  anchorAndRequest: 140_000, // 134,308
  requestBatchPrediction: 145_000, // 139,617 to 140,386
  commitResult: 86_000, // 82,683
  reportFailure: 86_000, // 82,416
} as const;

describe("PMHE: gas budgets", function () {
  before(function () {
    // Coverage instrumentation adds gas to every call, so the budgets only hold on uninstrumented runs.
    if (globalOptions.coverage) this.skip();
  });

  after(function () {
    if (measured.size === 0) return;
    console.log("\n    Measured gas (total per transaction):");
    for (const [name, gas] of measured) console.log(`      ${name.padEnd(62)} ${gas.toLocaleString("en-US").padStart(10)}`);
  });

  it(`anchorRecord costs at most ${BUDGET.anchorRecord}`, async function () {
    const { pmhe, patient } = await loadFixture(recordAndModelFixture);
    expect(record("anchorRecord", await gasOf(pmhe.connect(patient).anchorRecord(RECORD_2)))).to.be.at.most(BUDGET.anchorRecord);
  });

  it(`anchorBatch costs at most ${BUDGET.anchorBatch} whatever the count`, async function () {
    const { pmhe, patient } = await loadFixture(recordAndModelFixture);
    const one = record("anchorBatch, count 1", await gasOf(pmhe.connect(patient).anchorBatch(h("root-1"), 1)));
    const max = record("anchorBatch, count 16,777,215", await gasOf(pmhe.connect(patient).anchorBatch(h("root-2"), MAX_BATCH_SIZE)));
    expect(one).to.be.at.most(BUDGET.anchorBatch);
    expect(max).to.be.at.most(BUDGET.anchorBatch);
  });

  it(`requestPrediction costs at most ${BUDGET.requestPrediction} for the patient, ${BUDGET.requestPredictionByHospital} for a consented hospital`, async function () {
    const { pmhe, patient, hospital, model1 } = await loadFixture(consentFixture);
    const request = (by: typeof patient) => gasOf(pmhe.connect(by).requestPrediction(patient.address, RECORD_1, model1));
    expect(record("requestPrediction, patient's first", await request(patient))).to.be.at.most(BUDGET.requestPrediction);
    expect(record("requestPrediction, patient's later", await request(patient))).to.be.at.most(BUDGET.requestPrediction);
    expect(record("requestPrediction, consented hospital", await request(hospital))).to.be.at.most(
      BUDGET.requestPredictionByHospital,
    );
  });

  it(`anchorAndRequest costs at most ${BUDGET.anchorAndRequest}, less than anchorRecord plus requestPrediction`, async function () {
    const { pmhe, patient, model1 } = await loadFixture(recordAndModelFixture);
    const both = record("anchorAndRequest", await gasOf(pmhe.connect(patient).anchorAndRequest(RECORD_2, model1)));
    const anchor = await gasOf(pmhe.connect(patient).anchorRecord(h("record-3")));
    const request = await gasOf(pmhe.connect(patient).requestPrediction(patient.address, h("record-3"), model1));
    expect(both).to.be.at.most(BUDGET.anchorAndRequest);
    // One transaction saves the second 21,000 intrinsic gas, less the nonce slot it now writes warm.
    expect(both).to.be.below(anchor + request - 15_000);
  });

  it(`requestBatchPrediction costs at most ${BUDGET.requestBatchPrediction} on a 3-record batch`, async function () {
    const { pmhe, patient, tree, model1 } = await loadFixture(batchFixture);
    const costs: number[] = [];
    for (const recordHash of BATCH_RECORDS) {
      const proof = tree.proofOf(recordHash);
      const gas = await gasOf(pmhe.connect(patient).requestBatchPrediction(patient.address, tree.root, recordHash, proof, model1));
      costs.push(gas);
      expect(gas, `proof of ${proof.length}`).to.be.at.most(BUDGET.requestBatchPrediction);
    }
    measured.set("requestBatchPrediction, 3-record batch (proof of 1 or 2)", `${Math.min(...costs)}-${Math.max(...costs)}`);
  });

  it(`commitResult at quorum 1 costs at most ${BUDGET.commitResult}; late votes are measured`, async function () {
    const { pmhe, admin, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(pendingJobFixture);
    await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
    await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor3.address);
    expect(record("commitResult, quorum 1 (finalizing)", await gasOf(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1)))).to.be.at.most(
      BUDGET.commitResult,
    );
    record("commitResult, quorum 1, late agreeing", await gasOf(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_1)));
    record("commitResult, quorum 1, late dissenting", await gasOf(pmhe.connect(coprocessor3).commitResult(jobId, RESULT_2)));
  });

  it("commitResult at quorum 2: first, dissenting and decisive votes stay under 110k", async function () {
    const { pmhe, coprocessor, coprocessor2, coprocessor3, jobId } = await loadFixture(quorumFixture);
    const first = record("commitResult, quorum 2, first vote", await gasOf(pmhe.connect(coprocessor).commitResult(jobId, RESULT_1)));
    const dissent = record("commitResult, quorum 2, dissenting", await gasOf(pmhe.connect(coprocessor2).commitResult(jobId, RESULT_2)));
    const decisive = record("commitResult, quorum 2, decisive", await gasOf(pmhe.connect(coprocessor3).commitResult(jobId, RESULT_1)));
    for (const gas of [first, dissent, decisive]) expect(gas).to.be.below(110_000);
    // The first vote writes no tally slot; the decisive one writes one.
    expect(first).to.be.below(decisive);
  });

  it(`reportFailure at quorum 1 costs at most ${BUDGET.reportFailure}`, async function () {
    const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
    expect(record("reportFailure, quorum 1 (failing)", await gasOf(pmhe.connect(coprocessor).reportFailure(jobId, 11)))).to.be.at.most(
      BUDGET.reportFailure,
    );
  });

  /** Gas per entry of a finalizing batch of `size` at quorum 1, and of one commitResult on a job alike. */
  async function perEntry(size: number): Promise<{ single: number; batch: number; total: number }> {
    const { pmhe, patient, coprocessor, model1 } = await loadFixture(recordAndModelFixture);
    const jobs = await requestJobs(pmhe, patient, model1, size + 1);
    const single = await gasOf(pmhe.connect(coprocessor).commitResult(jobs[size]!, result("single")));
    const total = await gasOf(
      pmhe.connect(coprocessor).commitResults(jobs.slice(0, size), jobs.slice(0, size).map((_, i) => result(i))),
    );
    return { single, batch: total / size, total };
  }

  it("commitResults costs less per entry than commitResult from 8 entries on, a lone entry at most 3k more", async function () {
    const one = await perEntry(1);
    const eight = await perEntry(8);
    const full = await perEntry(MAX_COMMIT_BATCH);
    record("commitResults, 1 entry", one.total);
    record("commitResults, 8 entries", eight.total);
    record("commitResults, 32 entries", full.total);
    expect(one.batch).to.be.at.most(one.single + 3_000);
    expect(eight.batch).to.be.below(eight.single - 15_000);
    expect(full.batch).to.be.below(full.single - 18_000);
    // A full batch stays far below a block's gas: 32 finalizing votes under 2M.
    expect(full.total).to.be.below(2_000_000);
  });

  it("castVotes with mixed entries costs per entry about what commitResults does", async function () {
    const { pmhe, patient, coprocessor, model1 } = await loadFixture(recordAndModelFixture);
    const jobs = await requestJobs(pmhe, patient, model1, 2 * 8 + 2);
    const results = jobs.slice(0, 4);
    const failures = jobs.slice(4, 8);
    const mixed = record(
      "castVotes, 4 results + 4 failures",
      await gasOf(pmhe.connect(coprocessor).castVotes(results, results.map((_, i) => result(i)), failures, failures.map(() => 11))),
    );
    const onlyResults = jobs.slice(8, 16);
    const batch = await gasOf(pmhe.connect(coprocessor).commitResults(onlyResults, onlyResults.map((_, i) => result(`r${i}`))));
    const [r, f] = jobs.slice(16) as [Hash, Hash];
    record("castVotes, 1 result + 1 failure", await gasOf(pmhe.connect(coprocessor).castVotes([r], [result("r")], [f], [11])));
    // Same work per entry; the second pair of arrays costs a little calldata.
    expect(mixed).to.be.below(batch + 3_000);
    expect(mixed / 8).to.be.below(62_000);
  });

  it("a batch of one skipped entry writes nothing and costs under 36k", async function () {
    const { pmhe, coprocessor, jobId } = await loadFixture(pendingJobFixture);
    await pmhe.connect(coprocessor).commitResult(jobId, RESULT_1);
    const skipped = record("commitResults, 1 skipped entry", await gasOf(pmhe.connect(coprocessor).commitResults([jobId], [RESULT_2])));
    expect(skipped).to.be.below(36_000);
    expect(await pmhe.voteCount(jobId, RESULT_2)).to.equal(0n);
  });
});
