import type { Logger } from "pino";
import type { BlobKeeper } from "./blob-keeper.js";

export interface BlobCollector {
  /** Stops the timer and waits for a collection in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `keeper.collect()` every `intervalMs`, never two at once. A failed run (Redis down) is logged and retried at
 * the next tick: nothing is lost by waiting, pending uploads only stay a little longer.
 */
export function startBlobCollector(keeper: BlobKeeper, options: { intervalMs: number; logger?: Logger }): BlobCollector {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = keeper
      .collect()
      .then(
        () => undefined,
        (err: unknown) => options.logger?.warn({ err: (err as Error).message }, "blob collection failed; retrying at the next interval"),
      )
      .finally(() => {
        if (!stopped) schedule();
      });
  };
  const schedule = () => {
    timer = setTimeout(tick, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
