import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, waitUntil, type ManagedProcess } from "./child-process.js";

export interface LocalRedis {
  url: string;
  port: number;
  /** The data directory (AOF and RDB files); removed by `stop()`. */
  dir: string;
  /**
   * Stops the server cleanly (SIGTERM: Redis flushes its AOF and exits) and starts it again on the same port and
   * data directory, as an operator's restart or a host reboot does. Resolves once it answers PING again; with
   * `appendOnly` the data set survives. Clients see a dropped connection in between; `whileDown` runs while the
   * server is stopped (to act during the outage).
   */
  restart(options?: { whileDown?: () => Promise<void> }): Promise<void>;
  /** The server's current process (a restart starts a new one). */
  process(): ManagedProcess;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * A private redis-server (Debian's binary on PATH) on a free loopback port. `noeviction` because BullMQ must never
 * lose a job to memory pressure; AOF on request, for tests that restart Redis and expect the queue to survive.
 */
export async function startLocalRedis(options: { appendOnly?: boolean } = {}): Promise<LocalRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "pmhe-redis-"));
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
    "--appendonly", options.appendOnly ? "yes" : "no", "--maxmemory-policy", "noeviction",
  ];
  const launch = async (): Promise<ManagedProcess> => {
    const started = startProcess("redis-server", args);
    started.child.once("error", () => undefined);
    await waitUntil("redis-server", started, () => ping(port), 20_000);
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
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async restart(restartOptions = {}) {
      await proc.stop();
      if (proc.child.exitCode !== 0) throw new Error(`redis-server did not stop cleanly (exit ${proc.child.exitCode}, signal ${proc.child.signalCode}):\n${proc.output()}`);
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
