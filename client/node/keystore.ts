import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KeySet } from "../../protocol/fhe/engine.js";

const SECRET_KEY_FILE = "secret-key.bin";
const KEY_BUNDLE_FILE = "key-bundle.bin";

export class KeystoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeystoreError";
  }
}

/**
 * The CLI's key store: a directory only its owner can read. The secret key is written here and nowhere else;
 * the key bundle beside it is public (it is uploaded as is).
 */
export async function writeKeySet(directory: string, keys: KeySet, options: { overwrite?: boolean } = {}): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  const flag = options.overwrite ? "w" : "wx";
  try {
    await writeFile(join(directory, SECRET_KEY_FILE), keys.secretKey, { mode: 0o600, flag });
    await writeFile(join(directory, KEY_BUNDLE_FILE), keys.keyBundle, { mode: 0o644, flag });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new KeystoreError(`${directory} already holds a key set; refusing to overwrite a secret key (--force replaces it, and the old one is lost)`);
    }
    throw err;
  }
}

export async function readKeySet(directory: string): Promise<KeySet> {
  try {
    const [secretKey, keyBundle] = await Promise.all([
      readFile(join(directory, SECRET_KEY_FILE)),
      readFile(join(directory, KEY_BUNDLE_FILE)),
    ]);
    return { secretKey: new Uint8Array(secretKey), keyBundle: new Uint8Array(keyBundle) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new KeystoreError(`no key set in ${directory}; create one with "keygen"`);
    }
    throw err;
  }
}
