export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Text added to the timeout's message, for diagnosis (a process's log, say). */
  describe?: () => string;
}

/**
 * Polls `probe` until it returns something other than `undefined`, and returns that; throws once `timeoutMs` has
 * passed (with `describe()`'s text, if given, for diagnosis). A probe that throws fails the wait at once.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const detail = options.describe?.();
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${detail ? `\n${detail}` : ""}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** `promise`, or a rejection naming `what` if it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string, describe?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const detail = describe?.();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail}` : ""}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
