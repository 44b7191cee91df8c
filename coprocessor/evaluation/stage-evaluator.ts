import type { ResultBinding } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import type { Model } from "../../protocol/model.js";

/** One job's homomorphic work: every input already verified against the hashes the chain pins. */
export interface StageTask {
  keyBundleHash: Hash;
  /** Fetches and verifies the key bundle; called only when no cached copy of its opened keys is at hand. */
  loadKeyBundle: () => Promise<Uint8Array>;
  recordBytes: Uint8Array;
  model: Model;
  binding: ResultBinding;
}

export interface StageOutput {
  resultBytes: Uint8Array;
  /** Time of the homomorphic evaluation itself (opening keys included on a cache miss), ms. */
  evaluationMs: number;
}

/**
 * Where the CPU-bound part of a job runs: in this thread, or in a pool of worker threads. Rejects with FheError or
 * PermanentJobError for inputs that can never work, with anything else for trouble worth a retry.
 */
export interface StageEvaluator {
  evaluate(task: StageTask): Promise<StageOutput>;
  close(): Promise<void>;
}
