import type { KeySet } from "../../protocol/fhe/engine.js";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";
import { keyInfoOf, type PatientCrypto } from "./patient-crypto.js";
import type { CryptoWorkerHost } from "./worker-host.js";

/**
 * The page's side of a crypto worker: a PatientCrypto whose every call goes to a CryptoWorkerHost over a message
 * port. `host` is that port, wrapped: comlink's `wrap<CryptoWorkerHost>(worker)` fits as is. What the key set is
 * (hash, owner, parameter set) is read here from the public bundle, without SEAL, so the page never loads it.
 */
export async function remotePatientCrypto(host: CryptoWorkerHost, keys: KeySet): Promise<PatientCrypto> {
  const info = keyInfoOf(keys.keyBundle);
  const opened = await call(() => host.open({ secretKey: keys.secretKey, keyBundle: keys.keyBundle }));
  if (opened.keyBundleHash !== info.keyBundleHash || opened.owner !== info.owner) {
    throw new Error(`the crypto worker opened key bundle ${opened.keyBundleHash} of ${opened.owner}, not ${info.keyBundleHash} of ${info.owner}`);
  }
  return {
    ...info,
    keyBundle: keys.keyBundle,
    encryptTuple: (values, options = {}) => call(() => host.encryptTuple([...values], options.stage)),
    encryptRecords: (layout, tuples, options = {}) => call(() => host.encryptRecords(layout, tuples.map((t) => [...t]), options.round, options.stage)),
    decrypt: (result) => call(() => host.decrypt(result)),
    sealKeyBackup: (request) => call(() => host.sealKeyBackup(request)),
    dispose: () => call(() => host.close()),
  };
}

const FHE_ERROR_CODES = [
  "MalformedKeyBundle",
  "MalformedRecord",
  "MalformedResult",
  "MalformedSecretKey",
  "ParameterMismatch",
  "EvaluationError",
] as const satisfies readonly FheErrorCode[];

/**
 * A message port carries an error's name and message but not its class or fields: an FheError from the worker is
 * made one again here, so callers (and ErrorView) can tell it by `instanceof` and `code`.
 */
export function reviveCryptoError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof FheError || err.name !== "FheError") return err;
  const match = /^(\w+): ([\s\S]*)$/.exec(err.message);
  const code = FHE_ERROR_CODES.find((c) => c === match?.[1]);
  return code ? new FheError(code, match![2]!, { cause: err }) : err;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw reviveCryptoError(err);
  }
}
