import type { ResultBinding } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import type { Model } from "../../protocol/model.js";

/** One job's homomorphic work: every input already verified against the hashes the chain pins. */
export interface StageTask {
  /** The job's patient (lower case): the record and the key bundle must both name this patient. */
  patient: string;
  /** The job's key bundle: the record must name it, and it is the one evaluated with. */
  keyBundleHash: Hash;
  /** Fetches and verifies the key bundle; called only when no cached copy of its opened keys is at hand. */
  loadKeyBundle: () => Promise<Uint8Array>;
  recordBytes: Uint8Array;
  model: Model;
  binding: ResultBinding;
  /** Test hook: the evaluation thread exits instead of evaluating, as a SEAL abort would make it. */
  crashThreadForTest?: boolean;
}

export interface StageOutput {
  resultBytes: Uint8Array;
  /** Time of the homomorphic evaluation itself (opening keys included on a cache miss), ms. */
  evaluationMs: number;
}

/**
 * Where the CPU-bound part of a job runs: in this thread, or in a pool of worker threads. Rejects with FheError or
 * PermanentJobError for inputs that can never work (a record or key bundle naming another patient among them),
 * with EvaluationThreadDiedError when the evaluation killed its thread, with anything else for trouble worth a retry.
 */
export interface StageEvaluator {
  evaluate(task: StageTask): Promise<StageOutput>;
  close(): Promise<void>;
}

/** The thread evaluating a job died (a SEAL abort, out of memory, the test hook): retried, and counted per job. */
export class EvaluationThreadDiedError extends Error {
  constructor(reason: string) {
    super(`evaluation thread died: ${reason}`);
    this.name = "EvaluationThreadDiedError";
  }
}
