import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { PermanentJobError, type FailureReasonName } from "../../protocol/failure-reasons.js";
import type { ResultBinding } from "../../protocol/fhe/engine.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import type { Hash } from "../../protocol/hash.js";
import type { Model } from "../../protocol/model.js";

/** What the pool sends an evaluation thread. */
export type ToThread =
  | {
      type: "evaluate";
      id: number;
      patient: string;
      keyBundleHash: Hash;
      keyBundle?: Uint8Array;
      recordBytes: Uint8Array;
      model: Model;
      binding: ResultBinding;
      /** Test hook: exit the thread instead of evaluating. */
      crash?: boolean;
    }
  /** The answer to `needKeys`: the verified bundle, or nothing when loading it failed (the pool reports that itself). */
  | { type: "keys"; id: number; keyBundle?: Uint8Array };

/**
 * What an evaluation thread sends back. A finished task carries the size of the thread's SEAL heap after it (bytes;
 * undefined if it could not be measured): the heap never shrinks, so the pool replaces a thread whose heap has grown
 * past its limit.
 */
export type FromThread =
  | { type: "needKeys"; id: number }
  | { type: "done"; id: number; resultBytes: Uint8Array; evaluationMs: number; heapBytes?: number }
  | { type: "failed"; id: number; error: ThreadError; heapBytes?: number };

/** Errors cross the thread boundary as data; these keep the kinds the job processor tells apart. */
export type ThreadError =
  | { kind: "fhe"; code: FheErrorCode; message: string }
  | { kind: "permanent"; reason: FailureReasonName; message: string }
  | { kind: "other"; message: string };

export interface ThreadSettings {
  keyCacheSize: number;
  /** SEAL contexts to create at start rather than on the first job that needs one. */
  warmParameterSets: ParameterSetName[];
}

export function toThreadError(err: unknown): ThreadError {
  // The constructors prefix the code to the message; strip it so the rebuilt error reads the same.
  if (err instanceof FheError) return { kind: "fhe", code: err.code, message: err.message.replace(`${err.code}: `, "") };
  if (err instanceof PermanentJobError) return { kind: "permanent", reason: err.reason, message: err.message.replace(`${err.reason}: `, "") };
  return { kind: "other", message: err instanceof Error ? err.message : String(err) };
}

export function fromThreadError(error: ThreadError): Error {
  switch (error.kind) {
    case "fhe":
      return new FheError(error.code, error.message);
    case "permanent":
      return new PermanentJobError(error.reason, error.message);
    default:
      return new Error(`evaluation thread: ${error.message}`);
  }
}
