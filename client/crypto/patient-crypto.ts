import type { RecordEncryptionOptions } from "../../protocol/fhe/engine.js";
import type { ResultStage } from "../../protocol/fhe/headers.js";
import { readKeyBundleHeader } from "../../protocol/fhe/headers.js";
import type { Layout } from "../../protocol/fhe/layouts.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import { contentHash, type Hash } from "../../protocol/hash.js";

/**
 * The patient's cryptography as the patient core sees it: asynchronous, so that it may run on the calling thread
 * (Node: ./local.ts) or in a Web Worker behind a message port (browser: ./worker-host.ts inside the worker,
 * ./remote.ts on the page). Whatever crosses it is structured-clonable: byte arrays, numbers, strings, plain objects.
 * The secret key stays behind it: nothing here returns it.
 */
export interface PatientCrypto extends KeyInfo {
  /** The public key bundle (uploaded and registered as is). */
  readonly keyBundle: Uint8Array;
  /**
   * A standardised tuple as a single-record record blob, naming this patient and key bundle. `stage`: the stage of
   * the job's result (`finalResultStage` of the model): a "linear" record keeps only the primes a linear stage
   * needs, half the upload at N=8192; without it the record keeps every prime.
   */
  encryptTuple(values: readonly number[], options?: RecordEncryptionOptions): Promise<Uint8Array>;
  /** One patient's tuples as one record blob of `layout` (see `chooseLayout`); `round` for multi-round models. */
  encryptRecords(layout: Layout, tuples: readonly (readonly number[])[], options?: { round?: number } & RecordEncryptionOptions): Promise<Uint8Array>;
  /** A result blob of any layout and stage, decrypted: one value per record (T, or p for "sigmoid-poly"). */
  decrypt(result: Uint8Array): Promise<DecryptedResult>;
  /**
   * The secret key sealed as a key backup (protocol/key-backup.ts) under the key derived from `request.signature`,
   * which the caller has checked is this patient's: the secret key is encrypted where it lives.
   */
  sealKeyBackup(request: KeyBackupSealRequest): Promise<Uint8Array>;
  /** Frees the secret key (and what was loaded for it). */
  dispose(): Promise<void>;
}

/** What a key set is, read from its public bundle without SEAL. */
export interface KeyInfo {
  /** The CKKS parameter set the keys were made for. */
  readonly parameterSet: ParameterSetName;
  /** `contentHash(keyBundle)`: what is registered on-chain and written into every record. */
  readonly keyBundleHash: Hash;
  /** The patient (lower-case address) the bundle names: the only wallet whose uploads of these records are taken. */
  readonly owner: string;
}

export interface DecryptedResult {
  layout: Layout;
  stage: ResultStage;
  /** One per record, in record order. */
  values: number[];
}

/** The deployment and the wallet's checked backup signature (protocol/key-backup.ts); strings, to cross a port as is. */
export interface KeyBackupSealRequest {
  signature: string;
  chainId: string;
  verifyingContract: string;
}

/** The key set's description, from its bundle alone (no SEAL): header and hash. */
export function keyInfoOf(keyBundle: Uint8Array): KeyInfo {
  const header = readKeyBundleHeader(keyBundle);
  return { parameterSet: header.parameterSet, keyBundleHash: contentHash(keyBundle), owner: header.patient };
}
