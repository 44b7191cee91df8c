import type { Signer } from "ethers";
import type { BlobClient, UploadAuth } from "../protocol/blob-client.js";
import { connectPmhe, revertErrorName } from "../protocol/chain.js";
import type { KeySet } from "../protocol/fhe/engine.js";
import { readKeyBundleHeader } from "../protocol/fhe/headers.js";
import { contentHash, type Hash } from "../protocol/hash.js";
import { checkBackupFor, KeyBackupError, keyBackupDomain, openKeyBackup, readKeyBackupHeader, signKeyBackup } from "../protocol/key-backup.js";
import { uploadDomain } from "../protocol/upload-auth.js";
import type { PatientCrypto } from "./crypto/patient-crypto.js";
import { KeyOwnerMismatchError } from "./errors.js";

/**
 * Backing up the CKKS secret key with the patient's wallet, and restoring it on another device with the same wallet
 * alone (protocol/key-backup.ts has the format). The wallet is asked for one signature each time; the secret key is
 * sealed where it lives (the PatientCrypto) and travels only as ciphertext.
 */

export interface KeyBackupReceipt {
  backupHash: Hash;
  bytes: number;
  keyBundleHash: Hash;
}

export interface RestoredKeys {
  keys: KeySet;
  keyBundleHash: Hash;
  backupHash: Hash;
  /** The restored bundle is the patient's current one on-chain (false: not registered, or rotated since). */
  current: boolean;
}

interface Deployment {
  signer: Signer;
  contractAddress: string;
  blobs: BlobClient;
}

async function chainIdOf(signer: Signer): Promise<bigint> {
  if (!signer.provider) throw new Error("the wallet needs a provider: connect it to the chain");
  return (await signer.provider.getNetwork()).chainId;
}

/** Seals the open key set's secret key under the wallet's backup signature and stores it as the patient's latest backup. */
export async function backUpKeys(options: Deployment & { crypto: PatientCrypto; /** Signs the upload instead of the wallet (an upload session). */ uploadAuth?: UploadAuth }): Promise<KeyBackupReceipt> {
  const { signer, contractAddress, blobs, crypto } = options;
  const patient = (await signer.getAddress()).toLowerCase();
  if (patient !== crypto.owner) throw new KeyOwnerMismatchError(crypto.owner, patient);
  const chainId = await chainIdOf(signer);
  const domain = keyBackupDomain(chainId, contractAddress);
  const signature = await signKeyBackup(signer, domain);
  const backup = await crypto.sealKeyBackup({ signature, chainId: chainId.toString(), verifyingContract: domain.verifyingContract });
  // What goes out must be a backup of this key set, for this patient: checked here, not trusted from the worker.
  const header = readKeyBackupHeader(backup);
  if (header.patient !== patient || header.keyBundle !== crypto.keyBundleHash) throw new Error("the sealed backup names another patient or key bundle; nothing was uploaded");
  const backupHash = await blobs.put(backup, options.uploadAuth ?? { signer, purpose: "key-backup", domain: uploadDomain(chainId, contractAddress) });
  return { backupHash, bytes: backup.length, keyBundleHash: crypto.keyBundleHash };
}

/**
 * The key set of the wallet's latest backup (or of `backup`, bytes got elsewhere), from the wallet alone: the backup
 * is fetched by the wallet's address, checked to be this wallet's and this deployment's before the wallet is asked to
 * sign, opened, and completed with its key bundle from the blob store (checked against the hash the backup names).
 */
export async function restoreKeys(options: Deployment & { backup?: Uint8Array }): Promise<RestoredKeys> {
  const { signer, contractAddress, blobs } = options;
  const patient = await signer.getAddress();
  const found = options.backup ? { bytes: options.backup, hash: contentHash(options.backup) } : await blobs.keyBackupOf(patient);
  if (!found) throw new KeyBackupError("no_backup", `no backup for this address (${patient}): make one on a device that holds your key set`);
  const domain = keyBackupDomain(await chainIdOf(signer), contractAddress);
  checkBackupFor(readKeyBackupHeader(found.bytes), patient, domain);
  const { header, secretKey } = openKeyBackup(found.bytes, { patient, domain, signature: await signKeyBackup(signer, domain) });
  const keyBundleHash = header.keyBundle as Hash;
  const keyBundle = await blobs.get(keyBundleHash);
  if (!keyBundle || contentHash(keyBundle) !== keyBundleHash) {
    throw new KeyBackupError(
      "bundle_missing",
      `the backup is of key bundle ${keyBundleHash}, which the blob store no longer holds (a bundle never registered is collected); ` +
        "the secret key alone cannot serve predictions: make a new key set and back it up",
    );
  }
  if (readKeyBundleHeader(keyBundle).patient !== patient.toLowerCase()) throw new KeyOwnerMismatchError(readKeyBundleHeader(keyBundle).patient, patient.toLowerCase());
  let current = false;
  try {
    const [onChain] = await connectPmhe(contractAddress, signer).currentKeyBundle(patient);
    current = onChain.toLowerCase() === keyBundleHash;
  } catch (err) {
    if (revertErrorName(err) !== "PatientNotRegistered") throw err;
  }
  return { keys: { secretKey, keyBundle }, keyBundleHash, backupHash: found.hash, current };
}
