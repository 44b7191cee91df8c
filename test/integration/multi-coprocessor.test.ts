import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { ZeroHash } from "ethers";
import { auditJobs } from "../../protocol/job-history.js";
import { DisputedResultError } from "../../client/errors.js";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { publishModel } from "../../hospital/publish-model.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import { parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";
import { rejectionOf } from "../helpers/rejection.js";

const ROOT = join(import.meta.dirname, "..", "..");
const JOBS = 4;
/** How long the faulty operator sits on every other result: long enough for the honest pair to finalize first. */
const LATE_VOTE_DELAY_MS = 1_500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lower = (value: string) => value.toLowerCase() as Hash;

/**
 * A dishonest operator: flips one byte of every result ciphertext (so its committed hash differs), and holds back
 * every other result so that some of its votes arrive after the honest quorum settled the job.
 */
function faultyTransform(): (bytes: Uint8Array) => Promise<Uint8Array> {
  let calls = 0;
  return async (bytes) => {
    const altered = Uint8Array.from(bytes);
    altered[altered.length - 64]! ^= 0x5a;
    if (calls++ % 2 === 1) await sleep(LATE_VOTE_DELAY_MS);
    return altered;
  };
}

describe("three coprocessors, quorum 2, one of them dishonest (hardhat node, redis-server, BullMQ, node-seal)", function () {
  let stack: LocalStack;
  let engine: CkksEngine;
  let model: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let honest: string[];
  let faulty: string;
  const patients: PatientClient[] = [];

  before(async function () {
    model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
    const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
    const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
    readings = test.map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [model.target.column]));
    stack = await startLocalStack({
      quorum: 2,
      coprocessorEnv: { PMHE_OPERATOR_PORT: "0" },
      coprocessors: [
        {},
        {},
        // The faulty one polls fastest (it sees every request before the honest pair can settle it) and works on
        // several jobs at once, so its held-back results never make it skip the next job.
        { env: { PMHE_POLL_INTERVAL_MS: "50", PMHE_WORKER_CONCURRENCY: "4" }, options: { resultTransform: faultyTransform() } },
      ],
    });
    honest = [stack.coprocessors[0]!.operator, stack.coprocessors[1]!.operator];
    faulty = stack.coprocessors[2]!.operator;
    engine = await CkksEngine.create(model.fhe.parameterSet);
    const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    ref = { model, id: modelId };
    for (let i = 0; i < 2; i++) {
      patients.push((await stack.newPatientClient(engine)).client);
    }
  });

  after(async function () {
    patients.forEach((p) => p.dispose());
    engine?.dispose();
    await stack?.stop();
  });

  it("runs three distinct operators, all holding the coprocessor role, over one blob store", async function () {
    expect(new Set([...honest, faulty]).size).to.equal(3);
    const role = await stack.contract.COPROCESSOR_ROLE();
    for (const operator of [...honest, faulty]) expect(await stack.contract.hasRole(role, operator), operator).to.equal(true);
    expect(Number(await stack.contract.quorum())).to.equal(2);
  });

  it("finalizes every job with the honest pair's hash, decrypts like the plaintext model, and keeps the dissent on-chain and in the audit", async function () {
    this.timeout(60_000);
    const jobs: Array<{ jobId: Hash; resultHash: Hash; client: PatientClient }> = [];
    for (let i = 0; i < JOBS; i++) {
      const reading = readings[i]!;
      const client = patients[i % patients.length]!;
      // The faulty operator may or may not have voted by the time the client looks: asked to, it shows either.
      const result = await client.predict(ref, reading, { timeoutMs: 30_000, acceptDisputed: true });
      expectClose(result.probability, predictPlaintext(model, reading).probability, 1e-4, `job ${i} probability`);
      expect(result.predictedClass, `job ${i}`).to.equal(predictPlaintext(model, reading).predictedClass);
      expect(result, `job ${i}`).to.include({ quorum: 2, singleOperator: false });
      expect(result.votes, `job ${i}`).to.equal(2);
      jobs.push({ jobId: result.jobId, resultHash: result.resultHash, client });
    }

    // Let the held-back votes land (or give up on any the faulty worker skipped because the job was already final).
    const deadline = Date.now() + LATE_VOTE_DELAY_MS + 8_000;
    const faultyVotes = new Map<Hash, Hash>();
    while (Date.now() < deadline && faultyVotes.size < JOBS) {
      for (const { jobId } of jobs) {
        const vote = await stack.contract.voteOf(jobId, faulty);
        if (vote !== ZeroHash) faultyVotes.set(jobId, lower(vote));
      }
      if (faultyVotes.size < JOBS) await sleep(200);
    }
    expect(faultyVotes.size, "jobs the faulty operator voted on").to.be.at.least(JOBS / 2);

    const audited = new Map((await auditJobs(stack.contract)).map((h) => [h.jobId, h]));
    let conflictsNamingFaulty = 0;
    for (const [i, { jobId, resultHash, client }] of jobs.entries()) {
      const job = await stack.contract.jobOf(jobId);
      expect(Number(job.status), `job ${i}`).to.equal(JobStatus.Finalized);
      const finalHash = lower(job.resultHash);
      expect(finalHash, `job ${i}`).to.equal(resultHash);
      // The honest hash: both honest operators committed exactly the finalized value.
      for (const operator of honest) expect(lower(await stack.contract.voteOf(jobId, operator)), `job ${i} ${operator}`).to.equal(finalHash);
      expect(Number(await stack.contract.voteCount(jobId, finalHash)), `job ${i}`).to.equal(2);
      const [finalized] = await stack.contract.queryFilter(stack.contract.filters.JobFinalized(jobId));
      expect(lower(finalized!.args.resultHash)).to.equal(finalHash);

      const committed = (await stack.contract.queryFilter(stack.contract.filters.ResultCommitted(jobId))).sort(
        (a, b) => a.blockNumber - b.blockNumber || a.index - b.index,
      );
      const conflicts = await stack.contract.queryFilter(stack.contract.filters.ResultConflict(jobId));
      expect(Number(await stack.contract.conflictCount(jobId)), `job ${i} conflictCount`).to.equal(conflicts.length);
      const faultyVote = faultyVotes.get(jobId);
      if (faultyVote === undefined) {
        // Skipped because already final: no vote, so nothing disagreed.
        expect(committed.map((e) => e.args.coprocessor).sort(), `job ${i}`).to.deep.equal([...honest].sort());
        expect(conflicts, `job ${i}`).to.have.length(0);
        expect((await client.fetchVerifiedResult(jobId)).verdict.disputed, `job ${i}`).to.equal(false);
        continue;
      }
      // The faulty operator is still in office: its vote makes the result disputed, and the client says so.
      const refused = await rejectionOf(client.fetchVerifiedResult(jobId));
      expect(refused, `job ${i}`).to.be.instanceOf(DisputedResultError);
      expect((refused as DisputedResultError).dissent.map((d) => [d.coprocessor, d.resultHash]), `job ${i}`).to.deep.equal([[faulty, faultyVote]]);
      expect(faultyVote, `job ${i}: the faulty operator's vote`).to.not.equal(finalHash);
      expect(committed.map((e) => e.args.coprocessor).sort(), `job ${i}`).to.deep.equal([...honest, faulty].sort());
      expect(Number(await stack.contract.voteCount(jobId, faultyVote)), `job ${i}`).to.equal(1);
      // Every conflict sets the wrong hash against the honest one; who it names depends on who voted first.
      expect(conflicts.length, `job ${i} conflicts`).to.be.at.least(1);
      for (const c of conflicts) {
        expect([lower(c.args.resultHash), lower(c.args.conflictingWith)].sort(), `job ${i}`).to.deep.equal([faultyVote, finalHash].sort());
        expect(lower(await stack.contract.voteOf(jobId, c.args.coprocessor)), `job ${i}`).to.equal(lower(c.args.resultHash));
      }
      if (committed[0]!.args.coprocessor === faulty) {
        // The wrong hash came first and became the reference: honest votes disagreed with it, and still won.
        expect(conflicts.every((c) => honest.includes(c.args.coprocessor)), `job ${i}`).to.equal(true);
      } else {
        const named = conflicts.filter((c) => c.args.coprocessor === faulty);
        expect(named, `job ${i}: conflict naming the faulty operator`).to.have.length(1);
        expect(lower(named[0]!.args.resultHash)).to.equal(faultyVote);
        expect(lower(named[0]!.args.conflictingWith)).to.equal(finalHash);
        conflictsNamingFaulty++;
      }

      const history = audited.get(jobId)!;
      expect(history, `audit of job ${i}`).to.not.equal(undefined);
      expect(history.status).to.equal("Finalized");
      expect(history.finalized!.resultHash).to.equal(finalHash);
      expect(history.votes.map((v) => v.coprocessor).sort()).to.deep.equal([...honest, faulty].sort());
      expect(history.votes.find((v) => v.coprocessor === faulty)!.resultHash).to.equal(faultyVote);
      expect(history.support).to.deep.equal({ votes: 2, dissenters: [faulty] });
      expect(history.conflicts.map((c) => [c.coprocessor, c.resultHash, c.conflictingWith])).to.deep.equal(
        conflicts.map((c) => [c.args.coprocessor, lower(c.args.resultHash), lower(c.args.conflictingWith)]),
      );
    }
    // The held-back half of the faulty votes arrive after finalization, so the chain names their sender.
    expect(conflictsNamingFaulty, "jobs with a ResultConflict naming the faulty operator").to.be.at.least(1);
    const auditedConflicts = [...audited.values()].flatMap((h) => h.conflicts).filter((c) => c.coprocessor === faulty);
    expect(auditedConflicts.length).to.equal(conflictsNamingFaulty);
  });
});
