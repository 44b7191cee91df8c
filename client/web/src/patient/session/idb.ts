/**
 * The app's IndexedDB database, with the two stores the patient's views keep: sealed key sets and sealed history
 * caches. Everything put here is ciphertext under a key derived from the wallet's signature (./vault-crypto.ts).
 */
const DB_NAME = "pmhe";
const DB_VERSION = 1;
export type StoreName = "keys" | "history";

let opened: Promise<IDBDatabase> | undefined;

function openDb(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of ["keys", "history"] as const) if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB did not open"));
    request.onblocked = () => reject(new Error("IndexedDB is blocked by another tab of this app; close it and reload"));
  });
  opened.catch(() => (opened = undefined));
  return opened;
}

function run<T>(store: StoreName, mode: IDBTransactionMode, action: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  return openDb().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(store, mode);
        const request = action(tx.objectStore(store));
        tx.oncomplete = () => resolve(request.result as T);
        tx.onerror = () => reject(tx.error ?? new Error(`IndexedDB ${mode} on ${store} failed`));
        tx.onabort = () => reject(tx.error ?? new Error(`IndexedDB ${mode} on ${store} was aborted (is the disk full?)`));
      }),
  );
}

export const idbGet = <T>(store: StoreName, key: string) => run<T | undefined>(store, "readonly", (s) => s.get(key));
export const idbPut = (store: StoreName, key: string, value: unknown) => run<IDBValidKey>(store, "readwrite", (s) => s.put(value, key));
export const idbDelete = (store: StoreName, key: string) => run<undefined>(store, "readwrite", (s) => s.delete(key));
