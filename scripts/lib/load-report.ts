import type { Layout } from "../../protocol/fhe/layouts.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import type { Percentiles } from "./load-stats.js";

export type LoadMode = "single" | "packed";

export interface LoadSettings {
  mode: LoadMode;
  jobs: number;
  recordsPerJob: number;
  patients: number;
  parameterSet: ParameterSetName;
  layout: Layout;
  workerConcurrency: number;
  /** Offered requests per second; 0 = as fast as the patients' wallets can send. */
  rate: number;
  timeoutSeconds: number;
  /** Agreeing operator votes that settle a job; 1 here: one operator decides (and could forge) every result. */
  quorum: number;
  /** Extra coprocessor environment given with --env. */
  env: Record<string, string>;
}

/** Everything one load run measured. Times in seconds, sizes in bytes. */
export interface LoadReport {
  settings: LoadSettings;
  jobs: number;
  recordsPerJob: number;
  /** From the first request being sent to the last settlement observed (or the timeout). */
  elapsedSeconds: number;
  /** Finalized jobs (and their records) per elapsed second. */
  jobsPerSecond: number;
  recordsPerSecond: number;
  /** Request sent -> JobFinalized observed, over finalized jobs; absent when none finalized. */
  latencySeconds?: Percentiles;
  /** Offered rate (jobs/s; null: unthrottled) and the rate the requests actually went out at. */
  offeredRate: number | null;
  sendRate: number;
  outcomes: {
    finalized: number;
    failed: number;
    expired: number;
    /** Requests whose transaction was refused or reverted: no job exists. */
    requestErrors: number;
    /** Not settled when the timeout struck (requests not sent by then included). */
    unsettled: number;
    /** Settled one way or the other (finalized + failed + expired). */
    settled: number;
    failureReasons: Record<string, number>;
  };
  redis: { usedMemoryBytes: number; usedMemoryPeakBytes: number };
  coprocessor: {
    peakRssBytes: number;
    rssSamples: number;
    /** From the coprocessor's own histograms: mean homomorphic evaluation, mean enqueue -> settled on-chain. */
    meanEvaluationSeconds?: number;
    meanJobLatencySeconds?: number;
  };
  /** Where the time went: per-transaction send time, blocks mined, CPU seconds of each process over the run. */
  diagnostics: {
    sendSeconds?: Percentiles;
    blocksMined: number;
    blocksPerSecond: number;
    cpuSeconds: Record<string, number>;
  };
  preparationSeconds: number;
  spotCheck: {
    jobs: number;
    records: number;
    /** Largest |T_decrypted - T_plaintext| over every checked record. */
    maxLogitError: number;
    classMismatches: number;
    /** Results that could not be fetched, verified against the chain or decrypted. */
    problems: string[];
    tolerance: number;
    ok: boolean;
  };
  /** Every job finalized and every checked result right. */
  ok: boolean;
}

const MB = 1024 * 1024;

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? "n/a" : value.toFixed(digits);
}

function latencyCell(p: Percentiles | undefined, scale = 1, unit = "s"): string {
  if (!p) return "n/a";
  const f = (v: number) => (v * scale).toFixed(scale === 1 ? 3 : 1);
  return `${f(p.p50)} / ${f(p.p95)} / ${f(p.p99)} / ${f(p.max)} ${unit}`;
}

/** The report as a two-column Markdown table. */
export function formatReport(report: LoadReport): string {
  const { settings: s, outcomes: o, diagnostics: d } = report;
  const failures = Object.entries(o.failureReasons).map(([reason, n]) => `${reason} ${n}`).join(", ");
  const cpu = Object.entries(d.cpuSeconds)
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s (${(seconds / report.elapsedSeconds).toFixed(2)} cores)`)
    .join(", ");
  const rows: Array<[string, string]> = [
    ["mode / layout", `${s.mode} / ${s.layout}`],
    ["parameter set", s.parameterSet],
    ["jobs × records per job", `${report.jobs} × ${report.recordsPerJob}`],
    ["patients", String(s.patients)],
    ["quorum", s.quorum === 1 ? "1 (one operator decides each result: development only)" : String(s.quorum)],
    ["worker concurrency", String(s.workerConcurrency)],
    ["offered rate", report.offeredRate === null ? "unthrottled" : `${report.offeredRate} jobs/s`],
    ["send rate (achieved)", `${report.sendRate.toFixed(1)} jobs/s`],
    ["elapsed", `${report.elapsedSeconds.toFixed(2)} s`],
    ["throughput", `${report.jobsPerSecond.toFixed(1)} jobs/s, ${report.recordsPerSecond.toFixed(0)} records/s`],
    ["latency p50 / p95 / p99 / max", latencyCell(report.latencySeconds)],
    ["finalized / failed / expired", `${o.finalized} / ${o.failed} / ${o.expired}${failures ? ` (${failures})` : ""}`],
    ["request errors / unsettled", `${o.requestErrors} / ${o.unsettled}`],
    ["Redis used_memory / peak", `${(report.redis.usedMemoryBytes / MB).toFixed(1)} MB / ${(report.redis.usedMemoryPeakBytes / MB).toFixed(1)} MB`],
    ["coprocessor peak RSS", `${(report.coprocessor.peakRssBytes / MB).toFixed(0)} MB (${report.coprocessor.rssSamples} samples)`],
    ["coprocessor mean evaluation / job", `${fixed(toMs(report.coprocessor.meanEvaluationSeconds), 1)} ms / ${fixed(toMs(report.coprocessor.meanJobLatencySeconds), 1)} ms (enqueue → settled)`],
    ["request send time p50 / p95 / p99 / max", latencyCell(d.sendSeconds, 1000, "ms")],
    ["chain blocks", `${d.blocksMined} (${d.blocksPerSecond.toFixed(1)}/s)`],
    ["CPU over the run", cpu],
    ["preparation (untimed)", `${report.preparationSeconds.toFixed(1)} s`],
    [
      "spot check",
      `${report.spotCheck.jobs} jobs, ${report.spotCheck.records} records: max error in T ${report.spotCheck.maxLogitError.toExponential(2)}, ` +
        `${report.spotCheck.classMismatches} class mismatches (${report.spotCheck.ok ? "ok" : "WRONG"})`,
    ],
  ];
  return ["| metric | value |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join("\n");
}

function toMs(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value * 1000;
}
