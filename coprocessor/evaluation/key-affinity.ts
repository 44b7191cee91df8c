import type { Hash } from "../../protocol/hash.js";

/**
 * Which waiting job an idle evaluation thread takes. Opening a patient's key bundle in a thread costs about as much
 * as ten evaluations (~100 ms at N=8192), so jobs are steered to the thread that already holds their keys.
 */

/** A job waiting for a thread: the bundle it needs, and how often a later job was handed out before it. */
export interface WaitingJob {
  keyBundleHash: Hash;
  passedOver: number;
}

/** A thread and the key bundles it holds open. */
export interface KeyHolder {
  keys: readonly Hash[];
}

/**
 * How many later jobs may be handed out before a waiting one: more than the evaluations one key-bundle opening
 * costs, so a job whose keys are busy in another thread waits for it rather than having them opened twice, and
 * few enough that no job waits long behind other patients' jobs.
 */
export const MAX_PASSED_OVER = 16;

/**
 * The job (index into `waiting`, which must not be empty) and the idle thread to run it: the earliest job whose
 * keys an idle thread holds (on that thread) or no thread holds (on the idle thread holding the fewest bundles, so
 * new patients spread over the threads); a job whose keys only a busy thread holds is left for that thread. When
 * every waiting job is of that kind, or the earliest one has been passed over `maxPassedOver` times, the earliest
 * job is taken anyway: no thread stays idle while a job waits, and no job waits for ever.
 */
export function pickJob<T extends KeyHolder>(
  waiting: readonly WaitingJob[],
  idle: readonly T[],
  all: readonly T[],
  maxPassedOver = MAX_PASSED_OVER,
): { thread: T; index: number } {
  if (waiting.length === 0 || idle.length === 0) throw new RangeError("pickJob needs a waiting job and an idle thread");
  const holderOf = (hash: Hash, among: readonly T[]) => among.find((t) => t.keys.includes(hash));
  const leastLoaded = () => idle.reduce((best, t) => (t.keys.length < best.keys.length ? t : best));
  const head = waiting[0]!;
  if (head.passedOver < maxPassedOver) {
    for (const [index, job] of waiting.entries()) {
      const holder = holderOf(job.keyBundleHash, idle);
      if (holder) return { thread: holder, index };
      if (!holderOf(job.keyBundleHash, all)) return { thread: leastLoaded(), index };
    }
  }
  return { thread: holderOf(head.keyBundleHash, idle) ?? leastLoaded(), index: 0 };
}
