import factory from "pmhe:seal-factory";
import wasmUrl from "pmhe:seal-wasm";

/**
 * node-seal's entry, as the app's build bundles it (vite.config.ts resolves "node-seal" here). node-seal's own
 * entry tells Emscripten where the WASM is with `new URL(path, import.meta.url)` on a computed path, which a bundler
 * cannot follow: in a production build the file is renamed with its hash and the worker would fetch a URL that does
 * not exist. Here the WASM is an asset Vite knows (hashed name, correct URL), handed to Emscripten directly.
 */
export async function initialize(options: { locateFile?: (path: string) => string; [key: string]: unknown } = {}) {
  return factory({ locateFile: () => wasmUrl, ...options });
}
export default initialize;
