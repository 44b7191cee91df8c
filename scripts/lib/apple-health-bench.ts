import { createReadStream, statSync } from "node:fs";
import { parseAppleHealth } from "../../protocol/intake/apple-health.js";

/**
 * How fast the Apple Health parser reads an export and how much memory it takes: the file is streamed from disk in
 * 1 MiB chunks through parseAppleHealth (bytes decoded as in the browser's worker), the observations counted and
 * dropped as a caller that forwards them would. Resident set size is sampled every 20 ms and after every chunk.
 */

export interface AppleHealthParsingMeasure {
  /** Size of the file. */
  bytes: number;
  /** Wall-clock time of the parse. */
  seconds: number;
  /** bytes / 2^20 / seconds. */
  mbPerSecond: number;
  /** CPU time of the process (user + system) during the parse: on a busy machine, seconds overstates it. */
  cpuSeconds: number;
  /** Record elements read, of every type. */
  records: number;
  /** Observations taken in (emitted). */
  observations: number;
  /** Largest resident set size seen during the parse, MiB. */
  peakRssMiB: number;
  /** Resident set size just before the parse started, MiB. */
  baselineRssMiB: number;
}

const MIB = 1024 * 1024;

export async function measureAppleHealthParsing(file: string): Promise<AppleHealthParsingMeasure> {
  const bytes = statSync(file).size;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 20);
  let observations = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    const summary = await parseAppleHealth(createReadStream(file, { highWaterMark: MIB }), {
      source: file.split(/[\\/]/).pop() ?? file,
      onObservation: () => {
        observations++;
      },
      onProgress: sample,
    });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    sample();
    return {
      bytes,
      seconds,
      mbPerSecond: bytes / MIB / seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      records: summary.records,
      observations,
      peakRssMiB: peak / MIB,
      baselineRssMiB: baseline / MIB,
    };
  } finally {
    clearInterval(timer);
  }
}
