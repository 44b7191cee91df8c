import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import type { Hash } from "../../protocol/hash.js";
import { EvaluationThreadDiedError, type StageEvaluator, type StageOutput, type StageTask } from "./stage-evaluator.js";
import { pickJob } from "./key-affinity.js";
import { fromThreadError, type FromThread, type ThreadSettings, type ToThread } from "./thread-messages.js";

/** The thread entry next to this file, with whatever extension this file has (.ts under tsx, .js when built). */
const THREAD_ENTRY = new URL(`./evaluation-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * A TypeScript entry needs the TypeScript loader in the thread too. Threads inherit the command line's flags (so
 * `tsx file.ts` works as is) but not loaders registered at run time (as test runners do), so add it when missing.
 */
function threadExecArgv(): string[] {
  if (!THREAD_ENTRY.pathname.endsWith(".ts") || process.execArgv.some((arg) => arg.includes("tsx"))) return process.execArgv;
  return [...process.execArgv, "--import", import.meta.resolve("tsx/esm")];
}

export { EvaluationThreadDiedError };

interface Pending {
  id: number;
  task: StageTask;
  /** Times a later job was handed to a thread before this one (see `pickJob`). */
  passedOver: number;
  resolve: (output: StageOutput) => void;
  reject: (err: unknown) => void;
}

interface PoolThread {
  worker: Worker;
  current?: Pending;
  /** Key bundles this thread was last given, most recent last: where a job of the same patient goes best. */
  keys: Hash[];
  /** Being replaced (its heap grew past the limit): its exit is not a death. */
  retiring?: boolean;
}

export interface ThreadPoolOptions {
  threads: number;
  /** Key bundles each thread keeps open. */
  keyCacheSize: number;
  warmParameterSets?: ParameterSetName[];
  logger?: Logger;
  /** Called when a thread dies (a SEAL abort, out of memory) and is replaced. */
  onThreadDied?: () => void;
  /**
   * A thread whose SEAL heap is above this many bytes after a job is replaced by a fresh one (its key cache goes
   * with it). The WASM heap never shrinks, so this bounds what one thread can hold however its jobs grew it.
   */
  heapLimitBytes?: number;
  /** Called when a thread is replaced for its heap, with the heap size it had reached. */
  onThreadRecycled?: (heapBytes: number) => void;
}

/**
 * Evaluates jobs on a fixed set of worker threads, each with its own SEAL contexts and key caches, one job per
 * thread at a time. A job goes to the thread that already holds its patient's keys where it can (`pickJob`), so a
 * returning patient's bundle is neither fetched nor opened again, and each patient's keys are open in one thread. A thread that dies fails only its own job (with
 * EvaluationThreadDiedError, which the worker retries and counts) and is replaced; a thread whose SEAL heap has
 * grown past `heapLimitBytes` is replaced after the job that grew it.
 */
export class ThreadPoolEvaluator implements StageEvaluator {
  private readonly threads: PoolThread[] = [];
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: ThreadPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`thread count must be a positive integer, got ${options.threads}`);
    for (let i = 0; i < options.threads; i++) this.threads.push(this.spawn());
  }

  get size(): number {
    return this.threads.length;
  }

  /** Jobs being evaluated right now. */
  get busy(): number {
    return this.threads.filter((thread) => thread.current).length;
  }

  /** The worker_threads ids of the threads now in the pool (a replaced thread gets a new one). */
  get threadIds(): number[] {
    return this.threads.map((thread) => thread.worker.threadId);
  }

  evaluate(task: StageTask): Promise<StageOutput> {
    if (this.closed) return Promise.reject(new Error("evaluation pool is closed"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, task, passedOver: 0, resolve, reject });
      this.dispatch();
    });
  }

  private spawn(): PoolThread {
    const settings: ThreadSettings = { keyCacheSize: this.options.keyCacheSize, warmParameterSets: this.options.warmParameterSets ?? [] };
    const worker = new Worker(THREAD_ENTRY, { workerData: settings, execArgv: threadExecArgv() });
    const thread: PoolThread = { worker, keys: [] };
    worker.on("message", (message: FromThread) => this.onMessage(thread, message));
    worker.on("error", (err) => this.onDeath(thread, err.message));
    worker.on("exit", (code) => this.onDeath(thread, `exit code ${code}`));
    return thread;
  }

  /** Hands waiting jobs to idle threads, each to the thread that holds its keys where it can (`pickJob`). */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      const idle = this.threads.filter((thread) => !thread.current);
      if (idle.length === 0) return;
      const { thread, index } = pickJob(this.waiting.map(({ task, passedOver }) => ({ keyBundleHash: task.keyBundleHash, passedOver })), idle, this.threads);
      const [next] = this.waiting.splice(index, 1);
      for (const earlier of this.waiting.slice(0, index)) earlier.passedOver++;
      this.assign(thread, next!);
    }
  }

  private assign(thread: PoolThread, pending: Pending): void {
    thread.current = pending;
    const hash = pending.task.keyBundleHash;
    thread.keys = [...thread.keys.filter((k) => k !== hash), hash].slice(-this.options.keyCacheSize);
    const { patient, recordBytes, model, binding, crashThreadForTest } = pending.task;
    const message: ToThread = {
      type: "evaluate",
      id: pending.id,
      patient,
      keyBundleHash: hash,
      recordBytes,
      model,
      binding,
      ...(crashThreadForTest ? { crash: true } : {}),
    };
    thread.worker.postMessage(message);
  }

  private onMessage(thread: PoolThread, message: FromThread): void {
    const pending = thread.current;
    if (!pending || pending.id !== message.id) return;
    switch (message.type) {
      case "needKeys":
        pending.task.loadKeyBundle().then(
          (keyBundle) => thread.worker.postMessage({ type: "keys", id: pending.id, keyBundle } satisfies ToThread),
          (err: unknown) => {
            // The job fails with the loader's own error (missing blob, hash mismatch); the thread drops the task
            // (told before it can be handed another one).
            thread.worker.postMessage({ type: "keys", id: pending.id } satisfies ToThread);
            this.finish(thread, pending);
            pending.reject(err);
          },
        );
        return;
      case "done":
        this.recycleIfBloated(thread, message.heapBytes);
        this.finish(thread, pending);
        pending.resolve({ resultBytes: message.resultBytes, evaluationMs: message.evaluationMs });
        return;
      case "failed":
        this.recycleIfBloated(thread, message.heapBytes);
        this.finish(thread, pending);
        pending.reject(fromThreadError(message.error));
        return;
    }
  }

  private finish(thread: PoolThread, pending: Pending): void {
    if (thread.current === pending) thread.current = undefined;
    this.dispatch();
  }

  /** Replaces `thread` (its job has just finished) by a fresh one if its heap is past the limit. */
  private recycleIfBloated(thread: PoolThread, heapBytes: number | undefined): void {
    const limit = this.options.heapLimitBytes;
    if (limit === undefined || heapBytes === undefined || heapBytes <= limit || this.closed) return;
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    thread.retiring = true;
    this.options.logger?.info({ heapMb: Math.round(heapBytes / 2 ** 20), limitMb: Math.round(limit / 2 ** 20) }, "evaluation thread heap past its limit; replacing the thread");
    this.threads[index] = this.spawn();
    thread.worker.terminate().catch(() => undefined);
    this.options.onThreadRecycled?.(heapBytes);
  }

  private onDeath(thread: PoolThread, reason: string): void {
    if (thread.retiring) return;
    const index = this.threads.indexOf(thread);
    if (index < 0) return; // already replaced ("error" is followed by "exit")
    const pending = thread.current;
    thread.current = undefined;
    if (this.closed) {
      this.threads.splice(index, 1);
      pending?.reject(new Error("evaluation pool is closed"));
      return;
    }
    this.options.logger?.error({ reason }, "evaluation thread died; starting a new one");
    this.options.onThreadDied?.();
    this.threads[index] = this.spawn();
    pending?.reject(new EvaluationThreadDiedError(reason));
    this.dispatch();
  }

  /** Stops the threads; jobs still waiting are rejected (the queue runs them again). Call once the worker has stopped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.waiting.splice(0)) pending.reject(new Error("evaluation pool is closed"));
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
    this.threads.length = 0;
  }
}
