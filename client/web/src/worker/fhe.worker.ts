/// <reference lib="webworker" />
import { expose } from "comlink";
import { createCryptoWorkerHost } from "../../../crypto/worker-host.js";
import { loadSeal, sealHeapBytes } from "../../../../protocol/fhe/runtime.js";
import { WORKER_READY, type FheWorkerApi } from "./api.js";

/**
 * The app's FHE worker: SEAL's WebAssembly is loaded here and only here, so the page's thread never blocks on CKKS
 * and the page's JavaScript stays small. The shell starts it on first use (AppContextValue.worker()).
 */
const host = createCryptoWorkerHost();
const api: FheWorkerApi = {
  ...host,
  async loadEngine() {
    const started = performance.now();
    await loadSeal();
    const heapBytes = sealHeapBytes();
    return { ms: performance.now() - started, ...(heapBytes === undefined ? {} : { heapBytes }) };
  },
};
expose(api);
// The page waits for this before its first call: this module's imports use top-level await (the WASM keccak), and a
// message posted while they settle can be dispatched before expose() listens, and be lost.
self.postMessage(WORKER_READY);
