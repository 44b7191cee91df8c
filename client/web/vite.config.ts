import react from "@vitejs/plugin-react";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const sealDist = dirname(fileURLToPath(import.meta.resolve("node-seal")));

/** Where `npx vite --config client/web/vite.config.ts` forwards the configuration and the API: npm start's server. */
const devTarget = process.env.PMHE_DEV_TARGET ?? "http://127.0.0.1:3000";

/**
 * The PMHE web app: one page for patients, hospitals and auditors. `protocol/` and the browser-safe patient core in
 * `client/` are imported as they are (the production build is the proof that they stay browser-safe). SEAL's WASM is
 * loaded by the FHE worker only, never by the page.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  plugins: [react()],
  resolve: {
    alias: [
      // node-seal's entry locates its WASM in a way a bundler cannot follow: src/worker/seal-initialize.ts does it.
      { find: /^node-seal$/, replacement: join(import.meta.dirname, "src/worker/seal-initialize.ts") },
      { find: /^pmhe:seal-factory$/, replacement: join(sealDist, "seal_throws.js") },
      { find: /^pmhe:seal-wasm$/, replacement: `${join(sealDist, "seal_throws.wasm")}?url` },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Top-level await (the WebAssembly keccak, SEAL) needs ES2022 modules.
    target: "es2022",
    sourcemap: true,
    // The gzip sizes are what counts (the page's initial JS is React, ethers and the shell, ~250 KB gzip).
    chunkSizeWarningLimit: 1024,
  },
  worker: { format: "es" },
  // Found only inside the worker: optimised up front, so the dev server does not reload the page on first use.
  optimizeDeps: { include: ["pmhe:seal-factory"] },
  server: {
    fs: { allow: [".."] },
    proxy: { "/pmhe-config.json": devTarget, "/api": devTarget },
  },
});
