import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { rm } from "node:fs/promises";

/** A free TCP port on the loopback interface, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Whether something already listens on `host:port` (a listen attempt there fails with EADDRINUSE). */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" || err.code === "EACCES" ? resolve(true) : reject(err)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Last lines the process wrote, for error messages when it fails to start. */
  output(): string;
  /** SIGTERM to the group, then SIGKILL if it has not exited after `graceMs` (default 5 s). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a helper server in its own process group, so stopping it also stops anything it spawned
 * (an `npx` wrapper, for instance) and the port is really free afterwards.
 */
export function startProcess(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; /** Called with each line the process writes (stdout and stderr). */ onLine?: (line: string) => void } = {},
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    const fresh = chunk.toString("utf8").split("\n").filter(Boolean);
    lines.push(...fresh);
    if (lines.length > 50) lines.splice(0, lines.length - 50);
    if (options.onLine) for (const line of fresh) options.onLine(line);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // A detached group outlives its parent; if the parent exits without calling stop() (a crash, process.exit),
  // take the group down with it rather than leave a server holding a port.
  const killOnExit = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  return {
    child,
    output: () => lines.join("\n"),
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `probe` until it resolves truthy, the process dies, or the deadline passes. */
export async function waitUntil(what: string, proc: ManagedProcess, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited with code ${proc.child.exitCode}:\n${proc.output()}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop();
  throw new Error(`${what} did not become ready within ${timeoutMs} ms:\n${proc.output()}`);
}

/** A local server in a directory of its own, that can be restarted on the same port and directory. */
export interface RestartableServer {
  /**
   * Stops the server cleanly and starts it again with the same arguments and directory, as an operator's restart
   * does; `whileDown` runs while it is stopped. Resolves once it answers again.
   */
  restart(options?: { whileDown?: () => Promise<void> }): Promise<void>;
  /** The server's current process (a restart starts a new one). */
  process(): ManagedProcess;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `binary args` and waits until `answers()` (the directory is removed if it never does); restarts check a
 * clean exit, then `afterStop` (e.g. that the server saved what it must keep).
 */
export async function startRestartableServer(options: {
  name: string;
  binary: string;
  args: string[];
  dir: string;
  answers: () => Promise<boolean>;
  afterStop?: (stopped: ManagedProcess) => Promise<void>;
}): Promise<RestartableServer> {
  const { name, binary, args, dir, answers } = options;
  const launch = async (): Promise<ManagedProcess> => {
    const started = startProcess(binary, args);
    started.child.once("error", () => undefined);
    await waitUntil(name, started, answers, 20_000);
    return started;
  };
  let proc: ManagedProcess;
  try {
    proc = await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    async restart(restartOptions = {}) {
      await proc.stop();
      if (proc.child.exitCode !== 0) throw new Error(`${name} did not stop cleanly (exit ${proc.child.exitCode}, signal ${proc.child.signalCode}):\n${proc.output()}`);
      await options.afterStop?.(proc);
      try {
        await restartOptions.whileDown?.();
      } finally {
        proc = await launch();
      }
    },
    process: () => proc,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
