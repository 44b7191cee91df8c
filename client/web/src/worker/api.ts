import type { CryptoWorkerHost } from "../../../crypto/worker-host.js";

/** What the app's FHE worker exposes over its message port (comlink): the patient's cryptography, for now. */
export type FheWorkerApi = CryptoWorkerHost;
