import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startProcess, waitUntil, type ManagedProcess } from "./child-process.js";

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface CoprocessorProcess {
  readonly pid: number;
  readonly apiUrl: string;
  /** The operator server: /metrics, /readyz and the queue dashboard. */
  readonly operatorUrl: string;
  readonly process: ManagedProcess;
  /**
   * SIGTERM, then wait for the exit (in-flight jobs finish first); SIGKILL only if it has not exited after
   * `graceMs` (default 30 s: in-flight jobs may take a while to settle).
   */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, no chance to clean up: what a crash or the OOM killer does. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Resident set size of the process (all its threads), bytes, from /proc. */
  rssBytes(): Promise<number>;
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`);
  return response.ok;
}

/**
 * `coprocessor/main.ts` as a process of its own, configured only through its environment, exactly as an operator
 * runs it. For tests that kill it and for the load command, which measures its memory apart from the load's.
 */
export async function startCoprocessorProcess(env: Record<string, string>, options: { onLine?: (line: string) => void } = {}): Promise<CoprocessorProcess> {
  const port = env.PMHE_API_PORT && env.PMHE_API_PORT !== "0" ? Number(env.PMHE_API_PORT) : await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const operatorPort = env.PMHE_OPERATOR_PORT && env.PMHE_OPERATOR_PORT !== "0" ? Number(env.PMHE_OPERATOR_PORT) : await freePort();
  const operatorUrl = `http://127.0.0.1:${operatorPort}`;
  const proc = startProcess(
    process.execPath,
    ["--import", import.meta.resolve("tsx/esm"), join(PROJECT_ROOT, "coprocessor", "main.ts")],
    { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: "warn", ...env, PMHE_API_HOST: "127.0.0.1", PMHE_API_PORT: String(port), PMHE_OPERATOR_HOST: "127.0.0.1", PMHE_OPERATOR_PORT: String(operatorPort) }, onLine: options.onLine },
  );
  await waitUntil("coprocessor", proc, () => healthy(apiUrl), 60_000);
  const exited = new Promise<void>((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) resolve();
    else proc.child.once("exit", () => resolve());
  });
  const pid = proc.child.pid!;
  return {
    pid,
    apiUrl,
    operatorUrl,
    process: proc,
    // In-flight jobs may take a while to settle on-chain before the process exits by itself.
    stop: (graceMs = 30_000) => proc.stop(graceMs),
    async kill() {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    },
    async rssBytes() {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (!kb) throw new Error(`no VmRSS for process ${pid}`);
      return Number(kb[1]) * 1024;
    },
  };
}
