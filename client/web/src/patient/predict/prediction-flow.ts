import type { BlobClient } from "../../../../../protocol/blob-client.js";
import type { PmheContract } from "../../../../../protocol/chain.js";
import { namedContractCall } from "../../../../../protocol/contract-errors.js";
import { chooseLayout, type Layout } from "../../../../../protocol/fhe/layouts.js";
import { contentHash, type Hash } from "../../../../../protocol/hash.js";
import { buildTuple, finalPrediction, isFinalRound, roundCount, roundInput, roundResultStage, serverStage, type Prediction, type Reading } from "../../../../../protocol/model.js";
import { PredictionExpiredError, PredictionFailedError, ResultVerificationError } from "../../../../errors.js";
import type { JobState } from "../../../../job-status.js";
import type { ModelRef } from "../../../../model-ref.js";
import type { PatientClient } from "../../../../patient-client.js";
import type { ResultVerdict } from "../../../../verdict.js";
import type { SessionSigner } from "../session/session-signer.js";

export const FLOW_STEPS = ["encrypt", "upload", "request", "wait", "verify", "decrypt"] as const;
export type FlowStep = (typeof FLOW_STEPS)[number];

export interface FlowProgress {
  round: number;
  rounds: number;
  step: FlowStep;
  /** When the current step started (performance.now()). */
  stepStartedAt: number;
  /** Steps of this round already done, with how long each took (ms). */
  done: Partial<Record<FlowStep, number>>;
  recordBytes?: number;
  recordHash?: Hash;
  jobId?: Hash;
  jobState?: JobState;
  resultHash?: Hash;
}

export interface RoundOutcome extends ResultVerdict {
  round: number;
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
}

export interface PredictionOutcome extends ResultVerdict {
  jobId: Hash;
  recordHash: Hash;
  resultHash: Hash;
  layout: Layout;
  /** One per reading, in order. */
  predictions: Prediction[];
  rounds: RoundOutcome[];
  /** When the (last) job was requested, unix seconds (the block's time). */
  requestedAt: number;
  acceptedDisputed: boolean;
}

export interface FlowOptions {
  client: PatientClient;
  signer: SessionSigner;
  /** The PMHE contract bound to the patient's wallet (calls are made from the patient's address). */
  contract: PmheContract;
  contractAddress: string;
  blobs: BlobClient;
  ref: ModelRef;
  readings: readonly Reading[];
  signal: AbortSignal;
  onProgress(progress: FlowProgress): void;
  /** How long to follow one job before giving up (the job stays on-chain). */
  timeoutMs?: number;
}

/**
 * One prediction, step by step, so the page can show each one: encrypt (in the worker), check the request would be
 * accepted, upload (signed by the upload session's key: no wallet prompt), one transaction (anchorAndRequest), follow the job (GET /jobs/:id with its Retry-After,
 * the chain when the API does not answer), fetch and verify the result against the chain and its votes, decrypt.
 * A multi-round model repeats this per round, each round's decrypted values feeding the next; several readings of a
 * one-round model go as one record of the engine's batch layout, in one job.
 */
export async function runPrediction(options: FlowOptions): Promise<PredictionOutcome> {
  const { client, ref, readings } = options;
  // Keys that cannot evaluate the model (another set, narrower tuples, no relinearization keys) are refused here,
  // before anything is encrypted or sent: the job would only fail on-chain with ParameterMismatch.
  client.requireKeysFit(ref.model);
  const rounds = roundCount(ref.model);
  if (rounds > 1 && readings.length !== 1) throw new Error(`${ref.model.name} has ${rounds} rounds: predict its readings one at a time`);
  const outcomes: RoundOutcome[] = [];
  let tuples = readings.map((reading) => buildTuple(ref.model, reading));
  for (let round = 0; ; round++) {
    const progress: FlowProgress = { round, rounds, step: "encrypt", stepStartedAt: performance.now(), done: {} };
    const step = (next: FlowStep, extra: Partial<FlowProgress> = {}) => {
      const now = performance.now();
      progress.done = { ...progress.done, [progress.step]: now - progress.stepStartedAt };
      Object.assign(progress, extra, { step: next, stepStartedAt: now });
      options.onProgress({ ...progress });
    };
    options.onProgress({ ...progress });

    // Encrypt: one record holding this round's tuple(s).
    let layout: Layout;
    let record: Uint8Array;
    if (rounds > 1) {
      const rows = serverStage(ref.model, round).weights.length;
      layout = "packed-records";
      record = await client.crypto.encryptRecords(layout, Array.from({ length: rows }, () => tuples[0]!), { round, stage: roundResultStage(ref.model, round) });
    } else if (tuples.length === 1) {
      layout = "single-record";
      record = await client.crypto.encryptTuple(tuples[0]!, { stage: roundResultStage(ref.model, round) });
    } else {
      layout = chooseLayout(tuples.length, tuples[0]!.length, client.crypto.parameterSet);
      record = await client.crypto.encryptRecords(layout, tuples, { stage: roundResultStage(ref.model, round) });
    }
    const recordHash = contentHash(record);
    options.signal.throwIfAborted();

    // Would the request go through? Asked before anything is uploaded or signed.
    step("upload", { recordBytes: record.length, recordHash });
    await namedContractCall("anchorAndRequest", () => options.contract.anchorAndRequest.staticCall(recordHash, ref.id));
    await client.uploadRecord(record);
    options.signal.throwIfAborted();

    step("request");
    const { jobId, blockNumber } = await client.anchorAndRequest(recordHash, ref.id);

    step("wait", { jobId });
    const settled = await client.watchJob(jobId, {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 300_000,
      onState: (jobState) => options.onProgress({ ...progress, jobState }),
    });
    progress.jobState = settled;
    if (settled.status === "Failed") throw new PredictionFailedError(jobId, settled.reason);
    if (settled.status === "Expired") throw new PredictionExpiredError(jobId);

    step("verify", { resultHash: settled.resultHash });
    const verified = await client.fetchVerifiedResult(jobId);

    step("decrypt");
    const { values } = await client.crypto.decrypt(verified.bytes);
    const outcome: RoundOutcome = { round, jobId, recordHash, resultHash: verified.resultHash, ...verified.verdict };
    outcomes.push(outcome);
    step("decrypt");

    if (rounds === 1 || isFinalRound(ref.model, round)) {
      if (values.length !== readings.length) throw new ResultVerificationError(jobId, `the result holds ${values.length} values for ${readings.length} readings`);
      const block = await options.signer.provider?.getBlock(blockNumber).catch(() => null);
      const weakest: ResultVerdict = {
        votes: Math.min(...outcomes.map((r) => r.votes)),
        quorum: Math.min(...outcomes.map((r) => r.quorum)),
        singleOperator: outcomes.some((r) => r.singleOperator),
        disputed: outcomes.some((r) => r.disputed),
        dissent: outcomes.flatMap((r) => r.dissent),
      };
      return {
        ...weakest,
        jobId,
        recordHash,
        resultHash: verified.resultHash,
        layout,
        predictions: values.map((logit) => finalPrediction(ref.model, logit)),
        rounds: outcomes,
        requestedAt: block?.timestamp ?? Math.floor(Date.now() / 1000),
        acceptedDisputed: false,
      };
    }
    const expected = serverStage(ref.model, round).weights.length;
    if (values.length !== expected) throw new ResultVerificationError(jobId, `round ${round} returned ${values.length} values, expected ${expected}`);
    tuples = [roundInput(ref.model, round + 1, values)];
  }
}
