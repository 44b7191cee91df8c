import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The PMHE web app: one page for patients, hospitals and auditors. `protocol/` and the browser-safe patient core in
 * `client/` are imported as they are (the production build is the proof that they stay browser-safe). SEAL's WASM is
 * loaded by the FHE worker only, never by the page.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Top-level await (the WebAssembly keccak, SEAL) needs ES2022 modules.
    target: "es2022",
    sourcemap: true,
  },
  worker: { format: "es" },
  server: { fs: { allow: [".."] } },
});
