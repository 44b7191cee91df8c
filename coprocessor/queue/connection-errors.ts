import type { Logger } from "pino";

/** Error codes and messages of a Redis connection that is down or dropped, as ioredis and BullMQ report them. */
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
const CONNECTION_MESSAGES = /connection is closed|connect e[a-z]+|stream isn't writeable|max retries|socket closed|enableOfflineQueue/i;

export function isConnectionError(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (typeof code === "string" && CONNECTION_CODES.has(code)) || (typeof message === "string" && CONNECTION_MESSAGES.test(message));
}

/** A URL fit for logs: user name and password replaced, so credentials in PMHE_REDIS_URL or PMHE_RPC_URL never leak. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = parsed.username ? "***" : "";
      parsed.password = parsed.password ? "***" : "";
    }
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * The error events of every Redis connection of the process (its own client, BullMQ's queue and worker
 * connections), logged once per outage: each connection reports every failed reconnection attempt, which would
 * otherwise flood the log with the same line. `up()` (the own client is ready again) ends the outage with one line.
 * Errors that are not about the connection are logged each time.
 */
export class ConnectionErrorLog {
  private down = false;

  constructor(private readonly logger: Logger, private readonly what: string, private readonly url: string) {}

  /** An `error` listener for any of the connections (a listener must exist: an unheard `error` event throws). */
  readonly error = (err: Error, source = "redis"): void => {
    if (!isConnectionError(err)) {
      this.logger.error({ source, err: err.message }, `${this.what} error`);
      return;
    }
    if (this.down) return;
    this.down = true;
    this.logger.warn({ url: redactUrl(this.url), source, err: err.message }, `${this.what} unreachable; retrying quietly until it is back`);
  };

  readonly up = (): void => {
    if (!this.down) return;
    this.down = false;
    this.logger.info({ url: redactUrl(this.url) }, `${this.what} reachable again`);
  };

  get isDown(): boolean {
    return this.down;
  }
}
