/** The two files of node-seal the app's build bundles directly (aliases in vite.config.ts; see seal-initialize.ts). */
declare module "pmhe:seal-factory" {
  import type { MainModule } from "node-seal";
  const factory: (options?: Record<string, unknown>) => Promise<MainModule>;
  export default factory;
}
declare module "pmhe:seal-wasm" {
  const url: string;
  export default url;
}
