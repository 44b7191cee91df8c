/**
 * Soak test of the whole local system under attack: a Hardhat node, a private redis-server, the contracts and the
 * coprocessor as its own process. Honest patients predict one reading after another while, for the whole run,
 * throwaway wallets send compressed and oversized bodies, malformed and unregistered key bundles, slow readers hold
 * downloads open, and funded attackers flood the queue with jobs that can only fail. Reports the honest patients'
 * latency, the coprocessor's peak RSS and the blob store's peak disk use; exits 1 if an honest prediction failed or
 * was wrong, a bound was passed, an attack got an answer it should not have, or a job that can only fail was
 * finalized.
 *
 *   npm run soak -- [--duration 120] [--json] [--max-rss-mb 1024] [--max-disk-mb 256] [--max-p95 10]
 */
import { Command } from "commander";
import { integerOption, numberOption } from "./lib/cli-options.js";
import { DEFAULT_SOAK_OPTIONS, formatSoakReport, runSoak } from "./lib/soak-run.js";

const d = DEFAULT_SOAK_OPTIONS;
const program = new Command()
  .name("soak")
  .description("Flood the local system with attacks while honest patients predict; check latency, memory and disk bounds.")
  .option("--duration <seconds>", "how long the attacks and the honest patients run", integerOption({ min: 5, max: 86_400 }), d.durationSeconds)
  .option("--honest <n>", "honest patients, each predicting one reading after another", integerOption({ min: 1, max: 32 }), d.honestPatients)
  .option("--failing <n>", "funded attacker patients flooding the queue with jobs that can only fail", integerOption({ min: 0, max: 32 }), d.failingPatients)
  .option("--slow-readers <n>", "slow readers held open at once", integerOption({ min: 0, max: 512 }), d.slowReaders)
  .option("--max-rss-mb <MiB>", "bound on the coprocessor's peak resident memory", numberOption({ min: 1 }), d.maxRssMb)
  .option("--max-disk-mb <MiB>", "bound on the blob store's peak disk use", numberOption({ min: 1 }), d.maxDiskMb)
  .option("--max-p95 <seconds>", "bound on the honest predictions' p95 latency (encrypt to decrypted result)", numberOption({ min: 0.1 }), d.maxHonestP95Seconds)
  .option("--json", "print one JSON object on stdout instead of the summary")
  .parse();

const opts = program.opts<{ duration: number; honest: number; failing: number; slowReaders: number; maxRssMb: number; maxDiskMb: number; maxP95: number; json?: boolean }>();
// A library's stray console.log would corrupt the one JSON document stdout must hold.
if (opts.json) console.log = (...args: unknown[]) => console.error(...args);

try {
  const report = await runSoak({
    ...d,
    durationSeconds: opts.duration,
    honestPatients: opts.honest,
    failingPatients: opts.failing,
    slowReaders: opts.slowReaders,
    maxRssMb: opts.maxRssMb,
    maxDiskMb: opts.maxDiskMb,
    maxHonestP95Seconds: opts.maxP95,
    log: (line) => console.error(line),
  });
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSoakReport(report)}\n`);
  process.exitCode = report.violations.length === 0 ? 0 : 1;
} catch (err) {
  console.error(`soak could not run: ${(err as Error).message}`);
  process.exitCode = 2;
}
