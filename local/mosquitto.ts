import { accessSync, constants } from "node:fs";
import { access, mkdtemp, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { freePort, startRestartableServer, type RestartableServer } from "./child-process.js";

/**
 * `restart()` stops the broker cleanly (SIGTERM: mosquitto writes its persistence database, with every persistent
 * session's subscriptions and queued QoS 1 messages, and exits) and starts it again on the same port and directory.
 */
export interface LocalMosquitto extends RestartableServer {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The directory of the configuration file and the persistence database; removed by `stop()`. */
  dir: string;
}

/**
 * Debian's mosquitto: on PATH, or in /usr/sbin (not on a non-root user's PATH on Debian). `PMHE_MOSQUITTO` names
 * another binary.
 */
export function mosquittoBinary(): string {
  if (process.env.PMHE_MOSQUITTO) return process.env.PMHE_MOSQUITTO;
  const candidates = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "mosquitto")), "/usr/sbin/mosquitto"];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("mosquitto not found on PATH nor in /usr/sbin (Debian: apt-get install mosquitto; or set PMHE_MOSQUITTO)");
}

/** An MQTT 3.1.1 CONNECT (clean session, client id "pmhe-probe", keep-alive 60 s) and the DISCONNECT after it. */
const PROBE_CLIENT_ID = "pmhe-probe";
const CONNECT = Buffer.concat([
  Buffer.from([0x10, 10 + 2 + PROBE_CLIENT_ID.length, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, PROBE_CLIENT_ID.length]),
  Buffer.from(PROBE_CLIENT_ID, "ascii"),
]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Whether an MQTT broker on `port` accepts a connection (CONNACK with return code 0). */
export function mqttAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write(CONNECT));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("data", (data) => {
      const accepted = data.length >= 4 && data[0] === 0x20 && data[1] === 0x02 && data[3] === 0x00;
      socket.end(DISCONNECT);
      resolve(accepted);
    });
    socket.on("error", () => resolve(false));
  });
}

export interface MosquittoOptions {
  /**
   * Messages the broker queues per persistent session while its client is away (mosquitto's
   * `max_queued_messages`; its own default is 1000, beyond which it drops QoS 1 messages). Default 100,000.
   */
  maxQueuedMessages?: number;
}

/**
 * A private mosquitto on a free loopback port, anonymous, with persistence in a fresh temporary directory (saved
 * every second and at a clean shutdown), so persistent sessions and their queued QoS 1 messages survive `restart()`.
 */
export async function startLocalMosquitto(options: MosquittoOptions = {}): Promise<LocalMosquitto> {
  const binary = mosquittoBinary();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "pmhe-mosquitto-"));
  const config = join(dir, "mosquitto.conf");
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      // Started as root, mosquitto would switch to the user "mosquitto", who cannot write the persistence directory.
      `user ${userInfo().username}`,
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 1",
      `max_queued_messages ${options.maxQueuedMessages ?? 100_000}`,
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      "",
    ].join("\n"),
  );
  const server = await startRestartableServer({
    name: "mosquitto",
    binary,
    args: ["-c", config],
    dir,
    answers: () => mqttAnswers(port),
    // Without its database a restart would silently lose every session: say so instead.
    afterStop: (stopped) =>
      access(join(dir, "mosquitto.db")).catch(() => {
        throw new Error(`mosquitto stopped without saving its persistence database:\n${stopped.output()}`);
      }),
  });
  return { url: `mqtt://127.0.0.1:${port}`, port, dir, ...server };
}
