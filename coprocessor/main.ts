import { existsSync } from "node:fs";
import { ConfigError, loadCoprocessorConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startCoprocessor, type RunningCoprocessor } from "./service.js";

// Settings from a local .env file when there is one; the environment itself wins.
if (existsSync(".env")) process.loadEnvFile(".env");

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

let config: ReturnType<typeof loadCoprocessorConfig>;
try {
  config = loadCoprocessorConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const logger = createLogger(config.LOG_LEVEL);

// Every promise is meant to be handled where it is made; one that is not is a bug to see, not a reason to die.
process.on("unhandledRejection", (reason) => logger.error({ err: message(reason) }, "unhandled rejection"));

// Signals are heard from the first moment: a coprocessor still waiting for Redis or the chain must stop too.
const starting = new AbortController();
let running: RunningCoprocessor | undefined;
let stopping = false;

function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, timeoutMs: config.PMHE_SHUTDOWN_TIMEOUT_MS }, "stopping: in-flight jobs finish first");
  // Whatever is down (Redis, the chain) must not keep the process from exiting.
  setTimeout(() => {
    logger.error({ timeoutMs: config.PMHE_SHUTDOWN_TIMEOUT_MS }, "shutdown timed out; exiting without waiting any longer");
    process.exit(1);
  }, config.PMHE_SHUTDOWN_TIMEOUT_MS).unref();
  starting.abort(new Error(`stopped by ${signal} while starting`));
  running?.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err: message(err) }, "unclean stop");
      process.exit(1);
    },
  );
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stop(signal));

try {
  running = await startCoprocessor(config, logger, { signal: starting.signal });
} catch (err) {
  if (stopping) {
    logger.info("stopped before it had started");
    process.exit(0);
  }
  logger.fatal({ err: message(err) }, "coprocessor could not start");
  process.exit(1);
}
// A signal that came while the last start-up steps ran: stop now that there is something to stop.
if (stopping) {
  running.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
