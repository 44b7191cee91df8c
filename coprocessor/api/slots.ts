import { HttpError } from "./errors.js";

/**
 * A fixed number of transfers in flight (uploads, or downloads). Past it a request is answered 503 busy with
 * Retry-After at once, never queued: a queue of waiting sockets is what a flood would fill.
 */
export class TransferSlots {
  private used = 0;

  constructor(
    readonly capacity: number,
    private readonly what: "uploads" | "downloads",
    private readonly options: { retryAfterSeconds?: number; onChange?: (inFlight: number) => void } = {},
  ) {}

  get inFlight(): number {
    return this.used;
  }

  /** Takes a slot or throws 503 busy; the returned function gives it back (calling it twice is harmless). */
  acquire(): () => void {
    if (this.used >= this.capacity) {
      throw new HttpError(503, "busy", `${this.capacity} ${this.what} are in progress, the most this server takes at once; retry shortly`, {
        "Retry-After": String(this.options.retryAfterSeconds ?? 2),
      });
    }
    this.used++;
    this.options.onChange?.(this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      this.options.onChange?.(this.used);
    };
  }
}
