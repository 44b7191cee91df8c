import type { Hash } from "../../protocol/hash.js";
import type { Model } from "../../protocol/model.js";

/**
 * Parsed models by their hash, most recently used last. A model blob never changes under its hash, and every job
 * of a hospital's model would otherwise read, hash and validate the same file again.
 */
export class ModelCache {
  private readonly entries = new Map<Hash, Model>();

  constructor(readonly capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`model cache capacity must be a positive integer, got ${capacity}`);
  }

  get(hash: Hash): Model | undefined {
    const model = this.entries.get(hash);
    if (model) {
      this.entries.delete(hash);
      this.entries.set(hash, model);
    }
    return model;
  }

  /** Only for models verified against their on-chain hash and parsed without error. */
  set(hash: Hash, model: Model): void {
    this.entries.delete(hash);
    this.entries.set(hash, model);
    const oldest = this.entries.keys().next();
    if (this.entries.size > this.capacity && !oldest.done) this.entries.delete(oldest.value);
  }

  get size(): number {
    return this.entries.size;
  }
}
