import { join } from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { freePort, startProcess, type ManagedProcess } from "../../local/child-process.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { JobStatus } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { coprocessorEnv, loadTestModel, publishTestModel, ROOT, startDeployedChain, TestPatient, testTuple, waitForJobStatus, type DeployedChain } from "./coprocessor-fixture.js";

/** A coprocessor process with every line it writes kept (the process helper keeps only the last 50). */
interface Watched {
  proc: ManagedProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
  /** Lines written since `mark` (an index into `lines`). */
  since(mark: number): string[];
  signalledAt?: number;
  terminate(): void;
}

function launch(env: Record<string, string>): Watched {
  const proc = startProcess(process.execPath, ["--import", import.meta.resolve("tsx/esm"), join(ROOT, "coprocessor", "main.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let partial = "";
  const keep = (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  };
  proc.child.stdout?.on("data", keep);
  proc.child.stderr?.on("data", keep);
  const watched: Watched = {
    proc,
    lines,
    since: (mark) => lines.slice(mark),
    exited: new Promise((resolve) =>
      proc.child.once("exit", (code, signal) => resolve({ code, signal, afterMs: watched.signalledAt === undefined ? NaN : performance.now() - watched.signalledAt })),
    ),
    terminate() {
      watched.signalledAt = performance.now();
      process.kill(proc.child.pid!, "SIGTERM");
    },
  };
  return watched;
}

const messages = (lines: string[]) => lines.map((line) => {
  try {
    return String((JSON.parse(line) as { msg?: unknown }).msg);
  } catch {
    return line;
  }
});

/** How the process exited, once it has (within `timeoutMs`). */
async function exitOf(w: Watched, timeoutMs: number): Watched["exited"] {
  return waitFor("the process to exit", async () => Promise.race([w.exited, sleep(100).then(() => undefined)]), { timeoutMs });
}

/** Lines that are not JSON log records: a stack trace or a library printing on its own. */
const unstructured = (lines: string[]) => lines.filter((line) => !line.startsWith("{"));

const SHUTDOWN_TIMEOUT_MS = 3_000;

/**
 * Start-up and shutdown of `coprocessor/main.ts` as a process of its own, with its dependencies missing, wrong or
 * going away: it must wait quietly (one line per retry), refuse a wrong deployment with a message an operator can
 * act on, stop on SIGTERM whatever is down, and never flood its log.
 */
describe("coprocessor start-up and shutdown (coprocessor process, hardhat node, redis-server)", function () {
  let deployedChain: DeployedChain;
  const running: Watched[] = [];
  const redises: LocalRedis[] = [];

  before(async function () {
    this.timeout(120_000);
    deployedChain = await startDeployedChain();
  });

  afterEach(async function () {
    this.timeout(30_000);
    for (const w of running.splice(0)) await w.proc.stop(10_000);
    for (const redis of redises.splice(0)) await redis.stop();
  });

  after(async function () {
    await deployedChain?.stop();
  });

  async function env(redisUrl: string, extra: Record<string, string> = {}) {
    return coprocessorEnv(deployedChain.deployed, redisUrl, deployedChain.blobDir.dir, {
      PMHE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      PMHE_LISTENER_MAX_BACKOFF_MS: "1000",
      ...extra,
    });
  }

  function start(variables: Record<string, string>): Watched {
    const watched = launch(variables);
    running.push(watched);
    return watched;
  }

  /** A redis-server of the test's own, stopped after it (after its coprocessors). */
  async function startRedis(options: { appendOnly?: boolean } = {}): Promise<LocalRedis> {
    const redis = await startLocalRedis(options);
    redises.push(redis);
    return redis;
  }

  async function untilStarted(w: Watched): Promise<void> {
    await waitFor("coprocessor started", async () => (messages(w.lines).includes("coprocessor started") ? true : undefined), {
      timeoutMs: 60_000,
      describe: () => w.lines.join("\n"),
    });
  }

  it("waits for Redis with one log line per retry naming it (without its password), never says started, and exits on SIGTERM", async function () {
    this.timeout(60_000);
    const nothingThere = `redis://pmhe:s3cret-password@127.0.0.1:${await freePort()}`;
    const w = start(await env(nothingThere));
    await waitFor("the first wait line", async () => (messages(w.lines).some((m) => m.startsWith("waiting for")) ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => w.lines.join("\n"),
    });
    const mark = w.lines.length;
    await sleep(4_000);
    const during = w.since(mark);
    const waits = messages(during).filter((m) => m.startsWith("waiting for"));
    console.log(`      while Redis was missing: ${during.length} log lines in 4 s, ${waits.length} of them retries`);
    // Backing off from 0.5 s to a 1 s cap: about one line a second, whatever the number of connections involved.
    expect(waits.length, "retry lines in 4 s").to.be.within(2, 8);
    expect(during.length, "all lines in 4 s").to.equal(waits.length);
    expect(waits[0]).to.contain("Redis at redis://***:***@127.0.0.1:");
    expect(w.lines.join("\n")).to.not.contain("s3cret-password");
    expect(messages(w.lines)).to.not.include("coprocessor started");
    expect(unstructured(w.lines), "unstructured output (stack traces)").to.deep.equal([]);

    w.terminate();
    const exit = await exitOf(w, SHUTDOWN_TIMEOUT_MS + 10_000);
    console.log(`      exited ${exit.afterMs.toFixed(0)} ms after SIGTERM (bound ${SHUTDOWN_TIMEOUT_MS} ms)`);
    expect(exit.code, w.lines.join("\n")).to.equal(0);
    expect(messages(w.lines)).to.include("stopped before it had started");
  });

  it("waits for an unreachable chain the same way, naming its URL without credentials, and exits on SIGINT", async function () {
    this.timeout(60_000);
    const redis = await startRedis();
    const nowhere = `http://operator:rpc-s3cret@127.0.0.1:${await freePort()}/v1/key`;
    const w = start(await env(redis.url, { PMHE_RPC_URL: nowhere }));
    await waitFor("two wait lines", async () => (messages(w.lines).filter((m) => m.startsWith("waiting for")).length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      describe: () => w.lines.join("\n"),
    });
    const waits = messages(w.lines).filter((m) => m.startsWith("waiting for"));
    expect(waits[0]).to.match(/^waiting for the chain at http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/v1\/key$/);
    expect(w.lines.join("\n")).to.not.contain("rpc-s3cret");
    expect(unstructured(w.lines), "unstructured output (stack traces)").to.deep.equal([]);
    w.signalledAt = performance.now();
    process.kill(w.proc.child.pid!, "SIGINT");
    const exit = await exitOf(w, SHUTDOWN_TIMEOUT_MS + 10_000);
    expect(exit.code).to.equal(0);
  });

  it("exits non-zero, naming the address and the chain, when there is no contract at PMHE_CONTRACT_ADDRESS", async function () {
    this.timeout(60_000);
    const redis = await startRedis();
    const nowhere = Wallet.createRandom().address;
    const w = start(await env(redis.url, { PMHE_CONTRACT_ADDRESS: nowhere }));
    const exit = await exitOf(w, 30_000);
    expect(exit.code, w.lines.join("\n")).to.equal(1);
    const fatal = w.lines.find((line) => line.includes("coprocessor could not start"));
    expect(fatal, w.lines.join("\n")).to.not.equal(undefined);
    expect(fatal).to.contain(`no contract at ${nowhere} on chain 31337 at ${deployedChain.chain.rpcUrl}`);
    expect(messages(w.lines)).to.not.include("coprocessor started");
  });

  it("exits non-zero when the chain has another chain id than PMHE_CHAIN_ID", async function () {
    this.timeout(60_000);
    const redis = await startRedis();
    const w = start(await env(redis.url, { PMHE_CHAIN_ID: "11155111" }));
    const exit = await exitOf(w, 30_000);
    expect(exit.code).to.equal(1);
    expect(w.lines.join("\n")).to.contain("has chain id 31337, but 11155111 is configured");
  });

  it("rides out Redis going away while running with a bounded log and no stack traces, then processes a job; SIGTERM exits 0", async function () {
    this.timeout(180_000);
    const redis = await startRedis({ appendOnly: true });
    const model = await loadTestModel();
    const engine = await CkksEngine.create(model.fhe.parameterSet);
    let patient: TestPatient | undefined;
    try {
      const variables = await env(redis.url, { LOG_LEVEL: "info" });
      const w = start(variables);
      await untilStarted(w);
      const apiUrl = `http://127.0.0.1:${variables.PMHE_API_PORT}`;
      const { deployed } = deployedChain;
      const { modelId } = await publishTestModel(deployed, apiUrl, model);
      patient = new TestPatient(deployed, engine, TestPatient.account(deployed, 0), apiUrl);
      await patient.register();

      const mark = w.lines.length;
      let downLines: string[] = [];
      await redis.restart({
        whileDown: async () => {
          await sleep(5_000);
          downLines = w.since(mark);
        },
      });
      const job = await patient.request(await patient.submit(testTuple(model, 1)), modelId);
      await waitForJobStatus(deployed, job.jobId, JobStatus.Finalized, "the job finalized after Redis came back", {
        timeoutMs: 60_000,
        describe: () => w.lines.slice(mark).join("\n"),
      });
      const after = w.since(mark);
      console.log(`      Redis down 5 s: ${downLines.length} log lines while down, ${after.length} from the outage until the next job was finalized`);
      console.log(`      ${messages(downLines).join(" | ")}`);
      // One line when each of the listener's polls fails (they back off to 1 s here), one when Redis is lost, one
      // when it is back; not one per reconnection attempt of each of the four connections.
      expect(downLines.length, "log lines while Redis was down").to.be.at.most(10);
      expect(messages(after).filter((m) => m.includes("unreachable")), "outage reports").to.have.length(1);
      expect(messages(after)).to.include("Redis reachable again");
      expect(messages(w.lines)).to.not.include("unhandled rejection");
      expect(unstructured(w.lines), "unstructured output (stack traces)").to.deep.equal([]);

      w.terminate();
      const exit = await w.exited;
      console.log(`      exited ${exit.afterMs.toFixed(0)} ms after SIGTERM`);
      expect(exit.code, w.lines.slice(-20).join("\n")).to.equal(0);
    } finally {
      patient?.dispose();
      engine.dispose();
    }
  });

  it("exits on SIGTERM within the shutdown bound while Redis is down", async function () {
    this.timeout(120_000);
    const redis = await startRedis();
    const w = start(await env(redis.url));
    try {
      await untilStarted(w);
    } finally {
      await redis.stop();
    }
    await sleep(1_000);
    w.terminate();
    const exit = await exitOf(w, SHUTDOWN_TIMEOUT_MS + 10_000);
    const forced = messages(w.lines).includes("shutdown timed out; exiting without waiting any longer");
    console.log(`      exited ${exit.afterMs.toFixed(0)} ms after SIGTERM with code ${exit.code}${forced ? " (forced at the bound)" : ""}`);
    expect(exit.signal, "killed by a signal instead of exiting").to.equal(null);
    expect(exit.code === 0 || forced, w.lines.slice(-20).join("\n")).to.equal(true);
    expect(unstructured(w.lines), "unstructured output (stack traces)").to.deep.equal([]);
    expect(messages(w.lines)).to.not.include("unhandled rejection");
  });
});
