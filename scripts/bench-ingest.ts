/**
 * Intake benchmark: how fast device readings become packed ciphertexts on one core, and how fast an Apple Health
 * export is read, with its memory. Targets: at least 50,000 readings a second parsed (CSV), taken in, windowed and
 * encrypted; an Apple Health export of `--apple-mb` MB read with the process's resident memory growing by at most
 * 256 MiB over its baseline (flat: the parser streams). Exits 1 when a target is missed.
 *
 *   npm run bench:ingest [-- --json] [-- --days 28 --apple-mb 500]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { integerOption } from "./lib/cli-options.js";
import { measureAppleHealthParsing } from "./lib/apple-health-bench.js";
import { writeSyntheticAppleHealthExport } from "./lib/apple-health-export.js";
import { measurePipeline } from "./lib/bench-ingest.js";

const TARGET_READINGS_PER_SECOND = 50_000;
const MAX_APPLE_RSS_GROWTH_MIB = 256;

const opts = new Command()
  .name("bench-ingest")
  .description("Readings parsed, windowed and encrypted per second into packed ciphertexts; Apple Health export parsing in MB/s with its memory.")
  .option("--json", "print one JSON document instead of the text report")
  .option("--days <n>", "days of one-minute synthetic readings", integerOption({ min: 1, max: 366 }), 28)
  .option("--repeats <n>", "runs of the pipeline (the best is reported)", integerOption({ min: 1, max: 20 }), 3)
  .option("--apple-mb <MB>", "size of the generated Apple Health export (0 skips it)", integerOption({ min: 0, max: 4096 }), 500)
  .parse()
  .opts<{ json?: boolean; days: number; repeats: number; appleMb: number }>();
const progress = (line: string) => process.stderr.write(`${line}\n`);

progress(`parsing, windowing and encrypting ${opts.days} days of one-minute readings (best of ${opts.repeats}) ...`);
const pipeline = await measurePipeline({ days: opts.days, repeats: opts.repeats });

let apple: Awaited<ReturnType<typeof measureAppleHealthParsing>> | undefined;
if (opts.appleMb > 0) {
  const dir = await mkdtemp(join(tmpdir(), "pmhe-bench-ingest-"));
  try {
    const file = join(dir, "export.xml");
    progress(`writing a ${opts.appleMb} MB synthetic Apple Health export ...`);
    await writeSyntheticAppleHealthExport(file, { targetBytes: opts.appleMb * 1_000_000, seed: 1 });
    progress("parsing it ...");
    apple = await measureAppleHealthParsing(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const verdicts = [
  {
    name: "readings parsed, windowed and encrypted per second (one core)",
    target: `>= ${TARGET_READINGS_PER_SECOND.toLocaleString("en")}`,
    measured: Math.round(pipeline.readingsPerSecond),
    pass: pipeline.readingsPerSecond >= TARGET_READINGS_PER_SECOND,
  },
  ...(apple
    ? [
        {
          name: `Apple Health export of ${opts.appleMb} MB: resident memory growth`,
          target: `<= ${MAX_APPLE_RSS_GROWTH_MIB} MiB`,
          measured: Math.round(apple.peakRssMiB - apple.baselineRssMiB),
          pass: apple.peakRssMiB - apple.baselineRssMiB <= MAX_APPLE_RSS_GROWTH_MIB,
        },
      ]
    : []),
];
const report = { machine: { cpus: cpus().length, node: process.versions.node }, pipeline, appleHealth: apple, verdicts, pass: verdicts.every((v) => v.pass) };

if (opts.json) console.log(JSON.stringify(report, null, 2));
else {
  const p = pipeline;
  console.log(
    [
      `${p.readings.toLocaleString("en")} readings (${p.days} days, ${(p.csvBytes / 1e6).toFixed(1)} MB of CSV) -> ${p.windows} hourly windows -> ${p.records} packed records (${p.layout})`,
      `  parse ${p.seconds.parse.toFixed(3)} s, window ${p.seconds.window.toFixed(3)} s, encrypt ${p.seconds.encrypt.toFixed(3)} s: ${Math.round(p.readingsPerSecond).toLocaleString("en")} readings/s`,
      `  uploaded ${(p.recordBytes / 1e6).toFixed(2)} MB: ${p.bytesPerReading.toFixed(1)} bytes per reading`,
      ...(apple
        ? [
            `Apple Health export: ${(apple.bytes / 1e6).toFixed(0)} MB, ${apple.records.toLocaleString("en")} records, ${apple.observations.toLocaleString("en")} observations in ${apple.seconds.toFixed(1)} s: ${apple.mbPerSecond.toFixed(1)} MiB/s (${apple.cpuSeconds.toFixed(1)} s of CPU)`,
            `  resident memory ${apple.baselineRssMiB.toFixed(0)} MiB before, ${apple.peakRssMiB.toFixed(0)} MiB at peak`,
          ]
        : []),
      ...verdicts.map((v) => `${v.pass ? "PASS" : "MISS"} ${v.name}: ${v.measured.toLocaleString("en")} (target ${v.target})`),
    ].join("\n"),
  );
}
process.exit(report.pass ? 0 : 1);
