import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { freePort } from "../../local/child-process.js";
import { modelIdOf } from "../../protocol/chain.js";
import { modelHash as hashOfModel, parseModelBytes, predictPlaintext, type Reading } from "../../protocol/model.js";
import { testAccount } from "../../scripts/lib/start-settings.js";
import { expectClose } from "../helpers/close.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** Not copied: dependencies (linked instead), version control, local state and build output of other runs. */
const NOT_COPIED = new Set(["node_modules", ".git", "tmp", ".pmhe", "coverage", ".env", join("client", "web", "dist"), join("ignition", "deployments")]);

interface Step {
  command: string;
  /** A server the README runs in a terminal of its own. */
  background: boolean;
}

/**
 * The commands of the README's "Running the parts yourself", as a newcomer types them: every line of the section's
 * bash blocks up to the sentence naming this test, comments removed, here-documents kept whole.
 */
function readmeSteps(readme: string): Step[] {
  const start = readme.indexOf("## Running the parts yourself");
  const end = readme.indexOf("`test/operator/parts-walkthrough.test.ts` runs exactly these commands", start);
  if (start < 0 || end < 0) throw new Error("README has no walk-through section naming this test");
  const blocks = [...readme.slice(start, end).matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const steps: Step[] = [];
  for (const block of blocks) {
    const lines = block.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line.trim()) continue;
      const heredoc = /<<'(\w+)'\s*$/.exec(line);
      if (heredoc) {
        const close = lines.indexOf(heredoc[1]!, i + 1);
        steps.push({ command: lines.slice(i, close + 1).join("\n"), background: false });
        i = close;
        continue;
      }
      const comment = / {2,}# (.*)$/.exec(line);
      steps.push({ command: comment ? line.slice(0, comment.index).trimEnd() : line.trim(), background: /terminal \d/.test(comment?.[1] ?? "") });
    }
  }
  return steps;
}

const redisPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.on("error", () => resolve(false));
  });

describe("README 'Running the parts yourself', followed literally in a copy of the project (hardhat node, redis-server, Ignition, coprocessor, CLIs)", function () {
  let dir: string;
  const servers: ChildProcess[] = [];

  after(async function () {
    for (const server of servers.reverse()) {
      try {
        process.kill(-server.pid!, "SIGTERM");
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("ends with a decrypted prediction equal to the plaintext model's", async function () {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const steps = readmeSteps(readme);
    for (const prefix of ["cp .env.example .env", "npx hardhat node", "redis-server", "npx hardhat ignition deploy", "npm run hospital -- keygen", "npm run admin -- register-hospital", "npm run coprocessor", "npm run hospital -- publish", "npm run client -- keygen", "npm run client -- register", "npm run client -- predict"]) {
      expect(steps.some((s) => s.command.startsWith(prefix)), prefix).to.equal(true);
    }
    expect(steps.filter((s) => s.background).map((s) => s.command.split(" ")[0])).to.deep.equal(["npx", "redis-server", "npm"]);

    dir = await mkdtemp(join(tmpdir(), "pmhe-newcomer-"));
    await cp(ROOT, dir, { recursive: true, filter: (source) => !NOT_COPIED.has(relative(ROOT, source)) });
    await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");

    const ports = { chain: await freePort(), redis: await freePort(), api: await freePort(), operator: await freePort() };
    // Nothing of the test runner's own settings: PMHE_* and the HARDHAT_* the runner sets (its config file among them).
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PMHE_") && !name.startsWith("HARDHAT_")));
    // Only the ports differ from the README's (this machine runs other chains and Redis instances), passed the way
    // an operator overrides .env: in the environment. The default build profile keeps `ignition deploy` from
    // rebuilding the contracts for the production one.
    const env = {
      ...clean,
      PMHE_RPC_URL: `http://127.0.0.1:${ports.chain}`,
      PMHE_REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
      PMHE_API_PORT: String(ports.api),
      PMHE_API_URL: `http://127.0.0.1:${ports.api}`,
      PMHE_OPERATOR_PORT: String(ports.operator),
      HARDHAT_BUILD_PROFILE: "default",
    };
    const portOf = (command: string) =>
      command.startsWith("npx hardhat node")
        ? `${command} --port ${ports.chain}`
        : command.startsWith("redis-server")
          ? command.replace("--port 6380", `--port ${ports.redis}`)
          : command;
    const readiness: Array<[RegExp, () => Promise<boolean>]> = [
      [/^npx hardhat node/, async () => (await fetch(env.PMHE_RPC_URL, { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' })).ok],
      [/^redis-server/, () => redisPing(ports.redis)],
      [/^npm run coprocessor/, async () => (await fetch(`${env.PMHE_API_URL}/healthz`)).ok],
    ];

    const outputs = new Map<string, string>();
    for (const step of steps) {
      const command = portOf(step.command);
      if (step.background) {
        const server = spawn("bash", ["-c", command], { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        servers.push(server);
        let log = "";
        server.stdout!.on("data", (d: Buffer) => (log += d.toString()));
        server.stderr!.on("data", (d: Buffer) => (log += d.toString()));
        const probe = readiness.find(([pattern]) => pattern.test(command))![1];
        const deadline = Date.now() + 120_000;
        while (!(await probe().catch(() => false))) {
          if (server.exitCode !== null) throw new Error(`${command} exited:\n${log}`);
          if (Date.now() > deadline) throw new Error(`${command} did not come up:\n${log}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        continue;
      }
      try {
        const { stdout } = await promisify(execFile)("bash", ["-c", command], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
        outputs.set(step.command, stdout);
      } catch (err) {
        const failed = err as { stdout?: string; stderr?: string };
        throw new Error(`step failed: ${command}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
      }
    }

    const output = (prefix: string) => [...outputs.entries()].find(([command]) => command.startsWith(prefix))?.[1] ?? "";
    // The address the README (and .env.example) name.
    expect(output("npx hardhat ignition deploy")).to.contain("PMHE#PMHE - 0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const model = parseModelBytes(await readFile(join(dir, "models", "statlog-heart-logreg.v1.json")));
    expect(output("npm run hospital -- publish")).to.contain(`model id ${modelIdOf(testAccount(1).address, hashOfModel(model))}`);

    const heredoc = steps.find((s) => s.command.includes("<<'JSON'"))!.command;
    const reading = JSON.parse(heredoc.split("\n").slice(1, -1).join("\n")) as Reading;
    const predicted = output("npm run client -- predict");
    const probability = Number(/probability ([0-9.]+) -> class ([01])/.exec(predicted)?.[1]);
    const expected = predictPlaintext(model, reading);
    expectClose(probability, expected.probability, 1e-5, `decrypted probability in:\n${predicted}`);
    expect(predicted).to.contain(`class ${expected.predictedClass}`);
    expect(predicted).to.contain("verified on-chain: 1 of 1 votes from operators in office");

    // The wearable path: two synthetic days taken in, a window every 6 hours once a day of readings exists.
    expect(output("npm run client -- ingest")).to.match(/used \d+: .*heart rate \d+/).and.to.contain("every reading was used");
    const windows = output("npm run client -- predict-windows");
    const risks = [...windows.matchAll(/^\d{4}-\d{2}-\d{2}T\S+\s+([0-9.]+) % heart disease present/gm)];
    expect(risks.length, `window lines in:\n${windows}`).to.be.at.least(4);
    expect(windows).to.match(/root 0x[0-9a-f]{64}, \d+ records/);
  });
});
