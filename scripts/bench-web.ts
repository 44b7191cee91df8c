/**
 * Web app benchmark on the production build, served by the whole local product (scripts/start.ts on free ports),
 * in Debian's Chromium with fresh profiles and the test wallet standing in for MetaMask:
 * - the initial JavaScript of the first view, gzipped as a server sends it, and SEAL's WASM (loaded by the worker
 *   only: the page's own requests before the worker starts must hold no .wasm);
 * - a patient's first visit, cold: page load to the first decrypted prediction (connect, create keys, register,
 *   type one reading, predict), and the time to create keys;
 * - the main thread's longest task while the worker encrypts (Chromium's trace; long-task entries as a check).
 * Prints each target's verdict and exits 1 when one is missed.
 *
 *   npm run bench:web [-- --json]
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { Command } from "commander";
import { CHROMIUM } from "../test/web/helpers/browser.js";
import { startProduct } from "../test/web/helpers/product.js";
import { formatReport, verdicts, type WebBenchReport } from "./lib/bench-web-report.js";
import { measureColdRun, measureInitialLoad } from "./lib/bench-web-run.js";

const program = new Command()
  .name("bench-web")
  .description("Measure the web app's production build in Chromium: initial JS, WASM, cold first prediction, key creation, main-thread long tasks.")
  .option("--json", "print one JSON document instead of the text report")
  .parse();
const opts = program.opts<{ json?: boolean }>();
if (opts.json) console.log = (...args: unknown[]) => console.error(...args);
const progress = (line: string) => process.stderr.write(`${line}\n`);

function chromiumVersion(): string {
  try {
    return /Chromium ([\d.]+)/.exec(execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

progress("starting the product (scripts/start.ts) ...");
const product = await startProduct();
let exitCode = 1;
try {
  progress(`app at ${product.summary.appUrl}; measuring the first view ...`);
  const initialLoad = await measureInitialLoad(product);
  progress("a patient's first visit: connect, create keys, register, one prediction ...");
  const cold = await measureColdRun(product, product.summary.accounts.patients[0]!.address);
  progress("another patient's first visit, on the product now warm ...");
  const coldBrowserWarmProduct = await measureColdRun(product, product.summary.accounts.patients[1]!.address);
  const list = verdicts(initialLoad, cold, coldBrowserWarmProduct);
  const report: WebBenchReport = {
    machine: { cpus: cpus().length, chromium: chromiumVersion(), node: process.versions.node },
    initialLoad,
    cold,
    coldBrowserWarmProduct,
    verdicts: list,
    pass: list.every((v) => v.pass),
  };
  process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  exitCode = report.pass ? 0 : 1;
} catch (err) {
  progress(`error: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
} finally {
  await product.stop();
}
process.exit(exitCode);
