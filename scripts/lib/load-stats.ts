import { readdir, readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { percentile } from "../../hospital/metrics.js";

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (each one an observed value, so p50 <= p95 <= p99 <= max); undefined for no values. */
export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  return {
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
    mean: values.reduce((sum, v) => sum + v, 0) / values.length,
  };
}

export interface RedisMemory {
  usedMemoryBytes: number;
  usedMemoryPeakBytes: number;
}

/** `used_memory` and `used_memory_peak` from Redis's INFO memory. */
export async function redisMemory(url: string): Promise<RedisMemory> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const info = await redis.info("memory");
    const field = (name: string) => {
      const match = new RegExp(`^${name}:(\\d+)\\r?$`, "m").exec(info);
      if (!match) throw new Error(`INFO memory has no ${name}`);
      return Number(match[1]);
    };
    return { usedMemoryBytes: field("used_memory"), usedMemoryPeakBytes: field("used_memory_peak") };
  } finally {
    redis.disconnect();
  }
}

/**
 * The largest value `sample` returned, read every `intervalMs` until `stop()` (which takes one last sample).
 * A failed read (the process gone) is skipped.
 */
export function sampleMax(sample: () => Promise<number>, intervalMs: number): { stop(): Promise<{ max: number; samples: number }> } {
  let max = 0;
  let samples = 0;
  const take = () =>
    sample().then(
      (value) => {
        max = Math.max(max, value);
        samples++;
      },
      () => undefined,
    );
  let pending = take();
  const timer = setInterval(() => (pending = pending.then(take)), intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending.then(take);
      return { max, samples };
    },
  };
}

/** Sum and count of a Prometheus histogram (optionally one label set) from exposition text. */
export function histogramTotals(exposition: string, name: string, labels = ""): { sum: number; count: number } {
  const value = (suffix: string) => {
    const pattern = new RegExp(`^${name}_${suffix}(?:\\{([^}]*)\\})? (\\S+)$`, "gm");
    let total = 0;
    for (const match of exposition.matchAll(pattern)) if (!labels || (match[1] ?? "").includes(labels)) total += Number(match[2]);
    return total;
  };
  return { sum: value("sum"), count: value("count") };
}

/** CPU seconds (user + system) of one process, from /proc; Linux counts in clock ticks of 1/100 s. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** This process's children with their command lines: the chain, Redis and coprocessor processes it started. */
export async function childProcesses(): Promise<Array<{ pid: number; command: string }>> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number);
  const children: Array<{ pid: number; command: string }> = [];
  for (const pid of pids) {
    if ((await parentOf(pid)) !== process.pid) continue;
    const command = await readFile(`/proc/${pid}/cmdline`, "utf8").then((c) => c.split("\0").join(" "), () => "");
    children.push({ pid, command });
  }
  return children;
}

/** Busy CPU seconds of the whole machine (all cores, everything but idle and I/O wait), from /proc/stat. */
async function machineBusySeconds(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * CPU seconds of each named process between the call and `stop()`, of this process (`loadGenerator`), and of
 * everything else on the machine (`otherProcesses`): on a shared machine that last one is load the run competed with.
 */
export function cpuMeter(processes: Record<string, number>): { stop(): Promise<Record<string, number>> } {
  const read = () => Promise.all([machineBusySeconds(), ...Object.values(processes).map((pid) => cpuSeconds(pid).catch(() => 0))]);
  const before = read();
  const ownBefore = process.cpuUsage();
  return {
    async stop() {
      const own = process.cpuUsage(ownBefore);
      const [machineAfter, ...after] = await read();
      const [machineBefore, ...start] = await before;
      const result: Record<string, number> = {};
      Object.keys(processes).forEach((name, i) => (result[name] = after[i]! - start[i]!));
      result.loadGenerator = (own.user + own.system) / 1e6;
      const ours = Object.values(result).reduce((sum, v) => sum + v, 0);
      result.otherProcesses = Math.max(0, machineAfter! - machineBefore! - ours);
      return result;
    },
  };
}
