import { CkksEngine, type KeySet } from "../../protocol/fhe/engine.js";
import type { ResultStage } from "../../protocol/fhe/headers.js";
import type { Layout } from "../../protocol/fhe/layouts.js";
import { DEFAULT_PARAMETER_SET, type ParameterSetName } from "../../protocol/fhe/params.js";
import { CipherCrypto } from "./cipher-crypto.js";
import { keyInfoOf, type DecryptedResult, type KeyBackupSealRequest, type KeyInfo } from "./patient-crypto.js";

/**
 * The worker's side of the patient's cryptography, for a browser that keeps SEAL off the page's thread. The app's
 * worker entry exposes it over the worker's message port (with comlink: `expose(createCryptoWorkerHost())`) and the
 * page wraps the port and hands it to `remotePatientCrypto` (./remote.ts). Every argument and answer is
 * structured-clonable (byte arrays, numbers, strings, plain objects), so any message-port RPC carries it.
 *
 * One key set is open at a time (a page serves one patient); SEAL contexts are made once per parameter set and kept.
 */
export interface CryptoWorkerHost {
  /** A fresh key set for `patient` (the page stores it: the secret key must outlive the worker). */
  generateKeys(request: { patient: string; parameterSet?: ParameterSetName; maxValues?: number; sigmoid?: boolean }): Promise<KeySet>;
  /** Opens `keys` for the calls below, closing any key set opened before; answers what the key set is. */
  open(keys: KeySet): Promise<KeyInfo>;
  encryptTuple(values: readonly number[], stage?: ResultStage): Promise<Uint8Array>;
  encryptRecords(layout: Layout, tuples: readonly (readonly number[])[], round?: number, stage?: ResultStage): Promise<Uint8Array>;
  decrypt(result: Uint8Array): Promise<DecryptedResult>;
  sealKeyBackup(request: KeyBackupSealRequest): Promise<Uint8Array>;
  /** Frees the open key set; with `engines`, the SEAL contexts too (the worker is about to end). */
  close(options?: { engines?: boolean }): Promise<void>;
}

export function createCryptoWorkerHost(): CryptoWorkerHost {
  const engines = new Map<ParameterSetName, Promise<CkksEngine>>();
  let session: CipherCrypto | undefined;

  const engineFor = (name: ParameterSetName): Promise<CkksEngine> => {
    let engine = engines.get(name);
    if (!engine) {
      engine = CkksEngine.create(name);
      engine.catch(() => engines.delete(name));
      engines.set(name, engine);
    }
    return engine;
  };
  const current = (): CipherCrypto => {
    if (!session) throw new Error("no key set is open in the crypto worker: open(keys) first");
    return session;
  };

  return {
    async generateKeys({ patient, parameterSet = DEFAULT_PARAMETER_SET, maxValues, sigmoid }) {
      return (await engineFor(parameterSet)).generateKeySet({ patient, maxValues, sigmoid });
    },
    async open(keys) {
      const next = new CipherCrypto(await engineFor(keyInfoOf(keys.keyBundle).parameterSet), keys);
      await session?.dispose();
      session = next;
      return { parameterSet: next.parameterSet, keyBundleHash: next.keyBundleHash, owner: next.owner };
    },
    encryptTuple: async (values, stage) => current().encryptTuple(values, stage === undefined ? {} : { stage }),
    encryptRecords: async (layout, tuples, round, stage) =>
      current().encryptRecords(layout, tuples, { ...(round === undefined ? {} : { round }), ...(stage === undefined ? {} : { stage }) }),
    decrypt: async (result) => current().decrypt(result),
    sealKeyBackup: async (request) => current().sealKeyBackup(request),
    async close(options = {}) {
      await session?.dispose();
      session = undefined;
      if (!options.engines) return;
      const all = [...engines.values()];
      engines.clear();
      for (const engine of await Promise.allSettled(all)) if (engine.status === "fulfilled") engine.value.dispose();
    },
  };
}
