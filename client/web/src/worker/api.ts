import type { CryptoWorkerHost } from "../../../crypto/worker-host.js";

/**
 * What the app's FHE worker exposes over its message port (comlink): the patient's cryptography
 * (client/crypto/worker-host.ts), plus `loadEngine`, which loads SEAL's WASM ahead of the first key operation so a
 * view can show that step.
 */
export interface FheWorkerApi extends CryptoWorkerHost {
  /** Loads SEAL's WebAssembly in the worker (once); answers how long it took and the WASM heap size, when known. */
  loadEngine(): Promise<{ ms: number; heapBytes?: number }>;
}

/** The message the worker posts once it listens (see fhe.worker.ts). */
export const WORKER_READY = "pmhe-fhe-worker-ready";
