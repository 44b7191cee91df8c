import { Router } from "express";
import type { JsonRpcProvider } from "ethers";
import type { Redis } from "ioredis";

/** One dependency check: resolves if the dependency answered, rejects (or never settles) if not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface ReadinessOptions {
  checks: Record<string, ReadinessCheck>;
  /** How long each check may take before it counts as failed. */
  timeoutMs: number;
}

/** A failure whose message is safe to show: it names no host, URL or credential. */
class CheckFailure extends Error {}

/** What a failed check reports: its own safe message, or just an error code (an RPC URL may carry an API key). */
function describe(err: unknown): string {
  if (err instanceof CheckFailure) return err.message;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^[A-Z_]{2,40}$/.test(code) ? code : "error";
}

type CheckResult = { ok: true; ms: number } | { ok: false; ms: number; error: string };

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Redis answers PING. A connection that is down fails at once rather than queueing the command. */
export function redisPing(redis: Redis): ReadinessCheck {
  return async () => {
    if (redis.status !== "ready") throw new CheckFailure(`connection ${redis.status}`);
    const answer = await redis.ping();
    if (answer !== "PONG") throw new CheckFailure("unexpected answer to PING");
  };
}

/** The chain's JSON-RPC endpoint answers eth_blockNumber. */
export function chainBlockNumber(provider: JsonRpcProvider): ReadinessCheck {
  return () => provider.send("eth_blockNumber", []);
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
  failed: string[];
}

export interface ReadinessProbeOptions extends ReadinessOptions {
  /** How long one round of checks answers every probe; 0 checks on every probe. */
  cacheMs: number;
  /** Clock in ms (tests move it). */
  now?: () => number;
}

/**
 * Runs the checks at most once per `cacheMs`: probes arriving meanwhile get the last answer, and probes arriving
 * while a round runs wait for that round. A flood of /readyz then costs one Redis PING and one RPC call per interval.
 */
export function readinessProbe(options: ReadinessProbeOptions): () => Promise<ReadinessReport> {
  const now = options.now ?? (() => performance.now());
  let last: { at: number; report: ReadinessReport } | undefined;
  let running: Promise<ReadinessReport> | undefined;
  const run = async (): Promise<ReadinessReport> => {
    const entries = Object.entries(options.checks);
    const results = await Promise.all(entries.map(async ([name, check]) => [name, await runCheck(check, options.timeoutMs)] as const));
    return { ready: results.every(([, result]) => result.ok), checks: Object.fromEntries(results), failed: results.filter(([, result]) => !result.ok).map(([name]) => name) };
  };
  return () => {
    if (last && now() - last.at < options.cacheMs) return Promise.resolve(last.report);
    running ??= run().then(
      (report) => {
        last = { at: now(), report };
        running = undefined;
        return report;
      },
      (err: unknown) => {
        running = undefined;
        throw err;
      },
    );
    return running;
  };
}

/** GET /healthz: the process is up (liveness; touches nothing else). Served on the API and the operator server. */
export function livenessRoutes(): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.json({ status: "ok" });
  });
  return router;
}

/** GET /readyz: every dependency answered in time (200), or 503 naming the ones that did not. Operator server only. */
export function readinessRoutes(probe: () => Promise<ReadinessReport>): Router {
  const router = Router();
  router.get("/readyz", async (_req, res) => {
    const { ready, checks, failed } = await probe();
    res.setHeader("Cache-Control", "no-store");
    if (ready) {
      res.json({ status: "ready", checks });
      return;
    }
    res.status(503).json({ status: "not_ready", error: "not_ready", message: `not ready: ${failed.join(", ")} did not answer`, failed, checks });
  });
  return router;
}
