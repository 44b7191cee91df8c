import type { JsonRpcProvider } from "ethers";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { abortableSleep } from "../protocol/abortable-sleep.js";
import { checkDeployment, DeploymentError } from "../protocol/chain.js";
import { connectRpc } from "../protocol/rpc.js";
import { redactUrl } from "./queue/connection-errors.js";

export interface DependencyOptions {
  redisUrl: string;
  rpcUrl: string;
  contractAddress: string;
  /** The chain id the endpoint must report (PMHE_CHAIN_ID); any when unset. */
  expectedChainId?: bigint;
  pollingIntervalMs: number;
  /** Longest wait between two rounds of checks; the wait doubles from 500 ms up to it. */
  maxBackoffMs: number;
  /** How long one check may take before it counts as failed. */
  probeTimeoutMs?: number;
  logger: Logger;
  /** Aborting it (SIGTERM while waiting) ends the wait with the signal's reason. */
  signal?: AbortSignal;
}

const FIRST_RETRY_MS = 500;

/** Whether Redis answers PING, asked on a connection of its own that gives up at once instead of retrying. */
async function redisAnswers(url: string, timeoutMs: number): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on("error", () => undefined); // the failure is reported by connect() / ping()
  try {
    await redis.connect();
    const answer = await redis.ping();
    if (answer !== "PONG") throw new Error(`PING answered ${JSON.stringify(answer)}`);
  } finally {
    redis.disconnect();
  }
}


/**
 * Waits until Redis answers PING, the chain answers, and the chain holds a PMHE deployment at the configured address
 * (on the configured chain id, if one is set): the coprocessor does nothing before all three hold. While one is
 * down it backs off exponentially, with one log line per round naming what it waits for and where (URLs without
 * credentials). A chain that answers but has no PMHE contract at the address, or has another chain id, is a
 * configuration error and is thrown (DeploymentError) rather than waited out. Returns the chain's provider, pinned
 * to its chain id.
 */
export async function waitForDependencies(options: DependencyOptions): Promise<{ provider: JsonRpcProvider; chainId: bigint }> {
  const timeoutMs = options.probeTimeoutMs ?? 5_000;
  const where = redactUrl(options.rpcUrl);
  // Errors may quote the URL they failed on, credentials included: logged with the redacted form instead.
  const scrub = (err: unknown) =>
    [options.rpcUrl, options.redisUrl].reduce((text, url) => text.split(url).join(redactUrl(url)), err instanceof Error ? err.message : String(err));
  let delayMs = FIRST_RETRY_MS;
  for (let round = 1; ; round++) {
    options.signal?.throwIfAborted();
    const waitingFor: Array<{ what: string; url: string; err: string }> = [];
    const redis = redisAnswers(options.redisUrl, timeoutMs).then(
      () => true,
      (err: unknown) => waitingFor.push({ what: "Redis", url: redactUrl(options.redisUrl), err: scrub(err) }),
    );
    let connected: { provider: JsonRpcProvider; chainId: bigint } | undefined;
    try {
      connected = await connectRpc(options.rpcUrl, { timeoutMs, pollingIntervalMs: options.pollingIntervalMs });
      await checkDeployment(connected.provider, options.contractAddress, { expectedChainId: options.expectedChainId, where });
    } catch (err) {
      connected?.provider.destroy();
      connected = undefined;
      if (err instanceof DeploymentError) {
        await redis;
        throw err;
      }
      waitingFor.push({ what: "the chain", url: where, err: scrub(err) });
    }
    await redis;
    if (waitingFor.length === 0 && connected) {
      if (round > 1) options.logger.info({ rounds: round }, "Redis and the chain answer");
      return connected;
    }
    connected?.provider.destroy();
    options.logger.warn(
      { waitingFor, round, retryInMs: delayMs },
      `waiting for ${waitingFor.map((w) => `${w.what} at ${w.url}`).join(" and ")}`,
    );
    await abortableSleep(delayMs, options.signal);
    delayMs = Math.min(options.maxBackoffMs, delayMs * 2);
  }
}
