import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager } from "ethers";
import { PatientClient } from "../../client/patient-client.js";
import { freePort, portInUse } from "../../local/child-process.js";
import { hardhatAccount, LOCAL_HOSPITAL_NAME, localHospitalKeys } from "../../local/stack.js";
import { AppConfigSchema, type AppConfig } from "../../protocol/app-config.js";
import { BlobClient } from "../../protocol/blob-client.js";
import { connectPmhe, modelIdOf } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { modelHash as hashOfModel, parseModelBytes, predictPlaintext } from "../../protocol/model.js";
import { testAccount } from "../../scripts/lib/start-settings.js";
import { findWebApp, staleReason } from "../../scripts/lib/start-web.js";
import { expectClose } from "../helpers/close.js";
import { testReadings } from "../helpers/test-model.js";

const ROOT = join(import.meta.dirname, "..", "..");
const READY = "Ctrl-C stops everything.";

interface Started {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  ports: { chain: number; api: number; web: number };
}

/** `npm start` in a process group of its own (as a terminal runs it), on free ports, with only its own settings. */
async function npmStart(args: string[], ports?: Started["ports"]): Promise<Started> {
  const chosen = ports ?? { chain: await freePort(), api: await freePort(), web: await freePort() };
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PMHE_")));
  const child = spawn("npm", ["start", "--", ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...clean, PMHE_CHAIN_PORT: String(chosen.chain), PMHE_API_PORT: String(chosen.api), PMHE_WEB_PORT: String(chosen.web) },
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  process.once("exit", () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  });
  return { child, stdout: () => out, stderr: () => err, exited, ports: chosen };
}

async function untilReady(started: Started, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!started.stdout().includes(READY)) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited with ${started.child.exitCode}:\n${started.stderr()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in time:\n${started.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Is anything of the process group still alive? */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function expectAllStopped(started: Started): Promise<void> {
  // The group has a moment after npm's own exit for the last child to be reaped.
  for (let i = 0; i < 50 && groupAlive(started.child.pid!); i++) await new Promise((r) => setTimeout(r, 100));
  expect(groupAlive(started.child.pid!), "a process of npm start's group is still running").to.equal(false);
  for (const port of Object.values(started.ports)) expect(await portInUse(port), `port ${port}`).to.equal(false);
}

/** A minimal web app vite can build without any import: its built page carries a marker. */
async function fixtureApp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pmhe-start-web-"));
  await writeFile(join(dir, "vite.config.ts"), 'export default { root: import.meta.dirname, base: "./", logLevel: "warn", build: { outDir: "dist", emptyOutDir: true } };\n');
  await writeFile(join(dir, "index.html"), '<!doctype html><html><head><title>fixture</title></head><body><div id="app"></div><script type="module" src="./main.js"></script></body></html>\n');
  await writeFile(join(dir, "main.js"), 'document.getElementById("app").textContent = "pmhe-start-fixture-app";\n');
  return dir;
}

describe("npm start: the whole local product (hardhat node, redis-server, Ignition, coprocessor, web server)", function () {
  const dirs: string[] = [];
  after(async function () {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("builds the app, deploys and configures everything, prints what a person needs, serves app, config and API, and stops in reverse order on Ctrl-C", async function () {
    const web = await fixtureApp();
    dirs.push(web);
    const started = await npmStart(["--web", web]);
    let provider: JsonRpcProvider | undefined;
    try {
      await untilReady(started);
      const out = started.stdout();
      expect(started.stderr()).to.contain("building the web app (no production build yet)");
      const appUrl = `http://127.0.0.1:${started.ports.web}`;
      const rpcUrl = `http://127.0.0.1:${started.ports.chain}`;
      const apiUrl = `http://127.0.0.1:${started.ports.api}`;

      // The runtime configuration the app reads.
      const configResponse = await fetch(`${appUrl}/pmhe-config.json`);
      expect(configResponse.headers.get("cache-control")).to.equal("no-store");
      const config: AppConfig = AppConfigSchema.parse(await configResponse.json());
      expect(config).to.include({ chainId: 31337, rpcUrl, apiUrl: `${appUrl}/api`, blockExplorer: null, quorum: 1, development: true });
      expect(JSON.parse(await readFile(join(ROOT, ".pmhe", "start", "pmhe-config.json"), "utf8"))).to.deep.equal(config);

      // What it printed: app, wallet network, contract, API, every model id, the test accounts and the warnings.
      for (const fragment of [appUrl, rpcUrl, "chain id 31337 (0x7a69)", config.contractAddress, apiUrl, `${appUrl}/pmhe-config.json`]) expect(out).to.contain(fragment);
      const modelFiles = (await readdir(join(ROOT, "models"))).filter((f) => f.endsWith(".json")).sort();
      expect(config.models).to.have.length(modelFiles.length);
      const hospital = testAccount(1);
      for (const [i, file] of modelFiles.entries()) {
        const model = parseModelBytes(await readFile(join(ROOT, "models", file)));
        const expected = modelIdOf(hospital.address, hashOfModel(model));
        expect(config.models[i]).to.include({ id: expected, hash: hashOfModel(model), name: model.name, version: model.version, publisher: hospital.address, publisherName: LOCAL_HOSPITAL_NAME });
        expect(out).to.contain(`model id ${expected}`);
      }
      for (const [role, index] of [["patient", 3], ["patient", 4], ["hospital", 1], ["operator", 2], ["admin", 0]] as const) {
        const wallet = testAccount(index);
        expect(out).to.match(new RegExp(`${role} +#${index}  ${wallet.address}  private key ${wallet.privateKey}`));
      }
      expect(out).to.match(/WARNING: These are Hardhat's public test accounts/);
      expect(out).to.match(/WARNING: Development only: quorum 1/);

      // The chain as the Ignition module left it.
      provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 100 });
      const pmhe = connectPmhe(config.contractAddress, provider);
      expect(await pmhe.quorum()).to.equal(1n);
      expect(await pmhe.hasRole(id("COPROCESSOR_ROLE"), hardhatAccount(2, provider).address)).to.equal(true);
      expect(await pmhe.hospitalKeyOf(hospital.address)).to.equal(localHospitalKeys(hardhatAccount(1, provider)).publicKey);
      expect(await provider.getCode(config.contractAddress, config.deploymentBlock - 1)).to.equal("0x");
      for (const m of config.models) expect((await pmhe.modelOf(m.id))[0]).to.equal(hospital.address);

      // The app's own build, and client-side routes fall back to it; the API through the same origin.
      const page = await (await fetch(`${appUrl}/`)).text();
      expect(page).to.contain("<title>fixture</title>");
      expect(await (await fetch(`${appUrl}/patients/some-route`)).text()).to.equal(page);
      const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(page)?.[1];
      expect(await (await fetch(`${appUrl}/${script}`)).text()).to.contain("pmhe-start-fixture-app");
      expect((await fetch(`${appUrl}/../../package.json`)).status).to.not.equal(200);
      expect(await (await fetch(`${appUrl}/api/healthz`)).json()).to.deep.equal({ status: "ok" });
      const modelBlob = await fetch(config.models[0]!.url);
      expect(hashOfModel(parseModelBytes(new Uint8Array(await modelBlob.arrayBuffer())))).to.equal(config.models[0]!.hash);

      // A patient (test account #3, as printed) predicts through the app's API URL, end to end.
      const logreg = config.models.find((m) => m.name === "statlog-heart-logreg")!;
      const model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
      const engine = await CkksEngine.create(model.fhe.parameterSet);
      const signer = new NonceManager(hardhatAccount(3, provider));
      const client = new PatientClient({
        engine,
        signer,
        contractAddress: config.contractAddress,
        blobs: new BlobClient(config.apiUrl),
        keys: engine.generateKeySet({ patient: await signer.getAddress() }),
        pollIntervalMs: 200,
      });
      try {
        await client.register();
        const [reading] = await testReadings(model, 1);
        const result = await client.predict({ model, id: logreg.id }, reading!);
        expectClose(result.probability, predictPlaintext(model, reading!).probability, 1e-4);
        expect(result).to.include({ votes: 1, quorum: 1 });
      } finally {
        client.dispose();
        engine.dispose();
      }

      // Ctrl-C: SIGINT to the whole group, as a terminal sends it.
      process.kill(-started.child.pid!, "SIGINT");
      await started.exited;
      const stops = started.stderr().split("\n").filter((line) => line.endsWith(": done")).map((line) => line.trim());
      expect(stops).to.deep.equal([
        "stopping the web server: done",
        "stopping the coprocessor: done",
        "removing the blob directory: done",
        "closing the chain connection: done",
        "stopping redis-server: done",
        "stopping the chain: done",
      ]);
      expect(started.stderr()).to.not.contain("killing");
      await expectAllStopped(started);
    } finally {
      provider?.destroy();
      if (groupAlive(started.child.pid!)) process.kill(-started.child.pid!, "SIGKILL");
    }
  });

  it("without a web app serves a placeholder page and the configuration, and stops when npm alone gets SIGTERM", async function () {
    const empty = await mkdtemp(join(tmpdir(), "pmhe-start-noweb-"));
    dirs.push(empty);
    const started = await npmStart(["--web", empty]);
    try {
      await untilReady(started);
      expect(started.stdout()).to.contain("(placeholder page: there is no web app in");
      expect(started.stderr()).to.not.contain("building the web app");
      const appUrl = `http://127.0.0.1:${started.ports.web}`;
      const page = await fetch(`${appUrl}/`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.contain("the web app is not built");
      AppConfigSchema.parse(await (await fetch(`${appUrl}/pmhe-config.json`)).json());
      expect(await readdir(empty)).to.deep.equal([]); // nothing built or written there

      // A process manager's SIGTERM to npm only: npm hands it to its shell, which dies; start notices and stops.
      process.kill(started.child.pid!, "SIGTERM");
      await started.exited;
      await expectAllStopped(started);
      expect(started.stderr()).to.contain("stopping the chain: done");
    } finally {
      if (groupAlive(started.child.pid!)) process.kill(-started.child.pid!, "SIGKILL");
    }
  });

  it("refuses a port that is taken, naming the variable that moves it, and leaves nothing running", async function () {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    const empty = await mkdtemp(join(tmpdir(), "pmhe-start-noweb-"));
    dirs.push(empty);
    try {
      const started = await npmStart(["--web", empty], { chain: port, api: await freePort(), web: await freePort() });
      const code = await started.exited;
      expect(code).to.not.equal(0);
      expect(started.stderr()).to.contain(`error: port ${port} on 127.0.0.1, for the chain (Hardhat node), is already in use`);
      expect(started.stderr()).to.contain("next: stop what uses it, or choose another port: PMHE_CHAIN_PORT=<port> npm start");
      for (let i = 0; i < 50 && groupAlive(started.child.pid!); i++) await new Promise((r) => setTimeout(r, 100));
      expect(groupAlive(started.child.pid!)).to.equal(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("rebuilds the app only when its build is missing or older than a source", async function () {
    const web = await fixtureApp();
    dirs.push(web);
    const app = findWebApp(ROOT, web);
    expect(app.present).to.equal(true);
    expect(await staleReason(app, ROOT)).to.equal("no production build yet");
    await mkdir(join(web, "dist"), { recursive: true });
    await writeFile(join(web, "dist", "index.html"), "built");
    const future = new Date(Date.now() + 60_000);
    await utimes(join(web, "dist", "index.html"), future, future);
    expect(await staleReason(app, ROOT)).to.equal(undefined);
    const later = new Date(Date.now() + 120_000);
    await utimes(join(web, "main.js"), later, later);
    expect(await staleReason(app, ROOT)).to.match(/main\.js changed since the last build/);
    // Build output and dependencies are not sources.
    await utimes(join(web, "main.js"), future, future);
    await mkdir(join(web, "node_modules", "x"), { recursive: true });
    await writeFile(join(web, "node_modules", "x", "index.js"), "");
    await utimes(join(web, "node_modules", "x", "index.js"), later, later);
    expect(await staleReason(app, ROOT)).to.equal(undefined);

    const none = await mkdtemp(join(tmpdir(), "pmhe-start-none-"));
    dirs.push(none);
    expect(findWebApp(ROOT, none).present).to.equal(false);
  });
});
