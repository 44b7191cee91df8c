import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { hexlify, randomBytes, type Provider } from "ethers";
import { modelRef, type ModelRef } from "../../client/model-ref.js";
import { publishModel } from "../../hospital/publish-model.js";
import { JobStatus } from "../../protocol/chain.js";
import { failureReasonName } from "../../protocol/failure-reasons.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import { modelBytes, parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { uploadDomain } from "../../protocol/upload-auth.js";
import { createPatients, loadReadings, type LoadPatient } from "./load-prepare.js";
import { startLoadStack, type LoadStack } from "./load-stack.js";
import { percentiles, sampleMax, type Percentiles } from "./load-stats.js";
import {
  badKeyBundles,
  compressedBodies,
  newTally,
  oversizedBodies,
  slowReaders,
  unregisteredBundles,
  type AttackContext,
  type AttackTally,
} from "./soak-attacks.js";

/** What `npm run soak` does and the bounds it holds the system to. */
export interface SoakOptions {
  durationSeconds: number;
  /** Honest patients predicting one reading after another for the whole run. */
  honestPatients: number;
  /** Funded attacker patients flooding the queue with jobs that can only fail. */
  failingPatients: number;
  /** Slow readers held open at once. */
  slowReaders: number;
  maxRssMb: number;
  maxDiskMb: number;
  maxHonestP95Seconds: number;
  modelPath: string;
  dataPath: string;
  /** A model of another width, whose readings make records the heart model cannot evaluate. */
  otherModelPath: string;
  otherDataPath: string;
  log?: (line: string) => void;
}

export const DEFAULT_SOAK_OPTIONS: SoakOptions = {
  durationSeconds: 120,
  honestPatients: 3,
  failingPatients: 2,
  slowReaders: 24,
  // Measured on this 2-core machine over 40 s: 448 MiB, 133 MiB, 4.8 s (docs/threat-model.md); the bounds leave room.
  maxRssMb: 1_024,
  maxDiskMb: 256,
  maxHonestP95Seconds: 10,
  modelPath: "models/statlog-heart-logreg.v1.json",
  dataPath: "data/statlog_heart.csv",
  otherModelPath: "models/wdbc-logreg.v1.json",
  otherDataPath: "data/wdbc.csv",
};

/**
 * The coprocessor's settings under the soak: the bounds an operator would set, scaled to a run of minutes (pending
 * uploads collected after five minutes, the shortest the clients' five-minute upload signatures allow, instead of an
 * hour; a 96 MiB cap on what wallets with nothing on-chain may park).
 * The per-address rate limit is off: every party here, honest or not, connects from 127.0.0.1.
 */
export const SOAK_COPROCESSOR_ENV: Record<string, string> = {
  PMHE_RATE_LIMIT_MAX: "0",
  PMHE_UPLOAD_QUOTA_BYTES: String(16 * 2 ** 20),
  PMHE_PENDING_BYTES_MAX: String(96 * 2 ** 20),
  PMHE_UPLOAD_MAX_TTL_SECONDS: "300",
  PMHE_BLOB_GC_AFTER_SECONDS: "300",
  PMHE_BLOB_GC_INTERVAL_MS: "5000",
  PMHE_MAX_CONCURRENT_UPLOADS: "8",
  PMHE_MAX_CONCURRENT_DOWNLOADS: "16",
  PMHE_MAX_DOWNLOADS_PER_ADDRESS: "8",
  PMHE_IDLE_TIMEOUT_MS: "10000",
  PMHE_JOB_ATTEMPTS: "2",
};

export interface HonestReport {
  predictions: number;
  failures: number;
  /** One message per distinct failure. */
  failureMessages: string[];
  latencySeconds: Percentiles | undefined;
  maxProbabilityError: number;
}

export interface FailingJobsReport {
  requested: number;
  /** Settled on-chain by the end, by outcome ("Failed ParameterMismatch", ...). */
  outcomes: Record<string, number>;
}

export interface SoakReport {
  durationSeconds: number;
  honest: HonestReport;
  attacks: Record<string, AttackTally>;
  failingJobs: FailingJobsReport;
  coprocessor: { peakRssBytes: number; rssSamples: number };
  disk: { peakBytes: number; finalBytes: number };
  bounds: { maxRssMb: number; maxDiskMb: number; maxHonestP95Seconds: number };
  /** Why the soak failed; empty when it passed. */
  violations: string[];
}

/** Bytes of every file under `directory` (the blob store: flat, plus temporary files). */
async function directoryBytes(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else total += await stat(path).then((s) => s.size, () => 0);
  }
  return total;
}

/** An honest patient predicting reading after reading, each checked against the plaintext model. */
async function honestLoop(patient: LoadPatient, ref: ModelRef, readings: readonly Reading[], offset: number, running: () => boolean, report: HonestReport, latencies: number[]): Promise<void> {
  for (let i = offset; running(); i += 7) {
    const reading = readings[i % readings.length]!;
    const expected = predictPlaintext(ref.model, reading);
    const started = performance.now();
    try {
      const result = await patient.client.predict(ref, reading, { timeoutMs: 180_000 });
      latencies.push((performance.now() - started) / 1000);
      const error = Math.abs(result.probability - expected.probability);
      report.maxProbabilityError = Math.max(report.maxProbabilityError, error);
      if (error > 1e-4 || result.predictedClass !== expected.predictedClass) throw new Error(`decrypted p = ${result.probability}, the plaintext model says ${expected.probability}`);
      report.predictions++;
    } catch (err) {
      report.failures++;
      const message = (err as Error).message.slice(0, 400);
      if (!report.failureMessages.includes(message)) report.failureMessages.push(message);
    }
  }
}

/**
 * An attacker with a registered wallet floods the queue with jobs that can only fail: records of another model's
 * width requested with the heart model (ParameterMismatch), and anchors of records never uploaded (RecordBlobMissing).
 */
async function failingLoop(patient: LoadPatient, heartId: Hash, other: Model, otherReadings: readonly Reading[], running: () => boolean, jobIds: Hash[]): Promise<void> {
  for (let i = 0; running(); i++) {
    try {
      const recordHash = i % 2 === 0
        ? await patient.client.uploadReading(other, otherReadings[i % otherReadings.length]!)
        : (hexlify(randomBytes(32)) as Hash);
      const { jobId } = await patient.client.anchorAndRequest(recordHash, heartId);
      jobIds.push(jobId);
    } catch {
      // A refused attack is fine; the count of jobs that got through is what the report gives.
    }
  }
}

/** Runs the soak: honest patients predict while every attack runs, then checks the bounds. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const model = parseModelBytes(await readFile(options.modelPath));
  const other = parseModelBytes(await readFile(options.otherModelPath));
  const [readings, otherReadings] = await Promise.all([loadReadings(options.dataPath, model), loadReadings(options.otherDataPath, other)]);
  const engine = await CkksEngine.create(model.fhe.parameterSet);
  let stack: LoadStack | undefined;
  const patients: LoadPatient[] = [];
  try {
    log("starting a hardhat node, redis-server and the coprocessor (as its own process) ...");
    stack = await startLoadStack({ workerConcurrency: 32, env: SOAK_COPROCESSOR_ENV });
    const provider: Provider = stack.newProvider();
    const { chainId } = await provider.getNetwork();
    const domain = uploadDomain(chainId, stack.contractAddress);
    const published = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    const ref = modelRef(model, await stack.hospital.getAddress());
    if (ref.id !== published.modelId) throw new Error("the model reference and the published model disagree");
    log(`creating ${options.honestPatients} honest and ${options.failingPatients} attacking patients ...`);
    patients.push(...(await createPatients(stack, engine, provider, options.honestPatients + options.failingPatients)));
    const honestPatients = patients.slice(0, options.honestPatients);
    const attackers = patients.slice(options.honestPatients);
    // A real key bundle to abuse: the first honest patient's (public, registered, 4.5 MB).
    const victimBundle = (await stack.blobs.get(honestPatients[0]!.client.keyBundleHash))!;

    const rss = sampleMax(() => stack!.coprocessor.rssBytes(), 250);
    const disk = sampleMax(() => directoryBytes(stack!.blobDir), 500);
    const deadline = Date.now() + options.durationSeconds * 1000;
    const running = () => Date.now() < deadline && !stack!.coprocessorExited.aborted;
    const ctx: AttackContext = { apiUrl: stack.coprocessor.apiUrl, domain, running };
    const attacks = {
      compressedBodies: newTally(),
      oversizedBodies: newTally(),
      badKeyBundles: newTally(),
      unregisteredBundles: newTally(),
      slowReaders: newTally(),
    };
    const honest: HonestReport = { predictions: 0, failures: 0, failureMessages: [], latencySeconds: undefined, maxProbabilityError: 0 };
    const latencies: number[] = [];
    const failingJobIds: Hash[] = [];
    log(`soaking for ${options.durationSeconds} s ...`);
    const started = performance.now();
    await Promise.all([
      ...honestPatients.map((p, i) => honestLoop(p, ref, readings, i, running, honest, latencies)),
      ...attackers.map((p) => failingLoop(p, published.modelId, other, otherReadings, running, failingJobIds)),
      compressedBodies(ctx, attacks.compressedBodies),
      oversizedBodies(ctx, attacks.oversizedBodies),
      badKeyBundles(ctx, attacks.badKeyBundles, victimBundle, modelBytes(model)),
      unregisteredBundles(ctx, attacks.unregisteredBundles, victimBundle),
      slowReaders(ctx, attacks.slowReaders, honestPatients[0]!.client.keyBundleHash, options.slowReaders),
    ]);
    const durationSeconds = (performance.now() - started) / 1000;
    honest.latencySeconds = percentiles(latencies);

    // The failing jobs still queued get a little time to settle; what matters is that none was finalized.
    const outcomes: Record<string, number> = {};
    for (const jobId of failingJobIds) {
      const job = await stack.contract.jobOf(jobId);
      const status = Number(job.status);
      const name = status === JobStatus.Failed ? `Failed ${failureReasonName(Number(job.failureReason))}` : ["None", "Requested", "Finalized", "Failed", "Expired"][status]!;
      outcomes[name] = (outcomes[name] ?? 0) + 1;
    }
    const rssPeak = await rss.stop();
    const diskPeak = await disk.stop();
    const report: SoakReport = {
      durationSeconds,
      honest,
      attacks,
      failingJobs: { requested: failingJobIds.length, outcomes },
      coprocessor: { peakRssBytes: rssPeak.max, rssSamples: rssPeak.samples },
      disk: { peakBytes: diskPeak.max, finalBytes: await directoryBytes(stack.blobDir) },
      bounds: { maxRssMb: options.maxRssMb, maxDiskMb: options.maxDiskMb, maxHonestP95Seconds: options.maxHonestP95Seconds },
      violations: [],
    };
    report.violations = violationsOf(report, stack.coprocessorExited.aborted);
    return report;
  } finally {
    patients.forEach((p) => p.client.dispose());
    await stack?.stop();
    engine.dispose();
  }
}

/** Everything that makes the soak fail. */
export function violationsOf(report: SoakReport, coprocessorExited: boolean): string[] {
  const v: string[] = [];
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  if (coprocessorExited) v.push("the coprocessor process exited during the soak");
  if (report.honest.predictions === 0) v.push("no honest prediction completed");
  if (report.honest.failures > 0) v.push(`${report.honest.failures} honest prediction(s) failed: ${report.honest.failureMessages.join(" | ")}`);
  const p95 = report.honest.latencySeconds?.p95;
  if (p95 !== undefined && p95 > report.bounds.maxHonestP95Seconds) v.push(`honest p95 latency ${p95.toFixed(2)} s exceeds ${report.bounds.maxHonestP95Seconds} s`);
  if (report.coprocessor.peakRssBytes > report.bounds.maxRssMb * 2 ** 20) v.push(`coprocessor peak RSS ${mb(report.coprocessor.peakRssBytes)} MiB exceeds ${report.bounds.maxRssMb} MiB`);
  if (report.disk.peakBytes > report.bounds.maxDiskMb * 2 ** 20) v.push(`blob store peaked at ${mb(report.disk.peakBytes)} MiB, above ${report.bounds.maxDiskMb} MiB`);
  for (const [name, tally] of Object.entries(report.attacks)) {
    if (tally.sent === 0) v.push(`attack ${name} never ran`);
    for (const [answer, example] of Object.entries(tally.unexpected)) v.push(`attack ${name} got an unexpected answer "${answer}": ${example}`);
  }
  if (report.failingJobs.requested === 0) v.push("no failing job got through to the queue");
  if ((report.failingJobs.outcomes.Finalized ?? 0) > 0) v.push(`${report.failingJobs.outcomes.Finalized} job(s) that can only fail were finalized`);
  return v;
}

/** The report as a person reads it. */
export function formatSoakReport(r: SoakReport): string {
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const lat = r.honest.latencySeconds;
  const lines = [
    `soak of ${r.durationSeconds.toFixed(0)} s`,
    `honest predictions: ${r.honest.predictions} correct, ${r.honest.failures} failed; latency p50 ${lat?.p50.toFixed(2) ?? "-"} s, p95 ${lat?.p95.toFixed(2) ?? "-"} s, max ${lat?.max.toFixed(2) ?? "-"} s (bound p95 <= ${r.bounds.maxHonestP95Seconds} s); max |Δp| ${r.honest.maxProbabilityError.toExponential(2)}`,
    `coprocessor peak RSS ${mb(r.coprocessor.peakRssBytes)} (bound ${r.bounds.maxRssMb} MiB); blob store peak ${mb(r.disk.peakBytes)}, at the end ${mb(r.disk.finalBytes)} (bound ${r.bounds.maxDiskMb} MiB)`,
    `failing jobs requested: ${r.failingJobs.requested}; on-chain: ${Object.entries(r.failingJobs.outcomes).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
    "attacks (answers received):",
    ...Object.entries(r.attacks).map(([name, t]) => `  ${name}: ${t.sent} sent; ${Object.entries(t.answers).map(([a, n]) => `${a} x${n}`).join(", ")}`),
    r.violations.length === 0 ? "PASS: every bound held and no honest prediction failed" : `FAIL:\n${r.violations.map((v) => `  - ${v}`).join("\n")}`,
  ];
  return lines.join("\n");
}
