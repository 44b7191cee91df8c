import type { FheErrorCode } from "./fhe/errors.js";

/**
 * Reason codes a coprocessor reports on-chain with `reportFailure(jobId, reason)`.
 * The contract stores the number; this table is the one place that names them (the contract's NatSpec repeats it).
 * Every one of these is permanent: retrying the same job with the same anchored inputs cannot succeed.
 */
export const FailureReason = {
  RecordBlobMissing: 1,
  RecordHashMismatch: 2,
  KeyBundleBlobMissing: 3,
  KeyBundleHashMismatch: 4,
  ModelBlobMissing: 5,
  ModelHashMismatch: 6,
  MalformedRecord: 7,
  MalformedKeyBundle: 8,
  MalformedModel: 9,
  ParameterMismatch: 10,
  EvaluationError: 11,
  /** The record blob's header names another patient or key bundle than the job's. */
  RecordOwnerMismatch: 12,
  /** The key bundle blob's header names another patient than the job's. */
  KeyBundleOwnerMismatch: 13,
  /** Evaluating the job killed the evaluation thread (or the process) twice. */
  EvaluationCrashed: 14,
  /** The patient erased the record (or its batch) after the request. */
  RecordErased: 15,
} as const;

export type FailureReasonName = keyof typeof FailureReason;
export type FailureReasonCode = (typeof FailureReason)[FailureReasonName];

const NAMES = new Map<number, FailureReasonName>(
  Object.entries(FailureReason).map(([name, code]) => [code, name as FailureReasonName]),
);

/**
 * The on-chain reason for each FheError code: what a coprocessor votes when the engine refuses a job's inputs, and
 * what an auditor re-running the job expects the operators to have voted.
 */
export const FHE_FAILURE_REASONS: Readonly<Record<FheErrorCode, FailureReasonName>> = {
  MalformedKeyBundle: "MalformedKeyBundle",
  MalformedRecord: "MalformedRecord",
  MalformedResult: "EvaluationError",
  MalformedSecretKey: "EvaluationError",
  ParameterMismatch: "ParameterMismatch",
  EvaluationError: "EvaluationError",
};

export function failureReasonName(code: number): FailureReasonName | `Unknown(${number})` {
  return NAMES.get(code) ?? `Unknown(${code})`;
}

/** A failure that must be reported on-chain rather than retried. */
export class PermanentJobError extends Error {
  readonly reason: FailureReasonName;
  constructor(reason: FailureReasonName, message: string, options?: { cause?: unknown }) {
    super(`${reason}: ${message}`, options);
    this.name = "PermanentJobError";
    this.reason = reason;
  }
  get code(): FailureReasonCode {
    return FailureReason[this.reason];
  }
}
