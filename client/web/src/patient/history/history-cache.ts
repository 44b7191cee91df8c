import type { Hash } from "../../../../../protocol/hash.js";
import { idbGet, idbPut } from "../session/idb.js";
import { vaultId, type Deployment } from "../session/key-vault.js";
import type { SealedValue, VaultKey } from "../session/vault-key.js";

/** One decrypted prediction, kept on this device (sealed) so the history needs no decryption on every visit. */
export interface HistoryEntry {
  jobId: Hash;
  /** The reading's position in its job (batch jobs hold several). */
  index: number;
  modelId: Hash;
  modelName: string;
  modelVersion: number;
  probability: number;
  predictedClass: 0 | 1;
  /** Unix seconds of the request's block. */
  requestedAt: number;
  recordHash: Hash;
  votes: number;
  quorum: number;
  disputed: boolean;
}

/** What the device keeps: the decrypted predictions, and the jobs known to be intermediate rounds (no prediction). */
export interface HistoryCache {
  entries: HistoryEntry[];
  intermediate: Hash[];
}

const EMPTY: HistoryCache = { entries: [], intermediate: [] };

const entryKey = (e: Pick<HistoryEntry, "jobId" | "index">) => `${e.jobId}:${e.index}`;

let queue: Promise<unknown> = Promise.resolve();
/** Writes one after another: two views appending at once must not lose each other's entries. */
function serially<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => undefined);
  return next;
}

/**
 * The patient's decrypted history on this device, sealed under the session's vault key. It is a cache: the chain
 * and the key set rebuild it (HistoryPanel's "Rebuild from the chain").
 */
export async function loadHistory(deployment: Deployment, address: string, vault: VaultKey): Promise<HistoryCache> {
  const id = vaultId(deployment, address);
  const sealed = await idbGet<SealedValue>("history", id);
  if (!sealed) return EMPTY;
  try {
    return vault.open<HistoryCache>(sealed, id);
  } catch {
    return EMPTY; // sealed under another signature (another wallet app): rebuilt from the chain
  }
}

/** Adds (or replaces, by job and index) entries and intermediate jobs; `replaceAll` starts from nothing (a rebuild). */
export function saveHistory(deployment: Deployment, address: string, vault: VaultKey, update: Partial<HistoryCache>, options: { replaceAll?: boolean } = {}): Promise<HistoryCache> {
  return serially(async () => {
    const id = vaultId(deployment, address);
    const current = options.replaceAll ? EMPTY : await loadHistory(deployment, address, vault);
    const merged = new Map(current.entries.map((e) => [entryKey(e), e]));
    for (const entry of update.entries ?? []) merged.set(entryKey(entry), entry);
    const next: HistoryCache = {
      entries: [...merged.values()].sort((a, b) => a.requestedAt - b.requestedAt || a.index - b.index),
      intermediate: [...new Set([...current.intermediate, ...(update.intermediate ?? [])])],
    };
    await idbPut("history", id, vault.seal(next, id));
    return next;
  });
}
