import { mkdtemp } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRestartableServer, type RestartableServer } from "./child-process.js";

/**
 * `restart()` stops the server cleanly (SIGTERM: Redis flushes its AOF and exits) and starts it again on the same port
 * and data directory, as an operator's restart or a host reboot does; with `appendOnly` the data set survives.
 */
export interface LocalRedis extends RestartableServer {
  url: string;
  port: number;
  /** The data directory (AOF and RDB files); removed by `stop()`. */
  dir: string;
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
  const server = await startRestartableServer({ name: "redis-server", binary: "redis-server", args, dir, answers: () => ping(port) });
  return { url: `redis://127.0.0.1:${port}`, port, dir, ...server };
}
