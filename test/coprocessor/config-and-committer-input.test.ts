import { expect } from "chai";
import { availableParallelism } from "node:os";
import { JsonRpcProvider, Network, Wallet, ZeroHash } from "ethers";
import { Committer } from "../../coprocessor/chain/committer.js";
import { ConfigError, loadCoprocessorConfig, workerConcurrency } from "../../coprocessor/config.js";
import type { Hash } from "../../protocol/hash.js";
import { rejectionOf } from "../helpers/rejection.js";

const REQUIRED = {
  PMHE_CONTRACT_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  PMHE_COPROCESSOR_KEY: `0x${"11".repeat(32)}`,
};

describe("coprocessor settings for the worker pool, retries and commits", function () {
  it("defaults to one evaluation thread per core and 16 jobs in flight per thread", function () {
    const config = loadCoprocessorConfig(REQUIRED);
    expect(config.PMHE_EVALUATION_THREADS).to.equal(availableParallelism());
    expect(workerConcurrency(config)).to.equal(16 * availableParallelism());
    expect(workerConcurrency(loadCoprocessorConfig({ ...REQUIRED, PMHE_EVALUATION_THREADS: "0" }))).to.equal(16);
    expect(workerConcurrency(loadCoprocessorConfig({ ...REQUIRED, PMHE_WORKER_CONCURRENCY: "5" }))).to.equal(5);
  });

  it("defaults to any chain id, a 15 s shutdown bound and a 1536 MiB heap limit per evaluation thread", function () {
    const config = loadCoprocessorConfig(REQUIRED);
    expect(config.PMHE_CHAIN_ID).to.equal(undefined);
    expect(config.PMHE_SHUTDOWN_TIMEOUT_MS).to.equal(15_000);
    expect(config.PMHE_THREAD_HEAP_LIMIT_MB).to.equal(1_536);
    expect(loadCoprocessorConfig({ ...REQUIRED, PMHE_CHAIN_ID: "" }).PMHE_CHAIN_ID, "empty means unset").to.equal(undefined);
    expect(loadCoprocessorConfig({ ...REQUIRED, PMHE_CHAIN_ID: "31337" }).PMHE_CHAIN_ID).to.equal(31337);
  });

  for (const [name, value] of [
    ["PMHE_EVALUATION_THREADS", "-1"],
    ["PMHE_WORKER_CONCURRENCY", "0"],
    ["PMHE_RETRY_MAX_DELAY_MS", "10"],
    ["PMHE_COMMIT_LINGER_MS", "soon"],
    ["PMHE_COMMIT_REPLACE_AFTER_MS", "500"],
    ["PMHE_LISTENER_MAX_BACKOFF_MS", "5"],
    ["PMHE_LOCK_DURATION_MS", "999"],
    ["PMHE_STALLED_INTERVAL_MS", "1.5"],
    ["PMHE_CHAIN_ID", "0"],
    ["PMHE_CHAIN_ID", "mainnet"],
    ["PMHE_SHUTDOWN_TIMEOUT_MS", "10"],
    ["PMHE_THREAD_HEAP_LIMIT_MB", "8"],
    ["PMHE_THREAD_HEAP_LIMIT_MB", "5000"],
  ] as const) {
    it(`refuses ${name}=${value} at start with a ConfigError naming it`, function () {
      expect(() => loadCoprocessorConfig({ ...REQUIRED, [name]: value })).to.throw(ConfigError, name);
    });
  }
});

describe("committer input (refused before anything is sent)", function () {
  // Nothing here reaches the provider: every call is refused before a transaction is prepared.
  const provider = new JsonRpcProvider("http://127.0.0.1:1", undefined, { staticNetwork: Network.from(31337) });
  const wallet = new Wallet(REQUIRED.PMHE_COPROCESSOR_KEY, provider);
  const committer = new Committer({ wallet, contractAddress: REQUIRED.PMHE_CONTRACT_ADDRESS });
  const jobId = `0x${"ab".repeat(32)}` as Hash;
  after(() => provider.destroy());

  it("refuses a zero result hash, one in the range reserved for failure votes, and a malformed job id", async function () {
    expect(await rejectionOf(committer.commitResult(jobId, ZeroHash as Hash))).to.be.instanceOf(RangeError);
    const reserved = `0x${"0".repeat(60)}ffff` as Hash;
    expect((await rejectionOf(committer.commitResult(jobId, reserved))).message).to.match(/reserved for failure votes/);
    expect((await rejectionOf(committer.commitResult("0x1234" as Hash, `0x${"cd".repeat(32)}` as Hash))).message).to.match(/job id must be 0x/);
    expect((await rejectionOf(committer.expireJob("0x1234" as Hash))).message).to.match(/job id must be 0x/);
  });

  it("refuses failure reasons outside 1..65535", async function () {
    for (const reason of [0, 65_536, 1.5, -3]) {
      expect((await rejectionOf(committer.reportFailure(jobId, reason))).message, String(reason)).to.match(/failure reason must be in 1\.\.65535/);
    }
  });

  it("refuses settings that would make replacements fail or batches empty", function () {
    expect(() => new Committer({ wallet, contractAddress: REQUIRED.PMHE_CONTRACT_ADDRESS, feeBumpPercent: 5 })).to.throw(RangeError, /feeBumpPercent/);
    expect(() => new Committer({ wallet, contractAddress: REQUIRED.PMHE_CONTRACT_ADDRESS, maxBatch: 0 })).to.throw(RangeError, /maxBatch/);
    expect(() => new Committer({ wallet: new Wallet(REQUIRED.PMHE_COPROCESSOR_KEY), contractAddress: REQUIRED.PMHE_CONTRACT_ADDRESS })).to.throw(TypeError, /JSON-RPC provider/);
  });
});
