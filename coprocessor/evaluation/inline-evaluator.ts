import { CkksEngine } from "../../protocol/fhe/engine.js";
import { evaluateModelStage } from "../../protocol/fhe/evaluate-stage.js";
import { checkKeyBundleOwner, checkRecordOwner } from "../../protocol/fhe/owner-check.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import { KeyBundleCache } from "./key-cache.js";
import { EvaluationThreadDiedError, type StageEvaluator, type StageOutput, type StageTask } from "./stage-evaluator.js";

interface EngineSlot {
  engine: CkksEngine;
  keys: KeyBundleCache;
}

/**
 * Evaluates in the calling thread: one SEAL context per parameter set (created on first use) and, for each, a
 * bounded cache of opened key bundles. Each worker thread of the pool runs one of these.
 */
export class InlineEvaluator implements StageEvaluator {
  private readonly slots = new Map<ParameterSetName, Promise<EngineSlot>>();
  private closed = false;

  constructor(private readonly keyCacheSize: number) {}

  async evaluate(task: StageTask): Promise<StageOutput> {
    if (this.closed) throw new Error("evaluator is closed");
    // On the main thread there is no thread to lose: the hook's crash is reported as the pool would report it.
    if (task.crashThreadForTest) throw new EvaluationThreadDiedError("test hook (inline evaluation)");
    const { engine, keys } = await this.slot(task.model.fhe.parameterSet);
    // Ownership first, before any key is loaded into SEAL for a job that may not use it.
    checkRecordOwner(engine.readRecordsHeader(task.recordBytes), task);
    let keyBundle: Uint8Array | undefined;
    const cachedFor = keys.patientOf(task.keyBundleHash);
    if (cachedFor !== undefined) checkKeyBundleOwner(cachedFor, task);
    else {
      keyBundle = await task.loadKeyBundle();
      checkKeyBundleOwner(engine.readKeyBundleHeader(keyBundle).patient, task);
    }
    // From here to the return nothing awaits, so no other job can evict these keys while they are in use.
    const started = performance.now();
    const resultBytes = evaluateModelStage(engine, keys.acquire(task.keyBundleHash, keyBundle), task.recordBytes, task.model, task.binding);
    return { resultBytes, evaluationMs: performance.now() - started };
  }

  /** Starts the SEAL context of `name` now, so the first job does not wait for it. */
  warm(name: ParameterSetName): void {
    this.slot(name).catch(() => undefined);
  }

  private slot(name: ParameterSetName): Promise<EngineSlot> {
    let slot = this.slots.get(name);
    if (!slot) {
      slot = CkksEngine.create(name).then((engine) => {
        if (this.closed) {
          engine.dispose();
          throw new Error("evaluator is closed");
        }
        return { engine, keys: new KeyBundleCache(engine, this.keyCacheSize) };
      });
      // A failed start (out of memory, say) is not remembered: the next job tries again.
      slot.catch(() => this.slots.delete(name));
      this.slots.set(name, slot);
    }
    return slot;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots.values()) {
      const { engine, keys } = await slot.catch(() => ({ engine: undefined, keys: undefined }));
      keys?.dispose();
      engine?.dispose();
    }
    this.slots.clear();
  }
}
