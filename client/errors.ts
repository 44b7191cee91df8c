import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";

/**
 * The patient client's own errors. Each message ends with what the patient can do next: these are read by people,
 * in the CLI and the web app, more often than by code.
 */

/** The coprocessors settled the job as failed; `reason` is the on-chain reason code's name. */
export class PredictionFailedError extends Error {
  readonly reason: string;
  constructor(readonly jobId: Hash, readonly reasonCode: number) {
    const reason = failureReasonName(reasonCode);
    super(
      `prediction job ${jobId} failed on-chain with reason ${reasonCode} (${reason}); ` +
        "the same inputs cannot succeed: encrypt the reading again and request a new prediction",
    );
    this.name = "PredictionFailedError";
    this.reason = reason;
  }
}

/** Nobody settled the job before its deadline: it was expired on-chain, or its deadline passed without a quorum. */
export class PredictionExpiredError extends Error {
  constructor(readonly jobId: Hash, options: { onChain: boolean; deadline?: number } = { onChain: true }) {
    const what = options.onChain
      ? "expired on-chain before enough coprocessors agreed on a result"
      : `passed its deadline${options.deadline ? ` (${new Date(options.deadline * 1000).toISOString()})` : ""} without reaching its quorum, so no vote can settle it any more`;
    super(`prediction job ${jobId} ${what}; check that the coprocessors are running, then request the prediction again`);
    this.name = "PredictionExpiredError";
  }
}

export class PredictionTimeoutError extends Error {
  constructor(readonly jobId: Hash, timeoutMs: number) {
    super(
      `prediction job ${jobId} was not settled within ${timeoutMs} ms; is a coprocessor running? ` +
        `The job stays on-chain: wait longer (--timeout) or look it up with "npm run audit -- --job ${jobId}"`,
    );
    this.name = "PredictionTimeoutError";
  }
}

/** The result blob does not match what the chain says the coprocessors committed: never decrypt it. */
export class ResultVerificationError extends Error {
  constructor(readonly jobId: Hash, message: string) {
    super(`result of job ${jobId} rejected: ${message}; it was not decrypted. Report it to the coprocessor operators`);
    this.name = "ResultVerificationError";
  }
}

/** One operator in office whose vote on a job differs from the job's final result. */
export interface DissentingVote {
  coprocessor: string;
  /** The result hash it voted for, or null for a failure report. */
  resultHash: Hash | null;
  /** The failure reason it reported, or null for a result. */
  reason: number | null;
  reasonName: string | null;
}

function describeVote(vote: DissentingVote): string {
  return vote.resultHash ? `result ${vote.resultHash}` : `failure ${vote.reason} (${vote.reasonName})`;
}

/**
 * An operator in office voted differently from the job's final result. Evaluation is deterministic, so honest
 * operators agree byte for byte: a dissent means one side is faulty or dishonest, and the result is not presented
 * as final.
 */
export class DisputedResultError extends Error {
  constructor(
    readonly jobId: Hash,
    readonly resultHash: Hash,
    readonly votes: number,
    readonly quorum: number,
    readonly dissent: readonly DissentingVote[],
  ) {
    const others = dissent.map((d) => `${d.coprocessor} voted ${describeVote(d)}`).join("; ");
    super(
      `the result of job ${jobId} is disputed: ${resultHash} has ${votes} of ${quorum} votes, but operators in office ` +
        `disagree (${others}). It is not shown as final; ask the operators (or an auditor: "npm run audit -- --job ${jobId}") ` +
        "which side is faulty, or accept it explicitly as disputed (--accept-disputed)",
    );
    this.name = "DisputedResultError";
  }
}

/** The key bundle was made for another wallet than the one signing: its records would be refused everywhere. */
export class KeyOwnerMismatchError extends Error {
  constructor(readonly bundlePatient: string, readonly signer: string) {
    super(
      `the key bundle names patient ${bundlePatient}, but the wallet signing is ${signer}; ` +
        "use the key directory made for this wallet, or run keygen for it (PMHE_PATIENT_KEY)",
    );
    this.name = "KeyOwnerMismatchError";
  }
}

/** The model file is not the content the on-chain model id stands for. */
export class ModelMismatchError extends Error {
  constructor(readonly modelId: Hash, readonly onChainHash: Hash, readonly fileHash: Hash) {
    super(
      `model ${modelId} on-chain has content hash ${onChainHash}, but the model file hashes to ${fileHash}; ` +
        "use the exact file the hospital published (or the model id of this file)",
    );
    this.name = "ModelMismatchError";
  }
}

/** A job whose result cannot be shared as one rounded prediction. */
export class ShareRefusedError extends Error {
  constructor(readonly jobId: Hash, reason: string) {
    super(`job ${jobId} cannot be shared: ${reason}`);
    this.name = "ShareRefusedError";
  }
}

/** A job of an intermediate round of a multi-round model: its values feed the next round and are no prediction. */
export class IntermediateResultError extends Error {
  constructor(readonly jobId: Hash, readonly round: number, readonly rounds: number) {
    super(`job ${jobId} is round ${round + 1} of ${rounds} of its model: its values are intermediate, not a prediction; open the last round's job`);
    this.name = "IntermediateResultError";
  }
}

/**
 * A job encrypted under another key bundle than the one open here (the patient rotated keys, or restored another
 * backup): this secret key cannot decrypt its result, and trying would only give noise.
 */
export class ForeignKeyBundleError extends Error {
  constructor(readonly jobId: Hash, readonly jobKeyBundle: Hash, readonly openKeyBundle: Hash) {
    super(
      `job ${jobId} was encrypted under key bundle ${jobKeyBundle}, and the keys open here are ${openKeyBundle}; ` +
        "open the key set of that bundle (restore its backup) to read it",
    );
    this.name = "ForeignKeyBundleError";
  }
}

/** The wallet refused to sign or send (EIP-1193 error 4001): nothing was sent. */
export function isUserRejection(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 6; depth++) {
    const record = e as { code?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
    if (record.code === 4001 || record.code === "ACTION_REJECTED") return true;
    e = record.error ?? record.info?.error ?? record.cause;
  }
  return false;
}

/** The patient's keys cannot evaluate the model: another parameter set, or rotation keys for narrower tuples. */
export class KeysDoNotFitModelError extends Error {
  constructor(readonly modelName: string, reason: string) {
    super(reason);
    this.name = "KeysDoNotFitModelError";
  }
}
