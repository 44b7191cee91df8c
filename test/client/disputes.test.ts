import { expect } from "chai";
import { keccak256, randomBytes, type Wallet } from "ethers";
import { auditJobs } from "../../protocol/job-history.js";
import { DisputedResultError } from "../../client/errors.js";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { hardhatAccount, type LocalStack } from "../../local/stack.js";
import type { Hash } from "../../protocol/hash.js";
import { predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { rejectionOf } from "../helpers/rejection.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Holds the honest operators' results back until the test opens it, so a rogue vote can be placed before a job is
 * finalized without racing anything: the client's verification then always sees it.
 */
class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  close(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release();
  }
  readonly transform = async (bytes: Uint8Array): Promise<Uint8Array> => {
    await this.opened;
    return bytes;
  };
}

describe("disputed results: two honest operators at quorum 2, and rogue operators voting otherwise (hardhat node, redis-server, node-seal)", function () {
  let setup: LocalStackWithPatient;
  let stack: LocalStack;
  let model: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let patient: PatientClient;
  let rogue: Wallet;
  let rogueFailing: Wallet;
  let role: string;
  const gate = new Gate();

  before(async function () {
    setup = await startLocalStackWithPatient({
      readings: 4,
      stack: {
        quorum: 2,
        coprocessorEnv: { PMHE_OPERATOR_PORT: "0", PMHE_EVALUATION_THREADS: "1" },
        coprocessors: [{ options: { resultTransform: gate.transform } }, { options: { resultTransform: gate.transform } }],
      },
    });
    ({ stack, model, ref, readings, patient } = setup);
    // Two more operators in office, driven by the test: one votes another result, one reports a failure.
    role = await stack.contract.COPROCESSOR_ROLE();
    rogue = hardhatAccount(10, stack.provider);
    rogueFailing = hardhatAccount(11, stack.provider);
    for (const operator of [rogue, rogueFailing]) await (await stack.contract.grantRole(role, operator.address)).wait();
  });

  after(async function () {
    gate.open();
    await setup?.stop();
  });

  /** The first block after the current head, asked of the node itself (ethers may answer a cached head). */
  async function nextBlock(): Promise<number> {
    return Number(await stack.provider.send("eth_blockNumber", [])) + 1;
  }

  /** The next job of the patient, once requested; the rogue votes on it while the honest results are held back. */
  async function rogueVotesOnNextJob(from: number, vote: (jobId: Hash) => Promise<void>): Promise<Hash> {
    const address = await patient.address();
    const jobId = await waitFor(
      "the patient's request",
      async () => {
        const [event] = await stack.contract.queryFilter(stack.contract.filters.PredictionRequested(undefined, address), from);
        return event?.args.jobId.toLowerCase() as Hash | undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await vote(jobId);
    gate.open();
    return jobId;
  }

  it("finalizes with 2 of 2 votes and presents the result as final when every operator in office agrees", async function () {
    const reading = readings[0]!;
    const result = await patient.predict(ref, reading, { timeoutMs: 60_000 });
    expectClose(result.probability, predictPlaintext(model, reading).probability, 1e-4, "probability");
    expect(result).to.include({ votes: 2, quorum: 2, singleOperator: false, disputed: false });
    expect(result.dissent).to.deep.equal([]);
  });

  it("refuses, in predict itself, a result another operator in office voted against: DisputedResultError naming the vote", async function () {
    const bogus = keccak256(randomBytes(32)) as Hash;
    const from = await nextBlock();
    gate.close();
    const [outcome, jobId] = await Promise.all([
      rejectionOf(patient.predict(ref, readings[1]!, { timeoutMs: 60_000 })),
      rogueVotesOnNextJob(from, async (id) => void (await (await stack.contract.connect(rogue).commitResult(id, bogus)).wait())),
    ]);
    expect(outcome).to.be.instanceOf(DisputedResultError);
    const err = outcome as DisputedResultError;
    expect(err.jobId).to.equal(jobId);
    // The honest pair still finalized the job: the dispute is about presenting it, not about the chain's outcome.
    const job = await stack.contract.jobOf(jobId);
    expect(err.resultHash).to.equal(job.resultHash.toLowerCase());
    expect(err.resultHash).to.not.equal(bogus);
    expect({ votes: err.votes, quorum: err.quorum }).to.deep.equal({ votes: 2, quorum: 2 });
    expect(err.dissent).to.deep.equal([{ coprocessor: rogue.address, resultHash: bogus, reason: null, reasonName: null }]);
    expect(err.message).to.contain(rogue.address).and.contain(bogus).and.contain("2 of 2 votes");
  });

  it("counts a failure report as dissent too, and shows a disputed result only when asked, marked disputed", async function () {
    const from = await nextBlock();
    gate.close();
    const reading = readings[2]!;
    const [result, jobId] = await Promise.all([
      patient.predict(ref, reading, { timeoutMs: 60_000, acceptDisputed: true }),
      rogueVotesOnNextJob(from, async (id) => void (await (await stack.contract.connect(rogueFailing).reportFailure(id, 7)).wait())),
    ]);
    expect(result.jobId).to.equal(jobId);
    expectClose(result.probability, predictPlaintext(model, reading).probability, 1e-4, "probability");
    expect(result).to.include({ votes: 2, quorum: 2, disputed: true });
    expect(result.dissent).to.deep.equal([{ coprocessor: rogueFailing.address, resultHash: null, reason: 7, reasonName: "MalformedRecord" }]);
    // Without the explicit acceptance the same job is refused.
    const refused = await rejectionOf(patient.fetchVerifiedResult(jobId));
    expect(refused).to.be.instanceOf(DisputedResultError);
  });

  it("no longer counts a dissent once its operator is revoked: the result is final again, with the honest votes", async function () {
    const audit = async () => new Map((await auditJobs(stack.contract)).map((h) => [h.jobId, h]));
    const before = await audit();
    const disputed = [...before.values()].filter((h) => (h.support?.dissenters.length ?? 0) > 0).map((h) => h.jobId);
    expect(disputed).to.have.length(2);
    for (const jobId of disputed) expect((await rejectionOf(patient.fetchVerifiedResult(jobId))).name).to.equal("DisputedResultError");

    for (const operator of [rogue, rogueFailing]) await (await stack.contract.revokeRole(role, operator.address)).wait();
    for (const jobId of disputed) {
      const { verdict } = await patient.fetchVerifiedResult(jobId);
      expect(verdict).to.deep.equal({ votes: 2, quorum: 2, singleOperator: false, disputed: false, dissent: [] });
      const history = (await audit()).get(jobId)!;
      expect(history.support).to.deep.equal({ votes: 2, dissenters: [] });
      // The revoked votes stay on record, marked as no longer counting.
      const revoked = history.votes.filter((v) => !v.inOffice).map((v) => v.coprocessor);
      expect(revoked).to.have.length(1);
      expect([rogue.address, rogueFailing.address]).to.include(revoked[0]);
    }
  });

  it("records a batch vote after the deadline as skipped (VotingClosed), not as a vote, and the auditor shows it", async function () {
    const [history] = (await auditJobs(stack.contract)).filter((h) => h.status === "Finalized");
    const late = hardhatAccount(12, stack.provider);
    await (await stack.contract.grantRole(role, late.address)).wait();
    await stack.provider.send("evm_increaseTime", [Number(await stack.contract.jobTimeout()) + 1]);
    await stack.provider.send("evm_mine", []);
    await (await stack.contract.connect(late).commitResults([history!.jobId], [keccak256(randomBytes(32))])).wait();

    const after = (await auditJobs(stack.contract, { jobId: history!.jobId }))[0]!;
    expect(after.skipped.map((v) => [v.coprocessor, v.why, v.whyName])).to.deep.equal([[late.address, 3, "VotingClosed"]]);
    expect(after.votes.map((v) => v.coprocessor)).to.not.include(late.address);
    expect((await patient.fetchVerifiedResult(history!.jobId)).verdict.disputed).to.equal(false);
  });
});
