import type { FailureReasonName } from "../../../../protocol/failure-reasons.js";
import type { Hash } from "../../../../protocol/hash.js";

/**
 * The audit worker (audit.worker.ts) as the page sees it, over comlink: an auditor's re-execution of a job, with
 * SEAL's WASM loaded in the worker, never on the page. Every argument and answer is structured-clonable.
 */

/** One job's inputs, as the chain names them and as the blob store served them (the page has checked the hashes). */
export interface ReexecutionRequest {
  jobId: Hash;
  patient: string;
  recordHash: Hash;
  keyBundleHash: Hash;
  modelHash: Hash;
  record: Uint8Array;
  keyBundle: Uint8Array;
  model: Uint8Array;
}

export type ReexecutionAnswer =
  | {
      ok: true;
      /** keccak256 of the result this browser computed: compare it with the committed result hash. */
      resultHash: Hash;
      /** The result's bytes (a few hundred kB), for a byte-by-byte comparison with the committed blob. */
      result: Uint8Array;
      parameterSet: string;
      layout: string;
      /** The model round the record is for (0 for a one-round model). */
      round: number;
      /** Time to open the keys and evaluate, ms (the SEAL context of the parameter set is made once, not counted). */
      evaluationMs: number;
      /** Time to make the SEAL context, ms; 0 when it was already made by an earlier re-execution. */
      engineMs: number;
    }
  | {
      ok: false;
      /** The on-chain failure reason the coprocessor would have voted, when the evaluation refused the inputs. */
      reason: FailureReasonName | null;
      message: string;
    };

/**
 * What the worker posts once it listens. Its module graph awaits at the top level (the WebAssembly keccak), and a
 * message that arrives before `expose` runs would be dropped: the page waits for this before its first call.
 */
export const AUDIT_WORKER_READY = "pmhe-audit-worker-ready";

export interface AuditWorkerApi {
  /**
   * Runs the coprocessor's evaluation (protocol/fhe/evaluate-stage.ts, with the same ownership checks first) on the
   * job's inputs and answers the hash of the result. Inputs that do not hash to the hashes given are refused.
   */
  reexecute(request: ReexecutionRequest): Promise<ReexecutionAnswer>;
  /** Frees the SEAL contexts (the worker is about to end). */
  close(): Promise<void>;
}
