import type { KeySet } from "../../../../../protocol/fhe/engine.js";
import { readKeyBundleHeader } from "../../../../../protocol/fhe/headers.js";
import { contentHash, type Hash } from "../../../../../protocol/hash.js";
import { keyBackupDomain, openKeyBackup, readKeyBackupHeader } from "../../../../../protocol/key-backup.js";
import { idbDelete, idbGet, idbPut } from "./idb.js";

/**
 * The patient's key set on this device. The secret key is stored only as a key backup (protocol/key-backup.ts):
 * AES-256-GCM under the key derived from the wallet's key-backup signature, the same blob format the blob store
 * keeps, so this device needs nothing but the wallet to open it. The public key bundle is stored beside it.
 */
export interface StoredKeySet {
  /** The key-backup blob that seals the secret key. */
  sealed: Uint8Array;
  keyBundle: Uint8Array;
  keyBundleHash: Hash;
  savedAt: number;
}

export interface Deployment {
  chainId: number;
  contractAddress: string;
}

/** One key set per wallet and deployment. */
export function vaultId(deployment: Deployment, address: string): string {
  return `${deployment.chainId}:${deployment.contractAddress.toLowerCase()}:${address.toLowerCase()}`;
}

export async function loadStoredKeys(deployment: Deployment, address: string): Promise<StoredKeySet | undefined> {
  return idbGet<StoredKeySet>("keys", vaultId(deployment, address));
}

/** Stores a sealed key set, after checking that the seal and the bundle belong together and to `address`. */
export async function storeKeys(deployment: Deployment, address: string, sealed: Uint8Array, keyBundle: Uint8Array): Promise<StoredKeySet> {
  const keyBundleHash = contentHash(keyBundle);
  const header = readKeyBackupHeader(sealed);
  if (header.keyBundle !== keyBundleHash || header.patient !== address.toLowerCase() || readKeyBundleHeader(keyBundle).patient !== address.toLowerCase()) {
    throw new Error("the sealed secret key and the key bundle do not belong together; nothing was stored");
  }
  const stored: StoredKeySet = { sealed, keyBundle, keyBundleHash, savedAt: Math.floor(Date.now() / 1000) };
  await idbPut("keys", vaultId(deployment, address), stored);
  return stored;
}

/** The key set, opened with the wallet's key-backup signature (KeyBackupError when it does not open). */
export function openStoredKeys(stored: StoredKeySet, deployment: Deployment, address: string, signature: string): KeySet {
  const domain = keyBackupDomain(deployment.chainId, deployment.contractAddress);
  const { secretKey } = openKeyBackup(stored.sealed, { patient: address, domain, signature });
  return { secretKey, keyBundle: stored.keyBundle };
}

export function forgetStoredKeys(deployment: Deployment, address: string): Promise<undefined> {
  return idbDelete("keys", vaultId(deployment, address));
}
