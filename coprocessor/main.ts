import { existsSync } from "node:fs";
import { loadCoprocessorConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startCoprocessor } from "./service.js";

// Settings from a local .env file when there is one; the environment itself wins.
if (existsSync(".env")) process.loadEnvFile(".env");

const config = loadCoprocessorConfig();
const logger = createLogger(config.LOG_LEVEL);
const running = await startCoprocessor(config, logger);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: in-flight jobs finish first");
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, "unclean stop");
        process.exit(1);
      },
    );
  });
}
