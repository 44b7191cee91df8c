import type { Logger } from "pino";
import type { Hash } from "../../protocol/hash.js";
import type { BlobLifecycle } from "../blobstore/blob-lifecycle.js";

/** A prediction request as the listener hands it to the queue. */
export interface JobRequest {
  jobId: Hash;
  /** The patient whose record it is (lower case): the queue orders jobs fairly between patients. */
  patient: string;
  blockNumber: number;
  /** The hash of the block the request was mined in: it tells a request apart from one of a reset chain. */
  blockHash: Hash;
}

type Reference = Parameters<BlobLifecycle["referenced"]>[0][number];
type Erasure = Parameters<BlobLifecycle["erased"]>[0];

/** What the listener reads from the chain, in chain order. */
export type ChainEvent =
  | { type: "requested"; request: JobRequest }
  | ({ type: "referenced" } & Reference)
  | { type: "erased"; erasure: Erasure };

/** The chain as the listener sees it: its head, block hashes, and the followed events between two blocks (inclusive). */
export interface ChainSource {
  head(): Promise<{ number: number; hash: string }>;
  blockHash(blockNumber: number): Promise<string | undefined>;
  events(fromBlock: number, toBlock: number): Promise<ChainEvent[]>;
}

/** Where the listener stands: the next block to read, and the hash of the block before it as it was read. */
export interface Cursor {
  next: number;
  /** Hash of block `next - 1` when it was read; compared on every poll to notice a chain that was replaced. */
  hash?: string;
}

/** Where the listener resumes after a restart. */
export interface CursorStore {
  load(): Promise<Cursor | undefined>;
  save(cursor: Cursor): Promise<void>;
}

export interface ListenerOptions {
  startBlock: number;
  confirmations: number;
  pollIntervalMs: number;
  /** Longest wait between polls while the chain or Redis keeps failing (exponential backoff up to this). */
  maxBackoffMs?: number;
  /** Largest block range per log query; providers cap eth_getLogs ranges. */
  maxRange?: number;
  /** Told about every blob the chain references or erases, before the range's cursor is saved. */
  lifecycle?: BlobLifecycle;
  /** Called once per detected chain reset, after it is logged (the committer re-reads its nonce). */
  onChainReset?: () => void;
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
 * The coprocessor's one reader of chain events. It polls logs from a persisted cursor rather than subscribing, so
 * a restart resumes where it stopped and nothing is missed while it was down. For each block range it reports the
 * blobs the chain references or erases to the blob store's lifecycle, enqueues the job requests, and then saves
 * the cursor; every step is idempotent, so a range read twice (a crash before the save) changes nothing.
 *
 * A chain that was replaced under the same endpoint (a restarted development chain, or a reorganisation deeper
 * than the confirmations) is noticed when the stored cursor is beyond the head or the block before it now has
 * another hash: that is logged once as a chain reset and scanning starts again from `startBlock`.
 */
export class RequestListener {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  private consecutiveFailures = 0;

  constructor(
    private readonly source: ChainSource,
    private readonly cursor: CursorStore,
    private readonly enqueue: (requests: JobRequest[]) => Promise<void>,
    private readonly options: ListenerOptions,
  ) {}

  /** One pass: everything confirmed since the cursor. Returns how many job requests it enqueued. */
  async poll(): Promise<number> {
    const head = await this.source.head();
    const safeHead = head.number - this.options.confirmations;
    const stored = await this.cursor.load();
    let from = stored ? await this.resumeFrom(stored, head) : this.options.startBlock;
    let enqueued = 0;
    const maxRange = this.options.maxRange ?? 2_000;
    while (from <= safeHead) {
      const to = Math.min(safeHead, from + maxRange - 1);
      const events = await this.source.events(from, to);
      await this.report(events);
      const requests = events.flatMap((event) => (event.type === "requested" ? [event.request] : []));
      if (requests.length > 0) await this.enqueue(requests);
      enqueued += requests.length;
      await this.cursor.save({ next: to + 1, hash: await this.source.blockHash(to) });
      from = to + 1;
    }
    return enqueued;
  }

  /**
   * Where to go on from `stored`: there, or `startBlock` if the chain it was read from is gone. Only a cursor that
   * names the hash of a block it read can tell (one saved by a reset names none, and waits for the start block).
   */
  private async resumeFrom(stored: Cursor, head: { number: number; hash: string }): Promise<number> {
    const last = stored.next - 1;
    if (!stored.hash || last < 0) return stored.next;
    const reset = last > head.number || (await this.source.blockHash(last))?.toLowerCase() !== stored.hash.toLowerCase();
    if (!reset) return stored.next;
    this.options.logger.warn(
      {
        stored: { block: last, hash: stored.hash },
        chainHead: { block: head.number, hash: head.hash },
        restartFrom: this.options.startBlock,
      },
      "chain reset: the chain no longer has the block the listener stopped at; scanning again from the start block",
    );
    // Saved at once, so the reset is acted on (and logged) once even while the new chain is below the start block.
    await this.cursor.save({ next: this.options.startBlock });
    this.options.onChainReset?.();
    return this.options.startBlock;
  }

  /** Tells the blob lifecycle what the range referenced and erased, in chain order. */
  private async report(events: ChainEvent[]): Promise<void> {
    const { lifecycle } = this.options;
    if (!lifecycle) return;
    let references: Reference[] = [];
    const flush = async () => {
      if (references.length > 0) await lifecycle.referenced(references);
      references = [];
    };
    for (const event of events) {
      if (event.type === "referenced") references.push({ hash: event.hash, kind: event.kind, ...(event.patient ? { patient: event.patient } : {}) });
      else if (event.type === "erased") {
        await flush();
        await lifecycle.erased(event.erasure);
      }
    }
    await flush();
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
        // One line per failed poll, and polls back off: a long outage logs a few lines a minute, not a flood.
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
