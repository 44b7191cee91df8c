import type { AppWorker } from "./context.js";
import { WORKER_READY, type FheWorkerApi } from "../worker/api.js";
import { workerWhenReady } from "./worker-ready.js";

/**
 * Starts the FHE worker (a module worker: node-seal's WASM is fetched by it, never by the page) and resolves once it
 * listens. The page's side is comlink's proxy; every method of FheWorkerApi already returns a promise, so the proxy
 * is the API as typed.
 */
export function spawnFheWorker(onCrash: (error: Error) => void): { api: Promise<AppWorker>; terminate(): void } {
  const worker = new Worker(new URL("../worker/fhe.worker.ts", import.meta.url), { type: "module", name: "pmhe-fhe" });
  const api = workerWhenReady<FheWorkerApi>(worker, { ready: WORKER_READY, what: "the encryption worker", onCrash });
  return { api: api.then((remote) => remote as unknown as AppWorker), terminate: () => worker.terminate() };
}
