import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";

/** The coprocessor settled the job as failed; `reason` is the on-chain reason code's name. */
export class PredictionFailedError extends Error {
  readonly reason: string;
  constructor(readonly jobId: Hash, readonly reasonCode: number) {
    const reason = failureReasonName(reasonCode);
    super(`prediction job ${jobId} failed on-chain with reason ${reasonCode} (${reason})`);
    this.name = "PredictionFailedError";
    this.reason = reason;
  }
}

/** Nobody settled the job before its deadline and it was expired on-chain. */
export class PredictionExpiredError extends Error {
  constructor(readonly jobId: Hash) {
    super(`prediction job ${jobId} expired on-chain before any coprocessor settled it`);
    this.name = "PredictionExpiredError";
  }
}

export class PredictionTimeoutError extends Error {
  constructor(readonly jobId: Hash, timeoutMs: number) {
    super(`prediction job ${jobId} was not settled within ${timeoutMs} ms; is a coprocessor running?`);
    this.name = "PredictionTimeoutError";
  }
}

/** The result blob does not match what the chain says the coprocessor committed: never decrypt it. */
export class ResultVerificationError extends Error {
  constructor(readonly jobId: Hash, message: string) {
    super(`result of job ${jobId} rejected: ${message}`);
    this.name = "ResultVerificationError";
  }
}
