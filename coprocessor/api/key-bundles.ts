import { revertErrorName, type PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";

/** A patient's current key bundle hash as the chain has it; undefined for an address that never registered. */
export type KeyBundleReader = (patient: string) => Promise<Hash | undefined>;

/** `currentKeyBundle(patient)` on the PMHE contract; PatientNotRegistered means undefined, any other failure throws. */
export function contractKeyBundleReader(contract: PmheContract): KeyBundleReader {
  return async (patient) => {
    try {
      const [hash] = await contract.currentKeyBundle(patient);
      return hash.toLowerCase() as Hash;
    } catch (err) {
      if (revertErrorName(err) === "PatientNotRegistered") return undefined;
      throw err;
    }
  };
}

export interface KeyBundleCacheOptions {
  /** How long an answer (registered or not) is reused. */
  ttlMs: number;
  /** Most addresses remembered; the oldest answers go first. Default 10,000. */
  maxEntries?: number;
  /** Clock in ms (tests move it). */
  now?: () => number;
}

interface Cached {
  at: number;
  answer: Promise<Hash | undefined>;
}

/**
 * Answers of a KeyBundleReader reused for a short while, so a burst of record uploads costs one RPC call per patient
 * and interval, and concurrent questions about one patient share a call. Failures are not remembered. `fresh`
 * bypasses the cache (after a refusal a rotation may explain).
 */
export class KeyBundleCache {
  private readonly entries = new Map<string, Cached>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly read: KeyBundleReader, private readonly options: KeyBundleCacheOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  current(patient: string, options: { fresh?: boolean } = {}): Promise<Hash | undefined> {
    const key = patient.toLowerCase();
    const cached = this.entries.get(key);
    if (cached && !options.fresh && this.now() - cached.at < this.options.ttlMs) return cached.answer;
    const answer = this.read(key);
    const entry = { at: this.now(), answer };
    this.entries.delete(key); // re-inserted last: Map order is the eviction order
    this.entries.set(key, entry);
    answer.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return answer;
  }
}
