import { parentPort, workerData } from "node:worker_threads";
import { sealHeapBytes } from "../../protocol/fhe/runtime.js";
import { InlineEvaluator } from "./inline-evaluator.js";
import { toThreadError, type FromThread, type ThreadSettings, type ToThread } from "./thread-messages.js";

/**
 * One evaluation thread of the pool: its own SEAL contexts and key-bundle caches (WASM instances cannot be shared
 * between threads). It evaluates what the pool sends, one task at a time, and asks the pool for a key bundle it
 * does not hold; all I/O stays on the main thread.
 */
const port = parentPort!;
const settings = workerData as ThreadSettings;
const evaluator = new InlineEvaluator(settings.keyCacheSize);
for (const name of settings.warmParameterSets) evaluator.warm(name);
const keyRequests = new Map<number, (keyBundle: Uint8Array | undefined) => void>();

const send = (message: FromThread) => port.postMessage(message);

function requestKeys(id: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    keyRequests.set(id, (keyBundle) => (keyBundle ? resolve(keyBundle) : reject(new Error("key bundle unavailable"))));
    send({ type: "needKeys", id });
  });
}

/** Exit code of a thread the test hook brings down. */
const CRASH_EXIT_CODE = 70;

async function evaluate(task: Extract<ToThread, { type: "evaluate" }>): Promise<void> {
  // As abrupt as a SEAL abort: no answer, the thread is gone.
  if (task.crash) process.exit(CRASH_EXIT_CODE);
  try {
    const { keyBundle, id } = task;
    const output = await evaluator.evaluate({
      patient: task.patient,
      keyBundleHash: task.keyBundleHash,
      loadKeyBundle: () => (keyBundle ? Promise.resolve(keyBundle) : requestKeys(id)),
      recordBytes: task.recordBytes,
      model: task.model,
      binding: task.binding,
    });
    send({ type: "done", id, resultBytes: output.resultBytes, evaluationMs: output.evaluationMs, heapBytes: sealHeapBytes() });
  } catch (err) {
    send({ type: "failed", id: task.id, error: toThreadError(err), heapBytes: sealHeapBytes() });
  }
}

port.on("message", (message: ToThread) => {
  if (message.type === "keys") {
    const answer = keyRequests.get(message.id);
    keyRequests.delete(message.id);
    answer?.(message.keyBundle);
    return;
  }
  void evaluate(message);
});
