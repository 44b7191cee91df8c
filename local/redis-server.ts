import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, waitUntil, type ManagedProcess } from "./child-process.js";

export interface LocalRedis {
  url: string;
  port: number;
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
  let proc: ManagedProcess;
  try {
    proc = startProcess("redis-server", args);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  proc.child.once("error", () => undefined);
  await waitUntil("redis-server", proc, () => ping(port), 20_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
