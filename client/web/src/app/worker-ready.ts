import { wrap, type Remote } from "comlink";

/** How long a worker may take to load its modules before the page gives up on it. */
const READY_TIMEOUT_MS = 30_000;

/**
 * comlink's proxy of `worker`, once the worker has posted `ready` (it listens then). Rejects, naming the worker as a
 * person knows it (`what`), when it does not start in time or stops; `onCrash` hears a stop at any later time too.
 * The Worker itself is made by the caller: Vite finds worker entry points only in `new Worker(new URL(...))`.
 */
export function workerWhenReady<T>(worker: Worker, options: { ready: string; what: string; onCrash?: (error: Error) => void }): Promise<Remote<T>> {
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.what} did not start within ${READY_TIMEOUT_MS / 1000} s; reload the page`)), READY_TIMEOUT_MS);
    const onMessage = (event: MessageEvent) => {
      if (event.data !== options.ready) return;
      clearTimeout(timer);
      worker.removeEventListener("message", onMessage);
      resolve();
    };
    worker.addEventListener("message", onMessage);
    worker.addEventListener("error", (event) => {
      clearTimeout(timer);
      const error = new Error(`${options.what} stopped: ${event.message || "it could not load its code (check the browser console)"}`);
      reject(error);
      options.onCrash?.(error);
    });
  });
  const remote = wrap<T>(worker);
  return ready.then(() => remote);
}
