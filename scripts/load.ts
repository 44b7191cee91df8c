/**
 * Load test of the whole system on this machine: a Hardhat node, a private redis-server, the contracts and the
 * coprocessor as its own process. N jobs are prepared untimed (patients registered, records encrypted and
 * uploaded), then requested at the offered rate, one anchorAndRequest transaction each as a patient sends it, and
 * followed to their settlement on-chain; the report gives throughput, latency, Redis memory and the coprocessor's
 * peak RSS. The deployment runs at quorum 1 (one coprocessor). Exits 1 unless every job was finalized and the
 * spot-checked results match the plaintext model, 130 when interrupted.
 *
 *   npx tsx scripts/load.ts [--jobs 1000] [--mode single|packed] [--rate 25] [--json] ...
 */
import { Command, Option } from "commander";
import { SingleBar } from "cli-progress";
import { PARAMETER_SET_NAMES, type ParameterSetName } from "../protocol/fhe/params.js";
import { integerOption, keyValueOption, numberOption } from "./lib/cli-options.js";
import { formatReport, type LoadMode } from "./lib/load-report.js";
import { DEFAULT_LOAD_OPTIONS, runLoad, type LoadProgress } from "./lib/load-run.js";

const d = DEFAULT_LOAD_OPTIONS;
const program = new Command()
  .name("load")
  .description("Push prediction jobs through the whole local system and report throughput, latency and memory.")
  .option("--jobs <n>", "prediction jobs to run", integerOption({ min: 1 }), d.jobs)
  .addOption(new Option("--mode <mode>", "single: one record per job; packed: a packed batch of records per job").choices(["single", "packed"]).default(d.mode))
  .option("--records-per-job <n>", "records per packed job (default: as many as one ciphertext holds)", integerOption({ min: 1 }))
  .addOption(new Option("--parameter-set <name>", "CKKS parameter set of the model and the patients' keys").choices(PARAMETER_SET_NAMES).default(d.parameterSet))
  .option("--patients <n>", "patients, each with its own wallet and CKKS keys; jobs go to them in turn", integerOption({ min: 1 }), d.patients)
  .option("--rate <jobs/s>", "offered request rate; 0 sends as fast as the patients' wallets can", numberOption({ min: 0 }), d.rate)
  .option("--timeout <seconds>", "stop waiting for settlements after this long", numberOption({ min: 1 }), d.timeoutSeconds)
  .addOption(
    new Option("--worker-concurrency <n>", "coprocessor PMHE_WORKER_CONCURRENCY: jobs in progress at once")
      .argParser(integerOption({ min: 1, max: 256 }))
      .default(d.workerConcurrency, `the coprocessor's own default, 16 per core: ${d.workerConcurrency}`),
  )
  .addOption(new Option("--env <KEY=VALUE>", "extra coprocessor environment (repeatable)").argParser(keyValueOption).default({}, "none"))
  .option("--spot-checks <n>", "finalized jobs to decrypt and compare with the plaintext model", integerOption({ min: 1 }), d.spotChecks)
  .option("--model <file>", "model file", d.modelPath)
  .option("--data <file>", "CSV of readings, cycled over", d.dataPath)
  .option("--json", "print one JSON object on stdout instead of the table")
  .parse();

const opts = program.opts<{
  jobs: number;
  mode: LoadMode;
  recordsPerJob?: number;
  parameterSet: ParameterSetName;
  patients: number;
  rate: number;
  timeout: number;
  workerConcurrency: number;
  env: Record<string, string>;
  spotChecks: number;
  model: string;
  data: string;
  json?: boolean;
}>();
if (opts.recordsPerJob !== undefined && opts.mode !== "packed") program.error("error: --records-per-job applies to --mode packed");

// A library's stray console.log would corrupt the one JSON document stdout must hold.
if (opts.json) console.log = (...args: unknown[]) => console.error(...args);

/** A progress bar on stderr when it is a terminal; phase lines otherwise. */
function stderrProgress(): LoadProgress {
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  return {
    log: (message) => process.stderr.write(`${message}\n`),
    start(label, total) {
      if (!tty) return void process.stderr.write(`${label}: ${total} ...\n`);
      bar = new SingleBar({ stream: process.stderr, format: `${label} [{bar}] {value}/{total} {duration}s`, hideCursor: true });
      bar.start(total, 0);
    },
    increment: () => bar?.increment(),
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

const controller = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // A second signal does not wait for the teardown; the helper processes are killed on exit regardless.
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: stopping everything ...\n`);
    controller.abort();
  });
}

try {
  const report = await runLoad({
    jobs: opts.jobs,
    mode: opts.mode,
    recordsPerJob: opts.recordsPerJob,
    parameterSet: opts.parameterSet,
    patients: opts.patients,
    rate: opts.rate,
    timeoutSeconds: opts.timeout,
    workerConcurrency: opts.workerConcurrency,
    env: opts.env,
    spotChecks: opts.spotChecks,
    modelPath: opts.model,
    dataPath: opts.data,
    progress: stderrProgress(),
    signal: controller.signal,
  });
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${formatReport(report)}\n`);
  for (const problem of report.spotCheck.problems) process.stderr.write(`spot check: ${problem}\n`);
  process.exit(report.ok ? 0 : 1);
} catch (err) {
  if (controller.signal.aborted) {
    process.stderr.write("load interrupted; everything it started was stopped\n");
    process.exit(130);
  }
  // "fetch failed" and the like say what went wrong only in their cause.
  const cause = (err as Error).cause instanceof Error ? ` (${((err as Error).cause as Error).message})` : "";
  process.stderr.write(`load failed: ${(err as Error).message}${cause}\n`);
  process.exit(1);
}
