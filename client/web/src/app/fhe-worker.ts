import { wrap, type Remote } from "comlink";
import type { AppWorker } from "./context.js";
import { WORKER_READY, type FheWorkerApi } from "../worker/api.js";

/** How long the worker may take to load its modules (the WASM keccak; SEAL loads later, on first use). */
const READY_TIMEOUT_MS = 30_000;

/**
 * Starts the FHE worker (a module worker: node-seal's WASM is fetched by it, never by the page) and resolves once it
 * listens. The page's side is comlink's proxy; every method of FheWorkerApi already returns a promise, so the proxy
 * is the API as typed.
 */
export function spawnFheWorker(onCrash: (error: Error) => void): { api: Promise<AppWorker>; terminate(): void } {
  const worker = new Worker(new URL("../worker/fhe.worker.ts", import.meta.url), { type: "module", name: "pmhe-fhe" });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the encryption worker did not start within ${READY_TIMEOUT_MS / 1000} s; reload the page`)), READY_TIMEOUT_MS);
    const onMessage = (event: MessageEvent) => {
      if (event.data !== WORKER_READY) return;
      clearTimeout(timer);
      worker.removeEventListener("message", onMessage);
      resolve();
    };
    worker.addEventListener("message", onMessage);
    worker.addEventListener("error", (event) => {
      clearTimeout(timer);
      const error = new Error(`the encryption worker stopped: ${event.message || "it could not load its code (check the browser console)"}`);
      reject(error);
      onCrash(error);
    });
  });
  const remote: Remote<FheWorkerApi> = wrap<FheWorkerApi>(worker);
  return { api: ready.then(() => remote as unknown as AppWorker), terminate: () => worker.terminate() };
}
