import { pino, type Logger } from "pino";

/**
 * Structured logs on stderr (stdout stays free for command output). Log job ids, hashes and reason codes only:
 * never readings, keys or ciphertext bytes.
 */
export function createLogger(level: string, name = "pmhe-coprocessor"): Logger {
  return pino({ name, level }, pino.destination(2));
}
