import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  hospitalKeyFileDocument,
  hospitalKeyPairOf,
  KeyFileError,
  parseHospitalKeyFile,
  type HospitalKeyFile,
} from "../protocol/hospital-key-file.js";
import type { HospitalKeyPair } from "../protocol/result-share.js";

/**
 * A hospital's share-key file on disk: the X25519 key pair patients seal shared results to. The secret key never
 * leaves this file (mode 0600); the public key is what governance registers on-chain (`registerHospital`) or the
 * hospital itself publishes (`setHospitalKey`). Governance may read the public half from the file (`--key-file`).
 * The format is `protocol/hospital-key-file.ts` (the web app reads the same files).
 */
export const DEFAULT_HOSPITAL_KEY_FILE = ".pmhe/hospital-share-key.json";

export { KeyFileError, type HospitalKeyFile };

/** Writes the pair to `file` (mode 0600, its directory 0700); refuses to replace an existing file unless `overwrite`. */
export async function writeHospitalKeyFile(file: string, pair: HospitalKeyPair, options: { overwrite?: boolean; derivedFrom?: string } = {}): Promise<HospitalKeyFile> {
  const document = hospitalKeyFileDocument(pair, options.derivedFrom ? { derivedFrom: options.derivedFrom } : {});
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600, flag: options.overwrite ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new KeyFileError(`${file} already holds a hospital key; refusing to overwrite it (--force replaces it: shares sealed to the old key then no longer open)`);
    }
    throw err;
  }
  // An existing file written with "w" keeps its old mode.
  await chmod(file, 0o600);
  return document;
}

async function readDocument(file: string): Promise<HospitalKeyFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new KeyFileError(`no hospital key file at ${file}`, { cause: err });
    throw err;
  }
  return parseHospitalKeyFile(text, file);
}

/** The public key of a key file (all governance needs; a file holding only `publicKey` will do). */
export async function readHospitalPublicKey(file: string): Promise<`0x${string}`> {
  return (await readDocument(file)).publicKey as `0x${string}`;
}

/** The key pair of a key file; checks that the public key is the secret key's. */
export async function readHospitalKeyPair(file: string): Promise<HospitalKeyPair & { file: HospitalKeyFile }> {
  const document = await readDocument(file);
  return { ...hospitalKeyPairOf(document, file), file: document };
}
