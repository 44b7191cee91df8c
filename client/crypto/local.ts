import { CkksEngine, type KeySet } from "../../protocol/fhe/engine.js";
import { DEFAULT_PARAMETER_SET, type ParameterSetName } from "../../protocol/fhe/params.js";
import { CipherCrypto } from "./cipher-crypto.js";
import { keyInfoOf, type PatientCrypto } from "./patient-crypto.js";

/**
 * The patient's cryptography on the calling thread (Node: the CLI, demo, load and soak scripts, tests). SEAL runs
 * here, synchronously inside each call; a browser uses ./worker-host.ts and ./remote.ts instead, which give the same
 * PatientCrypto without blocking the page.
 */

/**
 * Opens `keys` in-process. With `engine` the caller's engine is used (and stays the caller's to dispose); without,
 * one is made for the bundle's parameter set and disposed with the crypto.
 */
export async function openLocalCrypto(keys: KeySet, options: { engine?: CkksEngine } = {}): Promise<PatientCrypto> {
  if (options.engine) return new CipherCrypto(options.engine, keys);
  const engine = await CkksEngine.create(keyInfoOf(keys.keyBundle).parameterSet);
  try {
    return new EngineOwningCrypto(engine, keys);
  } catch (err) {
    engine.dispose();
    throw err;
  }
}

/** A CipherCrypto that made its engine, and frees it with the key. */
class EngineOwningCrypto extends CipherCrypto {
  constructor(private readonly engine: CkksEngine, keys: KeySet) {
    super(engine, keys);
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    this.engine.dispose();
  }
}

/** A fresh key set for `patient` (the rotation layouts' bundle, as `keygen` makes it). */
export async function generateLocalKeySet(patient: string, parameterSet: ParameterSetName = DEFAULT_PARAMETER_SET): Promise<KeySet> {
  const engine = await CkksEngine.create(parameterSet);
  try {
    return engine.generateKeySet({ patient });
  } finally {
    engine.dispose();
  }
}
