import type { ColdRun, InitialLoad } from "./bench-web-run.js";

/** The web app's targets on a 2-core machine (the browser, the chain and the coprocessor share it). */
export const WEB_TARGETS = {
  initialJsGzipBytes: 300 * 1024,
  coldFirstPredictionMs: 10_000,
  longestTaskWhileEncryptingMs: 200,
} as const;

export interface Verdict {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface WebBenchReport {
  machine: { cpus: number; chromium: string; node: string };
  initialLoad: InitialLoad;
  /** The first patient's visit on the freshly started product: everything cold (browser, coprocessor). */
  cold: ColdRun;
  /** Another patient's first visit right after (a fresh profile again; the product has served jobs already). */
  coldBrowserWarmProduct: ColdRun;
  verdicts: Verdict[];
  pass: boolean;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Verdicts on the first visit (the strictest: nothing warm anywhere); the second is shown beside it. */
export function verdicts(initial: InitialLoad, cold: ColdRun, second: ColdRun): Verdict[] {
  const coldLong = Math.max(0, ...cold.coldEncryptLongTasks.map((t) => t.duration));
  const longest = Math.max(cold.tracedEncrypt.longestTaskMs, coldLong);
  return [
    {
      name: "initial JS (gzip)",
      target: `<= ${kb(WEB_TARGETS.initialJsGzipBytes)}`,
      measured: `${kb(initial.gzipBytes)} in ${initial.scripts.length} scripts (${kb(initial.bytes)} raw)`,
      pass: initial.gzipBytes <= WEB_TARGETS.initialJsGzipBytes,
    },
    {
      name: "SEAL's WASM only in the worker",
      target: "no .wasm before the worker starts; the worker fetches it",
      measured: `${initial.wasm.length + cold.wasmBeforeWorker.length} .wasm before the worker; ${cold.wasm ? `${cold.wasm.url} fetched by the ${cold.wasm.fetchedBy}` : "no .wasm fetched at all"}`,
      pass: initial.wasm.length === 0 && cold.wasmBeforeWorker.length === 0 && cold.wasm?.fetchedBy === "worker",
    },
    {
      name: "first decrypted prediction, cold",
      target: `<= ${s(WEB_TARGETS.coldFirstPredictionMs)}`,
      measured: `${s(cold.totalMs)} (a second patient's cold visit on the warm product: ${s(second.totalMs)})`,
      pass: cold.totalMs <= WEB_TARGETS.coldFirstPredictionMs,
    },
    {
      name: "main thread's longest task while encrypting",
      target: `<= ${WEB_TARGETS.longestTaskWhileEncryptingMs} ms`,
      measured: `${cold.tracedEncrypt.longestTaskMs.toFixed(1)} ms traced (${cold.tracedEncrypt.tasks} tasks in ${cold.tracedEncrypt.windowMs.toFixed(0)} ms); first prediction: ${
        cold.coldEncryptLongTasks.length === 0 ? "no task of 50 ms or more" : `${cold.coldEncryptLongTasks.length} long tasks, longest ${coldLong.toFixed(0)} ms`
      }`,
      pass: cold.longTaskSupported && longest <= WEB_TARGETS.longestTaskWhileEncryptingMs,
    },
  ];
}

const phases = (run: ColdRun) =>
  `first view ${s(run.phases.firstViewMs)} · connect ${s(run.phases.connectMs)} · create keys ${s(run.phases.keysMs)} · register ${s(run.phases.registerMs)} · type the reading ${s(run.phases.typingMs)} · predict ${s(run.phases.predictionMs)} (${Object.entries(
    run.predictionSteps,
  )
    .map(([step, ms]) => `${step} ${s(ms)}`)
    .join(", ")})`;

export function formatReport(report: WebBenchReport): string {
  const { initialLoad: initial, cold } = report;
  const lines = [
    `Web app benchmark: production build, Chromium ${report.machine.chromium}, ${report.machine.cpus} cores, Node ${report.machine.node}`,
    "",
    `Initial JS of the first view (fresh profile, nothing clicked; ready in ${s(initial.readyMs)}):`,
    ...initial.scripts.map((a) => `  ${a.url.padEnd(48)} ${kb(a.bytes).padStart(10)} raw ${kb(a.gzipBytes).padStart(10)} gzip`),
    `  ${"total".padEnd(48)} ${kb(initial.bytes).padStart(10)} raw ${kb(initial.gzipBytes).padStart(10)} gzip   (the server sent ${kb(initial.transferredBytes)}: npm start's server does not compress)`,
    cold.wasm ? `SEAL's WASM: ${cold.wasm.url}, ${kb(cold.wasm.bytes)} raw, ${kb(cold.wasm.gzipBytes)} gzip, fetched by the ${cold.wasm.fetchedBy}` : "SEAL's WASM: not fetched",
    "",
    `First decrypted prediction, cold (fresh profile, test wallet, new keys, one prediction): ${s(cold.totalMs)}`,
    `  ${phases(cold)}`,
    `Another patient's first visit right after (fresh profile, the product warm): ${s(report.coldBrowserWarmProduct.totalMs)}`,
    `  ${phases(report.coldBrowserWarmProduct)}`,
    `Time to create keys (click to keys open: signature, SEAL load, key generation, sealing): ${s(cold.phases.keysMs)}`,
    `Main thread while encrypting: longest task ${cold.tracedEncrypt.longestTaskMs.toFixed(1)} ms (traced, second prediction); long tasks (>= 50 ms) in the first: ${cold.coldEncryptLongTasks.length}`,
    "",
    "Targets:",
    ...report.verdicts.map((v) => `  ${v.pass ? "PASS" : "FAIL"}  ${v.name}: ${v.measured} (target ${v.target})`),
    "",
    report.pass ? "All targets met." : "Some targets were missed.",
  ];
  return lines.join("\n");
}
