import { expect } from "chai";
import { Queue } from "bullmq";
import { queueJobId } from "../../coprocessor/queue/prediction-queue.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../../local/coprocessor-process.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Model } from "../../protocol/model.js";
import { expectClose } from "../helpers/close.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { waitFor } from "../helpers/wait.js";
import {
  coprocessorEnv,
  deploy,
  expectedLogit,
  loadTestModel,
  publishTestModel,
  tempBlobDir,
  TestPatient,
  testTuple,
  waitForJobStatus,
  type Deployed,
  type Requested,
  type TempDir,
} from "./coprocessor-fixture.js";

/**
 * A development chain restarted under a running coprocessor, with Redis kept: the new chain has the same chain id,
 * the same contract address and, for the same patient, the same job ids as the old one. The coprocessor must
 * notice the reset, scan the new chain from its start block, and process the new chain's jobs although Redis still
 * holds the old chain's jobs of the same ids as completed.
 */
describe("chain reset under a running coprocessor, Redis kept (two hardhat nodes behind one RPC URL, coprocessor process)", function () {
  let chains: LocalChain[] = [];
  let redis: LocalRedis;
  /** The one RPC URL the coprocessor knows, relayed to whichever chain runs. */
  let relay: TcpProxy;
  let engine: CkksEngine;
  let model: Model;
  let worker: CoprocessorProcess | undefined;
  let blobDir: TempDir;
  const deployments: Deployed[] = [];
  const patients: TestPatient[] = [];

  before(async function () {
    this.timeout(120_000);
    model = await loadTestModel();
    engine = await CkksEngine.create(model.fhe.parameterSet);
    redis = await startLocalRedis();
    blobDir = await tempBlobDir();
  });

  after(async function () {
    this.timeout(60_000);
    await worker?.stop();
    patients.forEach((p) => p.dispose());
    engine?.dispose();
    for (const d of deployments) d.provider.destroy();
    await relay?.close();
    for (const chain of chains) await chain.stop();
    await redis?.stop();
    await blobDir?.remove();
  });

  async function deployOn(chain: LocalChain): Promise<Deployed> {
    const deployed = await deploy(chain);
    deployments.push(deployed);
    return deployed;
  }

  /** Publishes the model on `deployed`, registers the patient (a hardhat account) and requests one job. */
  async function requestOne(deployed: Deployed, apiUrl: string, seed: number): Promise<{ deployed: Deployed; job: Requested; patient: TestPatient; values: number[] }> {
    const { modelId } = await publishTestModel(deployed, apiUrl, model);
    const patient = new TestPatient(deployed, engine, TestPatient.account(deployed, 0), apiUrl);
    patients.push(patient);
    await patient.register();
    const values = testTuple(model, seed);
    const job = await patient.request(await patient.submit(values), modelId);
    return { deployed, job, patient, values };
  }

  /** Waits for the job's finalization and checks the patient decrypts the plaintext model's answer. */
  async function expectFinalized({ deployed, job, patient, values }: Awaited<ReturnType<typeof requestOne>>): Promise<void> {
    await waitForJobStatus(deployed, job.jobId, JobStatus.Finalized, "the job finalized", {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: () => worker?.process.output() ?? "",
    });
    expectClose(await patient.decryptResultOf(job.jobId), expectedLogit(model, values), 1e-4, "T");
  }

  it("notices the reset once, and processes the new chain's job whose id Redis already holds as completed", async function () {
    this.timeout(240_000);
    chains.push(await startLocalChain());
    relay = await startTcpProxy(chains[0]!.rpcUrl);
    // The coprocessor starts once the contract is there: deploy first.
    const deployed = await deployOn(chains[0]!);
    const env = await coprocessorEnv({ ...deployed, rpcUrl: relay.url }, redis.url, blobDir.dir, {
      PMHE_LISTENER_MAX_BACKOFF_MS: "1000",
      PMHE_RETRY_MAX_DELAY_MS: "1000",
      LOG_LEVEL: "info",
    });
    const apiUrl = `http://127.0.0.1:${env.PMHE_API_PORT}`;
    worker = await startCoprocessorProcess(env);

    // The old chain: its deployment, one job, and more blocks than the new chain will have when first looked at.
    const old = await requestOne(deployed, apiUrl, 1);
    for (let i = 0; i < 5; i++) await old.patient.submit(testTuple(model, 10 + i));
    await expectFinalized(old);
    const queue = new Queue("pmhe-predictions", { connection: { url: redis.url, maxRetriesPerRequest: null } });
    try {
      await waitFor("the old job completed in the queue", async () => ((await queue.getJobState(queueJobId(old.job))) === "completed" ? true : undefined), { timeoutMs: 30_000 });
      const head = await deployed.provider.getBlockNumber();
      const oldHashes = await Promise.all(Array.from({ length: head + 1 }, async (_, n) => (await deployed.provider.getBlock(n))!.hash!));

      // The chain is restarted: a new hardhat node behind the same URL. Redis and the coprocessor stay.
      await chains[0]!.stop();
      chains = [await startLocalChain()];
      relay.retarget(chains[0]!.rpcUrl);
      const again = await requestOne(await deployOn(chains[0]!), apiUrl, 2);
      expect(again.deployed.address, "the same deployment address").to.equal(deployed.address);
      await expectFinalized(again);

      // Same chain id, address and patient nonce: the same on-chain job id, under a new queue job.
      expect(again.job.jobId, "on-chain job id on the new chain").to.equal(old.job.jobId);
      expect(queueJobId(again.job)).to.not.equal(queueJobId(old.job));
      expect(await queue.getJobState(queueJobId(old.job)), "the old chain's queue job, still held").to.equal("completed");
      await waitFor("the new job completed in the queue", async () => ((await queue.getJobState(queueJobId(again.job))) === "completed" ? true : undefined), { timeoutMs: 30_000 });

      const resets = worker!.process.output().split("\n").filter((line) => line.includes('"msg":"chain reset'));
      expect(resets, "chain reset log lines").to.have.length(1);
      const reset = JSON.parse(resets[0]!) as { stored: { block: number; hash: string }; chainHead: { block: number }; restartFrom: number };
      expect(reset.stored.hash, "the stored cursor names a block of the old chain").to.equal(oldHashes[reset.stored.block]);
      expect(reset.restartFrom).to.equal(deployed.deployBlock);
    } finally {
      await queue.close();
    }
  });
});
