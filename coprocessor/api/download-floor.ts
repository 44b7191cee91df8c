import type { Response } from "express";

/** The slowest a download may run once `graceMs` have passed (PMHE_DOWNLOAD_MIN_BYTES_PER_SECOND, _GRACE_MS). */
export interface DownloadFloor {
  minBytesPerSecond: number;
  graceMs: number;
}

export const DEFAULT_DOWNLOAD_FLOOR: DownloadFloor = { minBytesPerSecond: 32 * 1024, graceMs: 10_000 };

/**
 * Cuts `res` when, `floor.graceMs` after it started and every second after, fewer than `minBytesPerSecond` bytes a
 * second left it over the last WINDOW_SECONDS. A reader that trickles (a few KB a second, never idle, so the idle
 * timeout never fires) would otherwise hold a download slot for as long as it likes. The rate is judged over a recent
 * window, not since the start: the kernel's socket buffers take the first megabytes at once whatever the reader does,
 * and an average since the start would let a stalled reader hold the slot for minutes on that credit.
 */
export function enforceDownloadFloor(res: Response, floor: DownloadFloor, onCut: (bytesPerSecond: number) => void): void {
  if (floor.minBytesPerSecond <= 0) return;
  const started = Date.now();
  // A keep-alive socket has carried earlier responses: count this one's bytes only.
  const before = res.socket?.bytesWritten ?? 0;
  const sent = () => (res.socket?.bytesWritten ?? before) - before;
  const samples: number[] = [0];
  const timer = setInterval(() => {
    samples.push(sent());
    if (samples.length > WINDOW_SECONDS + 1) samples.shift();
    if (Date.now() - started < floor.graceMs) return;
    const rate = (samples[samples.length - 1]! - samples[0]!) / (samples.length - 1);
    if (rate < floor.minBytesPerSecond) {
      clearInterval(timer);
      onCut(rate);
      res.destroy();
    }
  }, 1_000);
  timer.unref();
  res.once("close", () => clearInterval(timer));
}

/** The span a download's rate is judged over, seconds. */
const WINDOW_SECONDS = 5;
