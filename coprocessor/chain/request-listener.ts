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
  /** Largest block range per log query; providers cap eth_getLogs ranges. */
  maxRange?: number;
  logger: Logger;
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

  start(): void {
    this.stopped = false;
    const tick = async () => {
      try {
        const count = await this.poll();
        if (count > 0) this.options.logger.debug({ count }, "enqueued requested jobs");
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, "request listener poll failed; retrying");
      }
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = tick()), this.options.pollIntervalMs);
    };
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
