import type { AppConfig } from "../../../../../protocol/app-config.js";
import type { BlobClient } from "../../../../../protocol/blob-client.js";
import type { KeySet } from "../../../../../protocol/fhe/engine.js";
import { keyBackupDomain, signKeyBackup } from "../../../../../protocol/key-backup.js";
import { remotePatientCrypto } from "../../../../crypto/remote.js";
import type { PatientCrypto } from "../../../../crypto/patient-crypto.js";
import { PatientClient } from "../../../../patient-client.js";
import type { AppWorker } from "../../app/context.js";
import { storeKeys, type StoredKeySet } from "./key-vault.js";
import type { SessionSigner } from "./session-signer.js";

export interface OpenedKeys {
  client: PatientClient;
  crypto: PatientCrypto;
  stored: StoredKeySet;
  /** The wallet's key-backup signature: the key of everything this session keeps on the device. */
  signature: string;
}

/** The wallet's key-backup signature for this deployment (asked once per session: SessionSigner keeps it). */
export function backupSignature(signer: SessionSigner, config: AppConfig): Promise<string> {
  return signKeyBackup(signer, keyBackupDomain(config.chainId, config.contractAddress));
}

/**
 * Opens `keys` in the FHE worker and makes the patient's client on them. The page's copy of the secret key is
 * overwritten once the worker holds its own (structured clone copied it); with `seal`, the worker first seals it
 * for this device's vault (IndexedDB).
 */
export async function openKeys(options: {
  worker: AppWorker;
  keys: KeySet;
  signer: SessionSigner;
  config: AppConfig;
  blobs: BlobClient;
  address: string;
  signature: string;
  stored?: StoredKeySet;
}): Promise<OpenedKeys> {
  const { worker, keys, signer, config, blobs, address, signature } = options;
  let crypto: PatientCrypto | undefined;
  try {
    crypto = await remotePatientCrypto(worker, keys);
    keys.secretKey.fill(0);
    let stored = options.stored;
    if (!stored) {
      const sealed = await crypto.sealKeyBackup({ signature, chainId: String(config.chainId), verifyingContract: keyBackupDomain(config.chainId, config.contractAddress).verifyingContract });
      stored = await storeKeys(config, address, sealed, keys.keyBundle);
    }
    const client = new PatientClient({
      crypto,
      signer,
      contractAddress: config.contractAddress,
      blobs,
      rpcUrl: config.rpcUrl,
      chainId: BigInt(config.chainId),
      fromBlock: config.deploymentBlock,
      pollIntervalMs: 1000,
      // One wallet signature delegates uploads to a key this page holds: a prediction then asks for its transaction only.
      uploadSessions: signer.uploadSessions(address),
    });
    return { client, crypto, stored, signature };
  } catch (err) {
    keys.secretKey.fill(0);
    await crypto?.dispose().catch(() => undefined);
    throw err;
  }
}
