import type { CkksEngine, KeySet, PatientCipher, RecordEncryptionOptions } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import type { Layout } from "../../protocol/fhe/layouts.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import type { Hash } from "../../protocol/hash.js";
import { keyBackupDomain, sealKeyBackup } from "../../protocol/key-backup.js";
import { keyInfoOf, type DecryptedResult, type KeyBackupSealRequest, type PatientCrypto } from "./patient-crypto.js";

/**
 * PatientCrypto over an engine already loaded on this thread: the one implementation, used in-process by Node
 * (./local.ts) and inside the browser's worker (./worker-host.ts). It only calls the engine instance it is given
 * (the engine module is imported for its types alone), so importing it loads no SEAL.
 */
export class CipherCrypto implements PatientCrypto {
  readonly parameterSet: ParameterSetName;
  readonly keyBundleHash: Hash;
  readonly owner: string;
  readonly keyBundle: Uint8Array;
  private readonly cipher: PatientCipher;
  private readonly secretKey: Uint8Array;

  constructor(engine: CkksEngine, keys: KeySet) {
    const info = keyInfoOf(keys.keyBundle);
    if (info.parameterSet !== engine.parameterSetName) {
      throw new FheError("ParameterMismatch", `the key set is for ${info.parameterSet}, the engine for ${engine.parameterSetName}`);
    }
    ({ parameterSet: this.parameterSet, keyBundleHash: this.keyBundleHash, owner: this.owner } = info);
    this.keyBundle = keys.keyBundle;
    // Every record the cipher encrypts names the bundle's patient and the bundle's hash.
    this.cipher = engine.openSecretKey(keys.secretKey, { patient: info.owner, keyBundleHash: info.keyBundleHash });
    this.secretKey = keys.secretKey;
  }

  async encryptTuple(values: readonly number[], options: RecordEncryptionOptions = {}): Promise<Uint8Array> {
    return this.cipher.encryptTuple(values, options);
  }

  async encryptRecords(layout: Layout, tuples: readonly (readonly number[])[], options: { round?: number } & RecordEncryptionOptions = {}): Promise<Uint8Array> {
    return this.cipher.encryptRecords(layout, tuples, options);
  }

  async decrypt(result: Uint8Array): Promise<DecryptedResult> {
    const { layout, stage, values } = this.cipher.decryptBatch(result);
    return { layout, stage, values };
  }

  async sealKeyBackup(request: KeyBackupSealRequest): Promise<Uint8Array> {
    const domain = keyBackupDomain(BigInt(request.chainId), request.verifyingContract);
    return sealKeyBackup({ secretKey: this.secretKey, keyBundleHash: this.keyBundleHash, patient: this.owner }, domain, request.signature);
  }

  /** Synchronous up to its end (no await): a caller that does not wait still has the key freed when it returns. */
  async dispose(): Promise<void> {
    this.cipher.dispose();
  }
}
