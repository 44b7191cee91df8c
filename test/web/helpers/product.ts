import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../../local/child-process.js";
import type { StartSummary } from "../../../scripts/lib/start-summary.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/**
 * The whole product as a person starts it (`scripts/start.ts`, what `npm start` runs after compiling the contracts),
 * in a process group of its own, on free ports, with its `--json` summary. The summary does not say where the
 * coprocessor keeps its blobs, nor its process id: `TMPDIR` is pointed at a directory of this run, so the one
 * `pmhe-start-blobs-*` directory in it is the blob store's, and the coprocessor is the process whose environment
 * names that directory.
 */
export interface Product {
  summary: StartSummary;
  /** The coprocessor's blob directory (files named by the blob's keccak256, without 0x). */
  blobDir: string;
  /** The coprocessor's process id (the leader of its own process group). */
  coprocessorPid(): Promise<number>;
  /** What start.ts wrote on stderr so far (its progress lines and the coprocessor's). */
  stderr(): string;
  /** SIGINT to the group, as Ctrl-C does; SIGKILL if it is not gone in time; the temporary directory removed. */
  stop(): Promise<void>;
}

export async function startProduct(options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Product> {
  const tmp = await mkdtemp(join(tmpdir(), "pmhe-web-test-"));
  const ports = { chain: await freePort(), api: await freePort(), web: await freePort() };
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PMHE_")));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "start.ts"), "--json"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...clean,
      ...options.env,
      TMPDIR: tmp,
      PMHE_CHAIN_PORT: String(ports.chain),
      PMHE_API_PORT: String(ports.api),
      PMHE_WEB_PORT: String(ports.web),
    },
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // gone
    }
  };
  const onExit = () => killGroup("SIGKILL");
  process.once("exit", onExit);

  const stop = async () => {
    process.off("exit", onExit);
    if (child.exitCode === null && child.signalCode === null) {
      killGroup("SIGINT");
      const timer = setTimeout(() => killGroup("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(tmp, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (options.timeoutMs ?? 150_000);
    let summary: StartSummary | undefined;
    while (!summary) {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line && out.includes("\n", out.indexOf(line))) summary = JSON.parse(line) as StartSummary;
      else {
        if (child.exitCode !== null) throw new Error(`scripts/start.ts exited with ${child.exitCode}:\n${err}`);
        if (Date.now() > deadline) throw new Error(`scripts/start.ts was not ready in time:\n${err}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (summary.appPlaceholder) throw new Error(`the app is a placeholder page: ${summary.appPlaceholder}\n${err}`);
    const blobDirs = (await readdir(tmp)).filter((name) => name.startsWith("pmhe-start-blobs-"));
    if (blobDirs.length !== 1) throw new Error(`expected one blob directory in ${tmp}, found ${blobDirs.join(", ") || "none"}`);
    const blobDir = join(tmp, blobDirs[0]!);
    return {
      summary,
      blobDir,
      coprocessorPid: () => findProcess((env, cmdline) => env.includes(`PMHE_BLOB_DIR=${blobDir}`) && cmdline.includes("coprocessor/main.ts")),
      stderr: () => err,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The one process (of this user) whose environment and command line satisfy `match`. */
async function findProcess(match: (environ: string[], cmdline: string) => boolean): Promise<number> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [environ, cmdline] = await Promise.all([readFile(`/proc/${entry}/environ`, "utf8"), readFile(`/proc/${entry}/cmdline`, "utf8")]);
      if (match(environ.split("\0"), cmdline.replaceAll("\0", " "))) found.push(Number(entry));
    } catch {
      // not ours, or gone
    }
  }
  if (found.length !== 1) throw new Error(`expected one matching process, found ${found.length}`);
  return found[0]!;
}
