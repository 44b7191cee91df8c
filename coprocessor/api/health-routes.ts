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

/**
 * GET /healthz: the process is up (liveness; touches nothing else).
 * GET /readyz: every dependency answered in time (200), or 503 naming the ones that did not.
 */
export function healthRoutes(readiness: ReadinessOptions | undefined): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const entries = Object.entries(readiness?.checks ?? {});
    const results = await Promise.all(entries.map(async ([name, check]) => [name, await runCheck(check, readiness!.timeoutMs)] as const));
    const checks = Object.fromEntries(results);
    const failed = results.filter(([, result]) => !result.ok).map(([name]) => name);
    res.setHeader("Cache-Control", "no-store");
    if (failed.length === 0) {
      res.json({ status: "ready", checks });
      return;
    }
    res.status(503).json({ status: "not_ready", error: "not_ready", message: `not ready: ${failed.join(", ")} did not answer`, failed, checks });
  });
  return router;
}
