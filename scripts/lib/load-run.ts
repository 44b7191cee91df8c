import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultWorkerConcurrency } from "../../coprocessor/config.js";
import { publishModel } from "../../hospital/publish-model.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { chooseLayout, layoutCapacity } from "../../protocol/fhe/layouts.js";
import { DEFAULT_PARAMETER_SET, type ParameterSetName } from "../../protocol/fhe/params.js";
import { namedContractCall } from "../../protocol/contract-errors.js";
import { failureReasonName } from "../../protocol/failure-reasons.js";
import type { Hash } from "../../protocol/hash.js";
import { parseModel, parseModelBytes, predictPlaintext, roundCount, type Model, type Reading } from "../../protocol/model.js";
import { createPatients, loadReadings, planJobs, prepareRecords, type LoadPatient, type PreparedJob } from "./load-prepare.js";
import type { LoadMode, LoadReport, LoadSettings } from "./load-report.js";
import { startLoadStack, type LoadStack } from "./load-stack.js";
import { childProcesses, cpuMeter, histogramTotals, percentiles, redisMemory, sampleMax } from "./load-stats.js";
import { runTimedPhase, type RequestTxFields, type Settlement, type TimedPhaseResult } from "./load-timed.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** |T_decrypted - T_plaintext| allowed in the spot check: CKKS is ~1e-6 off on T with either parameter set. */
export const SPOT_CHECK_TOLERANCE = 1e-4;
const RSS_SAMPLE_INTERVAL_MS = 250;
const OBSERVER_POLL_INTERVAL_MS = 50;

export interface LoadProgress {
  log(message: string): void;
  /** A counted phase begins (records prepared, jobs settled). */
  start(label: string, total: number): void;
  increment(): void;
  stop(): void;
}

export interface LoadOptions {
  jobs: number;
  mode: LoadMode;
  /** Packed mode only; default: the most records one packed ciphertext holds under the parameter set. */
  recordsPerJob?: number;
  parameterSet: ParameterSetName;
  patients: number;
  /** Offered jobs per second; 0 = unthrottled. */
  rate: number;
  timeoutSeconds: number;
  workerConcurrency: number;
  /** Extra coprocessor environment. */
  env: Record<string, string>;
  /** How many finalized jobs to decrypt and compare with the plaintext model. */
  spotChecks: number;
  modelPath: string;
  dataPath: string;
  progress?: LoadProgress;
  signal?: AbortSignal;
}

export const DEFAULT_LOAD_OPTIONS: LoadOptions = {
  jobs: 1_000,
  mode: "single",
  parameterSet: DEFAULT_PARAMETER_SET,
  patients: 16,
  rate: 0,
  timeoutSeconds: 600,
  workerConcurrency: defaultWorkerConcurrency(availableParallelism()),
  env: {},
  spotChecks: 5,
  modelPath: join(ROOT, "models", "statlog-heart-logreg.v1.json"),
  dataPath: join(ROOT, "data", "statlog_heart.csv"),
};

const silent: LoadProgress = { log: () => undefined, start: () => undefined, increment: () => undefined, stop: () => undefined };

/**
 * The model to publish. A model names the parameter set its jobs are evaluated under, so another set needs a
 * variant of the model that says so (same weights; a different document, hence a different model hash).
 */
async function loadModel(path: string, parameterSet: ParameterSetName): Promise<Model> {
  const model = parseModelBytes(await readFile(path));
  if (roundCount(model) !== 1) throw new Error(`model ${model.name} has ${roundCount(model)} rounds; the load runs one-round models`);
  return model.fhe.parameterSet === parameterSet ? model : parseModel({ ...model, fhe: { ...model.fhe, parameterSet } });
}

/** Gas from one estimate with a margin (a patient's first request costs most), fees well above the base fee. */
async function requestTxFields(stack: LoadStack, patient: LoadPatient, job: PreparedJob, modelId: Hash): Promise<RequestTxFields> {
  const contract = stack.contract.connect(patient.signer);
  const gas = await namedContractCall("anchorAndRequest", () => contract.anchorAndRequest.estimateGas(job.recordHash, modelId));
  const fees = await patient.signer.provider!.getFeeData();
  const network = await patient.signer.provider!.getNetwork();
  return {
    gasLimit: (gas * 3n) / 2n,
    maxFeePerGas: (fees.maxFeePerGas ?? 10n ** 10n) * 2n,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 10n ** 9n,
    chainId: network.chainId,
  };
}

/** The chain, Redis and coprocessor processes, for the CPU breakdown. */
async function stackProcesses(stack: LoadStack): Promise<Record<string, number>> {
  const children = await childProcesses();
  const find = (needle: string) => children.find((c) => c.command.includes(needle))?.pid;
  const processes: Record<string, number> = { coprocessor: stack.coprocessor.pid };
  const chain = find("hardhat");
  const redis = find("redis-server");
  if (chain) processes.chain = chain;
  if (redis) processes.redis = redis;
  return processes;
}

/** Up to `count` items spread evenly over `items`, first and last included. */
function spread<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  if (count <= 1) return items.slice(0, count);
  return Array.from({ length: count }, (_, i) => items[Math.round((i * (items.length - 1)) / (count - 1))]!);
}

/** Decrypts a few finalized results with their patients' keys and compares every record with the plaintext model. */
async function spotCheck(
  model: Model,
  readings: readonly Reading[],
  patients: readonly LoadPatient[],
  jobs: readonly SettledJob[],
  count: number,
): Promise<LoadReport["spotCheck"]> {
  const picked = spread(jobs.filter((j) => j.settlement?.status === "Finalized"), count);
  const result = { jobs: 0, records: 0, maxLogitError: 0, classMismatches: 0, problems: [] as string[], tolerance: SPOT_CHECK_TOLERANCE };
  for (const job of picked) {
    const { client } = patients[job.patient]!;
    try {
      const { bytes } = await client.fetchVerifiedResult(job.jobId!);
      const predictions = await client.decryptPredictions(model, bytes);
      if (predictions.length !== job.rows.length) throw new Error(`result holds ${predictions.length} values for ${job.rows.length} records`);
      predictions.forEach((prediction, k) => {
        const reference = predictPlaintext(model, readings[job.rows[k]!]!);
        result.maxLogitError = Math.max(result.maxLogitError, Math.abs(prediction.logit - reference.logit));
        if (prediction.predictedClass !== reference.predictedClass) result.classMismatches++;
      });
      result.jobs++;
      result.records += predictions.length;
    } catch (err) {
      result.problems.push(`job ${job.index} (${job.jobId}): ${(err as Error).message}`);
    }
  }
  const ok = result.jobs > 0 && result.problems.length === 0 && result.maxLogitError <= SPOT_CHECK_TOLERANCE && result.classMismatches === 0;
  return { ...result, ok };
}

/** Mean homomorphic evaluation and mean enqueue → settled time, from the coprocessor's /metrics (operator server). */
async function coprocessorMeans(operatorUrl: string): Promise<{ meanEvaluationSeconds?: number; meanJobLatencySeconds?: number }> {
  try {
    const text = await (await fetch(`${operatorUrl}/metrics`)).text();
    const evaluation = histogramTotals(text, "pmhe_evaluation_seconds");
    const latency = histogramTotals(text, "pmhe_job_latency_seconds", 'outcome="committed"');
    return {
      meanEvaluationSeconds: evaluation.count > 0 ? evaluation.sum / evaluation.count : undefined,
      meanJobLatencySeconds: latency.count > 0 ? latency.sum / latency.count : undefined,
    };
  } catch {
    return {};
  }
}

function outcomesOf(timed: TimedPhaseResult): LoadReport["outcomes"] {
  const outcomes = { finalized: 0, failed: 0, expired: 0, requestErrors: 0, unsettled: 0, settled: 0, failureReasons: {} as Record<string, number> };
  for (const request of timed.requests) {
    const settlement = request.jobId ? timed.settlements.get(request.jobId) : undefined;
    if (request.error !== undefined) outcomes.requestErrors++;
    else if (!settlement) outcomes.unsettled++;
    else if (settlement.status === "Finalized") outcomes.finalized++;
    else if (settlement.status === "Expired") outcomes.expired++;
    else {
      outcomes.failed++;
      const name = failureReasonName(settlement.reason);
      outcomes.failureReasons[name] = (outcomes.failureReasons[name] ?? 0) + 1;
    }
  }
  outcomes.settled = outcomes.finalized + outcomes.failed + outcomes.expired;
  return outcomes;
}

/** Achieved send rate: requests after the first over the time from the first send to the last. */
function sendRate(timed: TimedPhaseResult): number {
  const sent = timed.requests.map((r) => r.sentAt).filter((t): t is number => t !== undefined);
  if (sent.length < 2) return 0;
  return (sent.length - 1) / ((Math.max(...sent) - Math.min(...sent)) / 1000);
}

function settingsOf(options: LoadOptions, recordsPerJob: number, model: Model, quorum: number): LoadSettings {
  return {
    mode: options.mode,
    jobs: options.jobs,
    recordsPerJob,
    patients: options.patients,
    parameterSet: options.parameterSet,
    layout: chooseLayout(recordsPerJob, model.features.length, options.parameterSet),
    workerConcurrency: options.workerConcurrency,
    rate: options.rate,
    timeoutSeconds: options.timeoutSeconds,
    quorum,
    env: options.env,
  };
}

interface Preparation {
  modelId: Hash;
  prepared: PreparedJob[];
  tx: RequestTxFields;
  seconds: number;
}

/**
 * The untimed part: the model published, the patients registered (added to `patients` as soon as they exist, so
 * the caller disposes them whatever happens), every job's record encrypted and uploaded (anchored by its request).
 */
async function prepare(
  stack: LoadStack,
  engine: CkksEngine,
  model: Model,
  readings: readonly Reading[],
  options: LoadOptions & { recordsPerJob: number },
  patients: LoadPatient[],
  signal: AbortSignal,
): Promise<Preparation> {
  const progress = options.progress ?? silent;
  const started = performance.now();
  const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
  progress.log(`creating ${options.patients} patients (key sets registered on-chain) ...`);
  patients.push(...(await createPatients(stack, engine, stack.newProvider(), options.patients)));
  const plan = planJobs(options.jobs, options.patients, options.recordsPerJob, readings.length);
  progress.start("records encrypted and uploaded", plan.length);
  const prepared = await prepareRecords(patients, model, readings, plan, () => {
    signal.throwIfAborted();
    progress.increment();
  }).finally(() => progress.stop());
  const tx = await requestTxFields(stack, patients[0]!, prepared[0]!, modelId);
  return { modelId, prepared, tx, seconds: (performance.now() - started) / 1000 };
}

interface Measurement {
  timed: TimedPhaseResult;
  cpuSeconds: Record<string, number>;
  rss: { max: number; samples: number };
  redis: LoadReport["redis"];
  means: Awaited<ReturnType<typeof coprocessorMeans>>;
}

/** The timed part, with the coprocessor's RSS sampled and every process's CPU metered meanwhile. */
async function measure(
  stack: LoadStack,
  preparation: Preparation,
  options: LoadOptions,
  patients: readonly LoadPatient[],
  signal: AbortSignal,
): Promise<Measurement> {
  const progress = options.progress ?? silent;
  progress.start("jobs settled", preparation.prepared.length);
  const rss = sampleMax(() => stack.coprocessor.rssBytes(), RSS_SAMPLE_INTERVAL_MS);
  const cpu = cpuMeter(await stackProcesses(stack));
  const timed = await runTimedPhase({
    contract: stack.contract,
    observer: stack.newProvider(OBSERVER_POLL_INTERVAL_MS),
    senders: patients.map((p) => p.wallet),
    requests: preparation.prepared,
    modelId: preparation.modelId,
    tx: preparation.tx,
    rate: options.rate,
    timeoutMs: options.timeoutSeconds * 1000,
    pollIntervalMs: OBSERVER_POLL_INTERVAL_MS,
    signal,
    onSettled: () => progress.increment(),
  }).finally(() => progress.stop());
  return {
    timed,
    cpuSeconds: await cpu.stop(),
    rss: await rss.stop(),
    redis: await redisMemory(stack.redisUrl),
    means: await coprocessorMeans(stack.operatorUrl),
  };
}

type SettledJob = PreparedJob & { jobId?: Hash; settlement?: Settlement };

function settledJobs(prepared: readonly PreparedJob[], timed: TimedPhaseResult): SettledJob[] {
  return prepared.map((job) => {
    const jobId = timed.requests[job.index]!.jobId;
    return { ...job, jobId, settlement: jobId ? timed.settlements.get(jobId) : undefined };
  });
}

function buildReport(
  settings: LoadSettings,
  preparation: Preparation,
  measurement: Measurement,
  jobs: readonly SettledJob[],
  spotCheckResult: LoadReport["spotCheck"],
): LoadReport {
  const { timed } = measurement;
  const outcomes = outcomesOf(timed);
  const elapsedSeconds = (timed.endedAt - timed.startedAt) / 1000;
  const latencies = jobs
    .filter((j) => j.settlement?.status === "Finalized")
    .map((j) => (j.settlement!.observedAt - timed.requests[j.index]!.sentAt!) / 1000);
  const sendTimes = timed.requests.filter((r) => r.sendMs !== undefined && !r.error).map((r) => r.sendMs! / 1000);
  return {
    settings,
    jobs: settings.jobs,
    recordsPerJob: settings.recordsPerJob,
    elapsedSeconds,
    jobsPerSecond: outcomes.finalized / elapsedSeconds,
    recordsPerSecond: (outcomes.finalized * settings.recordsPerJob) / elapsedSeconds,
    latencySeconds: percentiles(latencies),
    offeredRate: settings.rate > 0 ? settings.rate : null,
    sendRate: sendRate(timed),
    outcomes,
    redis: measurement.redis,
    coprocessor: { peakRssBytes: measurement.rss.max, rssSamples: measurement.rss.samples, ...measurement.means },
    diagnostics: {
      sendSeconds: percentiles(sendTimes),
      blocksMined: timed.blocks,
      blocksPerSecond: timed.blocks / elapsedSeconds,
      cpuSeconds: measurement.cpuSeconds,
    },
    preparationSeconds: preparation.seconds,
    spotCheck: spotCheckResult,
    ok: outcomes.finalized === settings.jobs && spotCheckResult.ok,
  };
}

/**
 * Pushes `jobs` prediction jobs through the whole system on this machine and measures it: a fresh local stack,
 * untimed preparation, the timed requests at the offered rate with each job followed to its settlement on-chain,
 * then a few results decrypted and checked. Everything started is stopped, also on error or when `signal` aborts.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const progress = options.progress ?? silent;
  const model = await loadModel(options.modelPath, options.parameterSet);
  const readings = await loadReadings(options.dataPath, model);
  const recordsPerJob = options.mode === "single" ? 1 : (options.recordsPerJob ?? layoutCapacity("packed-records", options.parameterSet));

  const engine = await CkksEngine.create(options.parameterSet);
  let stack: LoadStack | undefined;
  const patients: LoadPatient[] = [];
  try {
    progress.log("starting hardhat node, redis-server, contracts and the coprocessor process ...");
    stack = await startLoadStack({ workerConcurrency: options.workerConcurrency, env: options.env });
    // Interrupted by the caller, or the system under test is gone: either way the run stops there.
    const signal = AbortSignal.any([stack.coprocessorExited, ...(options.signal ? [options.signal] : [])]);
    signal.throwIfAborted();
    const preparation = await prepare(stack, engine, model, readings, { ...options, recordsPerJob }, patients, signal);
    const measurement = await measure(stack, preparation, options, patients, signal);
    progress.log("decrypting a few results and comparing them with the plaintext model ...");
    const jobs = settledJobs(preparation.prepared, measurement.timed);
    const check = await spotCheck(model, readings, patients, jobs, options.spotChecks);
    return buildReport(settingsOf(options, recordsPerJob, model, stack.quorum), preparation, measurement, jobs, check);
  } finally {
    progress.stop();
    patients.forEach((p) => p.client.dispose());
    await stack?.stop();
    engine.dispose();
  }
}
