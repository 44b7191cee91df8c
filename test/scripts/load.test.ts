import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { formatReport, type LoadReport } from "../../scripts/lib/load-report.js";
import { DEFAULT_LOAD_OPTIONS, runLoad, SPOT_CHECK_TOLERANCE } from "../../scripts/lib/load-run.js";
import { expectClose } from "../helpers/close.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** What every complete run must satisfy: the numbers agree with each other and the work really happened. */
function expectConsistentReport(report: LoadReport, jobs: number, recordsPerJob: number): void {
  expect(report.jobs).to.equal(jobs);
  // One coprocessor at quorum 1, and the report says so.
  expect(report.settings.quorum).to.equal(1);
  expect(formatReport(report)).to.contain("| quorum | 1 (one operator decides each result: development only) |");
  expect(report.recordsPerJob).to.equal(recordsPerJob);
  expect(report.outcomes).to.include({ settled: jobs, finalized: jobs, failed: 0, expired: 0, requestErrors: 0, unsettled: 0 });
  expect(report.elapsedSeconds).to.be.greaterThan(0);
  expectClose(report.jobsPerSecond, jobs / report.elapsedSeconds, 1e-9, "jobs/s");
  expectClose(report.recordsPerSecond, (jobs * recordsPerJob) / report.elapsedSeconds, 1e-9, "records/s");

  const latency = report.latencySeconds!;
  expect(latency.p50).to.be.greaterThan(0);
  expect(latency.p50).to.be.at.most(latency.p95);
  expect(latency.p95).to.be.at.most(latency.p99);
  expect(latency.p99).to.be.at.most(latency.max);
  // No job can take longer than the run it belongs to.
  expect(latency.max).to.be.at.most(report.elapsedSeconds);

  expect(report.redis.usedMemoryBytes).to.be.greaterThan(0);
  expect(report.redis.usedMemoryPeakBytes).to.be.at.least(report.redis.usedMemoryBytes);
  expect(report.coprocessor.peakRssBytes).to.be.greaterThan(0);
  expect(report.coprocessor.rssSamples).to.be.greaterThan(0);
  // The coprocessor evaluated every job itself: its histogram saw them.
  expect(report.coprocessor.meanEvaluationSeconds).to.be.greaterThan(0);
  // Every request is one transaction of its own (anchorAndRequest: the preparation anchored nothing), mined during the run.
  expect(report.diagnostics.blocksMined).to.be.at.least(jobs);

  expect(report.spotCheck.ok).to.equal(true);
  expect(report.spotCheck.problems).to.deep.equal([]);
  expect(report.spotCheck.jobs).to.be.within(1, jobs);
  expect(report.spotCheck.records).to.equal(report.spotCheck.jobs * recordsPerJob);
  expect(report.spotCheck.maxLogitError).to.be.below(1e-3);
  expect(report.spotCheck.maxLogitError).to.be.at.most(SPOT_CHECK_TOLERANCE);
  expect(report.ok).to.equal(true);
}

describe("load command (hardhat node, redis-server, coprocessor process)", function () {
  this.timeout(120_000);

  it("pushes single-record jobs through the whole system and reports consistent numbers", async function () {
    const report = await runLoad({ ...DEFAULT_LOAD_OPTIONS, jobs: 12, patients: 2, mode: "single", workerConcurrency: 2 });
    expectConsistentReport(report, 12, 1);
    expect(report.settings).to.include({ mode: "single", layout: "single-record", parameterSet: "ckks-n8192-d3", patients: 2, workerConcurrency: 2 });
    expect(report.offeredRate).to.equal(null);
  });

  it("pushes packed jobs, each a full packed ciphertext of real readings, through the whole system", async function () {
    const report = await runLoad({ ...DEFAULT_LOAD_OPTIONS, jobs: 12, patients: 2, mode: "packed", workerConcurrency: 2 });
    expectConsistentReport(report, 12, 256);
    expect(report.settings).to.include({ mode: "packed", layout: "packed-records", recordsPerJob: 256 });
  });

  it("prints the report as one JSON object on stdout with --json", async function () {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts", "load.ts"), "--jobs", "4", "--patients", "1", "--rate", "20", "--json"],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout) as LoadReport;
    expectConsistentReport(report, 4, 1);
    expect(report.settings).to.include({ mode: "single", rate: 20, patients: 1 });
    expect(report.offeredRate).to.equal(20);
  });
});
