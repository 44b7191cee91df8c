import { HttpError } from "./errors.js";

/**
 * A fixed number of transfers in flight (uploads, or downloads), and at most `perClient` of them from one client
 * address. Past either a request is answered at once (503 busy, or 429 too_many_transfers, with Retry-After), never
 * queued: a queue of waiting sockets is what a flood would fill. The per-client share is what keeps one address that
 * opens many slow transfers from taking every slot from everyone else.
 */
export class TransferSlots {
  private used = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    readonly capacity: number,
    private readonly what: "uploads" | "downloads",
    private readonly options: { perClient?: number; retryAfterSeconds?: number; onChange?: (inFlight: number) => void } = {},
  ) {}

  get inFlight(): number {
    return this.used;
  }

  /** Takes a slot for `client` (its address) or throws; the returned function gives it back (twice is harmless). */
  acquire(client = ""): () => void {
    const retryAfter = { "Retry-After": String(this.options.retryAfterSeconds ?? 2) };
    const mine = this.byClient.get(client) ?? 0;
    const perClient = this.options.perClient ?? this.capacity;
    if (this.used >= this.capacity) {
      throw new HttpError(503, "busy", `${this.capacity} ${this.what} are in progress, the most this server takes at once; retry shortly`, retryAfter);
    }
    if (mine >= perClient) {
      throw new HttpError(429, "too_many_transfers", `${perClient} ${this.what} from your address are in progress, the most one address gets at once; finish one first`, retryAfter);
    }
    this.used++;
    this.byClient.set(client, mine + 1);
    this.options.onChange?.(this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      const left = (this.byClient.get(client) ?? 1) - 1;
      if (left > 0) this.byClient.set(client, left);
      else this.byClient.delete(client);
      this.options.onChange?.(this.used);
    };
  }
}
