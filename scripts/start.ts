/**
 * `npm start`: the whole local product on one machine, on embedded defaults. A Hardhat node (127.0.0.1:8545,
 * PMHE_CHAIN_PORT), a private redis-server on a free port, PMHE deployed through the Ignition module at quorum 1
 * (development only), the demo hospital (Hardhat account #1) registered with its share key, one published model per
 * model file under models/, the coprocessor as a child process (API on 127.0.0.1:8080, PMHE_API_PORT), and the web
 * app's production build with its runtime configuration (127.0.0.1:3000, PMHE_WEB_PORT), built first when missing or
 * stale. It prints what a person needs (app URL, chain id and RPC URL for the wallet, contract, API, model ids, test
 * accounts with their public keys). SIGINT (Ctrl-C) or SIGTERM stops everything it started, in reverse order, within
 * a bounded time; a second signal kills at once.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { NonceManager } from "ethers";
import { publishModel } from "../hospital/publish-model.js";
import { freePort, type ManagedProcess } from "../local/child-process.js";
import { startCoprocessorProcess, type CoprocessorProcess } from "../local/coprocessor-process.js";
import { deployPmhe, LOCAL_QUORUM } from "../local/deploy.js";
import { ChainPortInUseError, startLocalChain } from "../local/hardhat-node.js";
import { startLocalRedis } from "../local/redis-server.js";
import { hardhatAccount, LOCAL_HOSPITAL_NAME, localHospitalKeys } from "../local/stack.js";
import { parseAppConfig, APP_CONFIG_PATH, type AppConfig } from "../protocol/app-config.js";
import { BlobClient } from "../protocol/blob-client.js";
import { parseModelBytes, type Model } from "../protocol/model.js";
import { checkPorts, ROLES, startSettings, StartError, testAccount } from "./lib/start-settings.js";
import { API_PREFIX, startWebServer } from "./lib/start-server.js";
import { summaryLines, type StartSummary } from "./lib/start-summary.js";
import { buildWebApp, findWebApp, staleReason } from "./lib/start-web.js";
import { NativeJsonRpcProvider } from "../protocol/rpc.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Everything has this long to stop after a signal before what is left is killed. */
const STOP_DEADLINE_MS = 25_000;

const program = new Command()
  .name("start")
  .description("Start the whole PMHE product on this machine: chain, Redis, contracts, coprocessor and web app.")
  .addOption(new Option("--web <dir>", "the web app's directory (its dist/ is served)").default(join(ROOT, "client", "web")))
  .option("--no-web-build", "serve the web app's existing build as it is, even when stale")
  .addOption(new Option("--log-level <level>", "coprocessor log level (its lines go to stderr)").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("warn"))
  .option("--json", "when ready, print one JSON document (the summary) instead of the text")
  .addHelpText(
    "after",
    `
Environment: PMHE_CHAIN_PORT (default 8545), PMHE_API_PORT (8080), PMHE_WEB_PORT (3000). No .env file is read.
Development only: quorum 1 (one operator decides every result) and Hardhat's public test keys.`,
  )
  .parse();
const opts = program.opts<{ web: string; webBuild: boolean; logLevel: string; json?: boolean }>();

const progress = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Stopping: every started part registers how to stop it; they stop in reverse order.
const parts: Array<{ name: string; stop: () => Promise<unknown> }> = [];
const watched: Array<{ name: string; process: ManagedProcess }> = [];
const starting = new AbortController();
let stopping = false;

async function stopAll(exitCode: number, why: string): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  starting.abort();
  progress(`\nstopping (${why}) ...`);
  const deadline = setTimeout(() => {
    progress(`not everything stopped within ${STOP_DEADLINE_MS / 1000} s; killing what is left`);
    process.exit(exitCode || 1); // the children's exit hooks SIGKILL their process groups
  }, STOP_DEADLINE_MS);
  for (const part of parts.reverse()) {
    try {
      await part.stop();
      progress(`  ${part.name}: done`);
    } catch (err) {
      progress(`  ${part.name}: failed: ${(err as Error).message}`);
    }
  }
  clearTimeout(deadline);
  process.exit(exitCode);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) {
      progress(`${signal} again: killing everything now`);
      process.exit(130);
    }
    void stopAll(0, signal);
  });
}

// `npm start` runs this under `sh -c`, and npm hands a SIGTERM to that shell only: the shell dies and this process
// is re-parented. Losing the parent is a signal too.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void stopAll(0, "its parent process exited");
}, 500).unref();

/** A part that exits by itself while running is fatal: say which, with its last lines, and stop the rest. */
function watch(name: string, proc: ManagedProcess): void {
  watched.push({ name, process: proc });
  proc.child.once("exit", (code, signal) => {
    if (stopping) return;
    progress(`\n${name} exited unexpectedly (${signal ?? `code ${code}`}). Its last lines:\n${proc.output()}`);
    void stopAll(1, `${name} exited`);
  });
}

/** Throws if a signal arrived meanwhile, so no more parts are started. */
function checkpoint(): void {
  if (starting.signal.aborted) throw new Error("stopped while starting");
}

async function readModels(): Promise<Array<{ file: string; model: Model }>> {
  const dir = join(ROOT, "models");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  const models = [];
  for (const file of files) {
    try {
      models.push({ file: join("models", file), model: parseModelBytes(await readFile(join(dir, file))) });
    } catch (err) {
      throw new StartError(`models/${file} is not a valid model: ${(err as Error).message}`, "fix or remove that file (npm run train writes valid ones)");
    }
  }
  return models;
}

async function main(): Promise<void> {
  const settings = startSettings();
  await checkPorts(settings);
  const models = await readModels();
  const webUrl = `http://127.0.0.1:${settings.PMHE_WEB_PORT}`;
  const apiUrl = `http://127.0.0.1:${settings.PMHE_API_PORT}`;
  const appApiUrl = `${webUrl}${API_PREFIX}`;

  // The web build runs beside the chain and Redis starting up.
  const app = findWebApp(ROOT, resolve(opts.web));
  const webBuild = (async (): Promise<{ dist?: string; placeholder?: string }> => {
    if (!app.present) return { placeholder: `there is no web app in ${app.root} yet (no vite.config.ts or package.json)` };
    const reason = await staleReason(app, ROOT);
    if (!reason) return { dist: app.dist };
    if (!opts.webBuild) return reason === "no production build yet" ? { placeholder: "there is no production build and --no-web-build was given" } : { dist: app.dist };
    progress(`building the web app (${reason}) ...`);
    const built = await buildWebApp(app, starting.signal);
    if (built.ok) return { dist: app.dist };
    if (starting.signal.aborted) return { placeholder: "stopped" };
    progress(`the web app's build failed; serving a placeholder page. Its last lines:\n${built.output}`);
    return { placeholder: "the web app's build failed (npm start printed why)" };
  })();

  progress(`starting the chain on 127.0.0.1:${settings.PMHE_CHAIN_PORT} and a private redis-server ...`);
  const [chainStart, redisStart] = await Promise.allSettled([startLocalChain({ port: settings.PMHE_CHAIN_PORT }), startLocalRedis()]);
  if (chainStart.status === "fulfilled") parts.push({ name: "stopping the chain", stop: () => chainStart.value.stop() });
  if (redisStart.status === "fulfilled") parts.push({ name: "stopping redis-server", stop: () => redisStart.value.stop() });
  if (chainStart.status === "rejected") {
    if (chainStart.reason instanceof ChainPortInUseError) {
      throw new StartError(chainStart.reason.message, `stop what uses it, or choose another port: PMHE_CHAIN_PORT=<port> npm start`);
    }
    throw chainStart.reason;
  }
  if (redisStart.status === "rejected") {
    const reason = redisStart.reason as NodeJS.ErrnoException;
    if (reason.code === "ENOENT" || /ENOENT/.test(String(reason.message))) throw new StartError("redis-server is not installed (it must be on PATH)", "install it (Debian: apt-get install redis-server) and run npm start again");
    throw reason;
  }
  const chain = chainStart.value;
  const redis = redisStart.value;
  watch("the chain (hardhat node)", chain.process);
  watch("redis-server", redis.process());
  checkpoint();

  const provider = new NativeJsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
  parts.push({ name: "closing the chain connection", stop: async () => provider.destroy() });
  const admin = new NonceManager(hardhatAccount(ROLES.admin, provider));
  const hospitalWallet = hardhatAccount(ROLES.hospital, provider);
  const hospital = new NonceManager(hospitalWallet);
  const operator = hardhatAccount(ROLES.operator, provider);
  // The demo hospital's share key, derived from its (public) wallet key: the same on every run.
  const shareKey = localHospitalKeys(hospitalWallet).publicKey;
  const chainId = Number((await provider.getNetwork()).chainId);

  progress("deploying PMHE through ignition/modules/PMHE.ts (quorum 1: development only) ...");
  const deployment = await deployPmhe(admin, {
    hospitals: [{ address: hospitalWallet.address, encryptionKey: shareKey, name: LOCAL_HOSPITAL_NAME }],
    coprocessors: [operator.address],
    quorum: LOCAL_QUORUM,
    rpcUrl: chain.rpcUrl,
  });
  checkpoint();

  const blobDir = await mkdtemp(join(tmpdir(), "pmhe-start-blobs-"));
  parts.push({ name: "removing the blob directory", stop: () => rm(blobDir, { recursive: true, force: true }) });
  progress(`starting the coprocessor (API on ${apiUrl}) ...`);
  const coprocessor: CoprocessorProcess = await startCoprocessorProcess(
    {
      PMHE_RPC_URL: chain.rpcUrl,
      PMHE_CHAIN_ID: String(chainId),
      PMHE_CONTRACT_ADDRESS: deployment.address,
      PMHE_START_BLOCK: String(deployment.blockNumber),
      PMHE_COPROCESSOR_KEY: operator.privateKey,
      PMHE_REDIS_URL: redis.url,
      PMHE_BLOB_DIR: blobDir,
      PMHE_API_PORT: String(settings.PMHE_API_PORT),
      PMHE_OPERATOR_PORT: String(await freePort()),
      // Result URLs the app can fetch from its own origin.
      PMHE_PUBLIC_URL: appApiUrl,
      PMHE_POLL_INTERVAL_MS: "200",
      // A local chain mines at once and a job takes a fraction of a second: the app asks again after 1 s, not 2.
      PMHE_JOB_RETRY_AFTER_SECONDS: "1",
      PMHE_SHUTDOWN_TIMEOUT_MS: "8000",
      LOG_LEVEL: opts.logLevel,
    },
    { onLine: (line) => progress(`[coprocessor] ${line}`) },
  );
  parts.push({ name: "stopping the coprocessor", stop: () => coprocessor.stop(10_000) });
  watch("the coprocessor", coprocessor.process);
  checkpoint();

  const blobs = new BlobClient(apiUrl);
  const published: AppConfig["models"] = [];
  for (const { file, model } of models) {
    const { modelId, modelHash } = await publishModel(hospital, deployment.address, blobs, model);
    progress(`published ${file} as ${modelId}`);
    published.push({
      id: modelId,
      hash: modelHash,
      name: model.name,
      version: model.version,
      publisher: hospitalWallet.address,
      publisherName: LOCAL_HOSPITAL_NAME,
      positiveMeans: model.target.positiveMeans,
      url: `${appApiUrl}/blobs/${modelHash}`,
    });
    checkpoint();
  }

  const config = parseAppConfig({
    chainId,
    chainName: "PMHE local (Hardhat)",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrl: chain.rpcUrl,
    contractAddress: deployment.address,
    deploymentBlock: deployment.blockNumber,
    apiUrl: appApiUrl,
    blockExplorer: null,
    quorum: LOCAL_QUORUM,
    development: true,
    models: published,
  });
  // Also on disk, for a vite dev server or a script: .pmhe/ is git-ignored.
  const configFile = join(ROOT, ".pmhe", "start", APP_CONFIG_PATH);
  await mkdir(dirname(configFile), { recursive: true });
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const web = await webBuild;
  checkpoint();
  const server = await startWebServer({
    port: settings.PMHE_WEB_PORT,
    dist: web.dist,
    placeholderReason: web.placeholder ?? "",
    apiUrl,
    config: () => config,
  });
  parts.push({ name: "stopping the web server", stop: () => server.close() });

  const summary: StartSummary = {
    appUrl: server.url,
    ...(web.placeholder ? { appPlaceholder: web.placeholder } : {}),
    configUrl: `${server.url}/${APP_CONFIG_PATH}`,
    chainId,
    rpcUrl: chain.rpcUrl,
    contractAddress: deployment.address,
    deploymentBlock: deployment.blockNumber,
    apiUrl,
    appApiUrl,
    operatorUrl: coprocessor.operatorUrl,
    redisUrl: redis.url,
    quorum: LOCAL_QUORUM,
    hospital: { name: LOCAL_HOSPITAL_NAME, shareKey },
    models: published,
    accounts: {
      admin: testAccount(ROLES.admin),
      hospital: testAccount(ROLES.hospital),
      operator: testAccount(ROLES.operator),
      patients: ROLES.patients.map(testAccount),
    },
  };
  console.log(opts.json ? JSON.stringify(summary) : summaryLines(summary).join("\n"));
}

try {
  await main();
} catch (err) {
  if (!stopping) {
    if (err instanceof StartError) {
      progress(`error: ${err.message}`);
      progress(`next: ${err.next}`);
    } else {
      progress(`error: npm start failed: ${err instanceof Error ? err.message : String(err)}`);
      progress("next: fix what it names and run npm start again");
    }
    await stopAll(1, "start failed");
  }
}
