import type { Logger } from "pino";
import type { Hash } from "../../protocol/hash.js";

/** A source of `PredictionRequested` job ids between two blocks (inclusive). */
export interface RequestSource {
  latestBlock(): Promise<number>;
  requestedJobIds(fromBlock: number, toBlock: number): Promise<Hash[]>;
}

/** Where the listener resumes after a restart. */
export interface CursorStore {
  load(): Promise<number | undefined>;
  save(nextBlock: number): Promise<void>;
}

export interface ListenerOptions {
  startBlock: number;
  confirmations: number;
  pollIntervalMs: number;
  /** Longest wait between polls while the chain or Redis keeps failing (exponential backoff up to this). */
  maxBackoffMs?: number;
  /** Largest block range per log query; providers cap eth_getLogs ranges. */
  maxRange?: number;
  logger: Logger;
}

/**
 * The wait before the next poll: the poll interval while healthy; after failures (a provider disconnect, Redis
 * down) it doubles per failure up to `maxBackoffMs`, with up to 20% jitter so restarted fleets do not poll in step.
 */
export function pollDelayMs(failures: number, options: Pick<ListenerOptions, "pollIntervalMs" | "maxBackoffMs">, random = Math.random): number {
  if (failures === 0) return options.pollIntervalMs;
  const cap = Math.max(options.pollIntervalMs, options.maxBackoffMs ?? 30_000);
  const backoff = Math.min(cap, options.pollIntervalMs * 2 ** Math.min(failures, 20));
  return Math.round(backoff * (1 - 0.2 * random()));
}

/**
 * Follows job requests by polling logs from a persisted cursor rather than subscribing, so a restart resumes
 * where it stopped and nothing is missed while it was down. Enqueueing is idempotent, so a block seen twice
 * (a crash between enqueue and cursor save) enqueues nothing new.
 */
export class RequestListener {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  private consecutiveFailures = 0;

  constructor(
    private readonly source: RequestSource,
    private readonly cursor: CursorStore,
    private readonly enqueue: (jobId: Hash) => Promise<void>,
    private readonly options: ListenerOptions,
  ) {}

  /** One pass: everything confirmed since the cursor. Returns how many job ids it enqueued. */
  async poll(): Promise<number> {
    const next = (await this.cursor.load()) ?? this.options.startBlock;
    const safeHead = (await this.source.latestBlock()) - this.options.confirmations;
    let from = next;
    let enqueued = 0;
    const maxRange = this.options.maxRange ?? 2_000;
    while (from <= safeHead) {
      const to = Math.min(safeHead, from + maxRange - 1);
      for (const jobId of await this.source.requestedJobIds(from, to)) {
        await this.enqueue(jobId);
        enqueued++;
      }
      await this.cursor.save(to + 1);
      from = to + 1;
    }
    return enqueued;
  }

  /** Consecutive polls that failed (chain or Redis unreachable); 0 while healthy. */
  get failures(): number {
    return this.consecutiveFailures;
  }

  start(): void {
    this.stopped = false;
    const tick = async () => {
      try {
        const count = await this.poll();
        if (this.consecutiveFailures > 0) this.options.logger.info({ after: this.consecutiveFailures }, "request listener reconnected");
        this.consecutiveFailures = 0;
        if (count > 0) this.options.logger.debug({ count }, "enqueued requested jobs");
      } catch (err) {
        this.consecutiveFailures++;
        const delayMs = pollDelayMs(this.consecutiveFailures, this.options);
        this.options.logger.warn({ err: (err as Error).message, failures: this.consecutiveFailures, retryInMs: delayMs }, "request listener poll failed; backing off");
      }
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = tick()), pollDelayMs(this.consecutiveFailures, this.options));
    };
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
