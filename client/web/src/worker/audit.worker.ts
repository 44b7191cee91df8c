import { expose, transfer } from "comlink";
import { CkksEngine } from "../../../../protocol/fhe/engine.js";
import { FheError } from "../../../../protocol/fhe/errors.js";
import { evaluateModelStage } from "../../../../protocol/fhe/evaluate-stage.js";
import { checkKeyBundleOwner, checkRecordOwner } from "../../../../protocol/fhe/owner-check.js";
import type { ParameterSetName } from "../../../../protocol/fhe/params.js";
import { FHE_FAILURE_REASONS, PermanentJobError, type FailureReasonName } from "../../../../protocol/failure-reasons.js";
import { contentHash } from "../../../../protocol/hash.js";
import { ModelFormatError, parseModelBytes } from "../../../../protocol/model.js";
import { AUDIT_WORKER_READY, type AuditWorkerApi, type ReexecutionAnswer, type ReexecutionRequest } from "./audit-api.js";

/**
 * The auditor's worker: re-runs a job exactly as a coprocessor's evaluation thread does (ownership checks, keys
 * opened from the bundle, `evaluateModelStage`) and hashes the result. CKKS evaluation uses no randomness, so an
 * honest operator's committed result and this one are the same bytes. SEAL's WASM is loaded here only.
 */

const engines = new Map<ParameterSetName, Promise<CkksEngine>>();

async function engineFor(name: ParameterSetName): Promise<{ engine: CkksEngine; engineMs: number }> {
  const existing = engines.get(name);
  if (existing) return { engine: await existing, engineMs: 0 };
  const started = performance.now();
  const created = CkksEngine.create(name);
  created.catch(() => engines.delete(name));
  engines.set(name, created);
  const engine = await created;
  return { engine, engineMs: performance.now() - started };
}

/** What the coprocessor would vote for an input it cannot evaluate (process-prediction.ts maps errors the same way). */
function refusal(err: unknown): ReexecutionAnswer {
  const message = err instanceof Error ? err.message : String(err);
  let reason: FailureReasonName | null = null;
  if (err instanceof PermanentJobError) reason = err.reason;
  else if (err instanceof FheError) reason = FHE_FAILURE_REASONS[err.code];
  else if (err instanceof ModelFormatError) reason = "MalformedModel";
  return { ok: false, reason, message };
}

function checkHash(bytes: Uint8Array, expected: string, mismatch: FailureReasonName): void {
  const actual = contentHash(bytes);
  if (actual !== expected.toLowerCase()) throw new PermanentJobError(mismatch, `the bytes given hash to ${actual}, the chain holds ${expected}`);
}

const api: AuditWorkerApi = {
  async reexecute(request: ReexecutionRequest): Promise<ReexecutionAnswer> {
    try {
      checkHash(request.model, request.modelHash, "ModelHashMismatch");
      checkHash(request.record, request.recordHash, "RecordHashMismatch");
      checkHash(request.keyBundle, request.keyBundleHash, "KeyBundleHashMismatch");
      const model = parseModelBytes(request.model);
      const { engine, engineMs } = await engineFor(model.fhe.parameterSet);
      const job = { patient: request.patient, keyBundleHash: request.keyBundleHash };
      const started = performance.now();
      // The order of the coprocessor's InlineEvaluator: the record's owner, then the bundle's, then the keys.
      const header = engine.readRecordsHeader(request.record);
      checkRecordOwner(header, job);
      checkKeyBundleOwner(engine.readKeyBundleHeader(request.keyBundle).patient, job);
      const keys = engine.openEvaluationKeys(request.keyBundle);
      let result: Uint8Array;
      try {
        result = evaluateModelStage(engine, keys, request.record, model, { jobId: request.jobId, recordHash: request.recordHash, modelHash: request.modelHash });
      } finally {
        keys.dispose();
      }
      const evaluationMs = performance.now() - started;
      // Transferred, not copied: a view on a larger buffer is copied out first so nothing else moves with it.
      const bytes = result.byteOffset === 0 && result.byteLength === result.buffer.byteLength ? result : result.slice();
      const answer: ReexecutionAnswer = {
        ok: true,
        resultHash: contentHash(bytes),
        result: bytes,
        parameterSet: header.parameterSet,
        layout: header.layout,
        round: "round" in header && header.round !== undefined ? header.round : 0,
        evaluationMs,
        engineMs,
      };
      return transfer(answer, [bytes.buffer]);
    } catch (err) {
      return refusal(err);
    }
  },
  async close() {
    const all = [...engines.values()];
    engines.clear();
    for (const engine of await Promise.allSettled(all)) if (engine.status === "fulfilled") engine.value.dispose();
  },
};

expose(api);
// comlink ignores messages without its ids: this one is for useAuditWorker only.
(globalThis as unknown as { postMessage(message: unknown): void }).postMessage(AUDIT_WORKER_READY);
