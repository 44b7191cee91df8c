import type { CkksEngine, LayoutEvaluationKeys } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";

/**
 * Opened evaluation keys of the most recently used key bundles, by bundle hash. A bundle is ~4.5 MB to fetch and
 * hash and ~100 ms to load into SEAL; a patient's jobs reuse it. Entries are SEAL objects: an evicted one is
 * deleted at once, so the cache must only be used from synchronous code that finishes with the keys before it
 * yields (see `InlineEvaluator.evaluate`), or a concurrent job could evict keys still in use.
 */
export class KeyBundleCache {
  private readonly entries = new Map<Hash, { keys: LayoutEvaluationKeys; patient: string }>();

  constructor(private readonly engine: CkksEngine, readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`key cache capacity must be a positive integer, got ${capacity}`);
  }

  has(hash: Hash): boolean {
    return this.entries.has(hash);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The patient a cached bundle's header names, so a job can be checked against it without the bundle's bytes. */
  patientOf(hash: Hash): string | undefined {
    return this.entries.get(hash)?.patient;
  }

  /** The keys of `hash`, opened from `verifiedBytes` on a miss (bytes already checked against the chain). */
  acquire(hash: Hash, verifiedBytes: Uint8Array | undefined): LayoutEvaluationKeys {
    const hit = this.entries.get(hash);
    if (hit) {
      this.entries.delete(hash);
      this.entries.set(hash, hit);
      return hit.keys;
    }
    if (!verifiedBytes) throw new Error(`key bundle ${hash} is not cached and no bytes were given`);
    const { patient } = this.engine.readKeyBundleHeader(verifiedBytes);
    const keys = this.engine.openEvaluationKeys(verifiedBytes);
    this.entries.set(hash, { keys, patient });
    for (const [oldest, evicted] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldest);
      evicted.keys.dispose();
    }
    return keys;
  }

  dispose(): void {
    for (const { keys } of this.entries.values()) keys.dispose();
    this.entries.clear();
  }
}
