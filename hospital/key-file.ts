import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import type { HospitalKeyPair } from "../protocol/result-share.js";
import { SHARE_SCHEME } from "../protocol/result-share.js";

/**
 * A hospital's share-key file: the X25519 key pair patients seal shared results to. The secret key never leaves
 * this file (mode 0600); the public key is what governance registers on-chain (`registerHospital`) or the hospital
 * itself publishes (`setHospitalKey`). Governance may read the public half from the file (`--key-file`).
 */
export const DEFAULT_HOSPITAL_KEY_FILE = ".pmhe/hospital-share-key.json";

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const KeyFileSchema = z.strictObject({
  kind: z.literal("pmhe-hospital-share-key"),
  scheme: z.literal(SHARE_SCHEME),
  publicKey: hex32,
  secretKey: hex32.optional(),
  /** The hospital wallet this pair was derived from (local test accounts only), when it was. */
  derivedFrom: z.string().optional(),
  createdAt: z.string(),
});
export type HospitalKeyFile = z.infer<typeof KeyFileSchema>;

export class KeyFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyFileError";
  }
}

/** Writes the pair to `file` (mode 0600, its directory 0700); refuses to replace an existing file unless `overwrite`. */
export async function writeHospitalKeyFile(file: string, pair: HospitalKeyPair, options: { overwrite?: boolean; derivedFrom?: string } = {}): Promise<HospitalKeyFile> {
  const document: HospitalKeyFile = {
    kind: "pmhe-hospital-share-key",
    scheme: SHARE_SCHEME,
    publicKey: pair.publicKey.toLowerCase(),
    secretKey: `0x${bytesToHex(pair.secretKey)}`,
    ...(options.derivedFrom ? { derivedFrom: options.derivedFrom } : {}),
    createdAt: new Date().toISOString(),
  };
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KeyFileError(`${file} is not a hospital key file (not JSON)`, { cause: err });
  }
  const parsed = KeyFileSchema.safeParse(value);
  if (!parsed.success) throw new KeyFileError(`${file} is not a hospital key file:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The public key of a key file (all governance needs; a file holding only `publicKey` will do). */
export async function readHospitalPublicKey(file: string): Promise<`0x${string}`> {
  return (await readDocument(file)).publicKey as `0x${string}`;
}

/** The key pair of a key file; checks that the public key is the secret key's. */
export async function readHospitalKeyPair(file: string): Promise<HospitalKeyPair & { file: HospitalKeyFile }> {
  const document = await readDocument(file);
  if (!document.secretKey) throw new KeyFileError(`${file} holds only a public key; the hospital's own key file has the secret key too`);
  const secretKey = hexToBytes(document.secretKey.slice(2));
  const publicKey = `0x${bytesToHex(x25519.getPublicKey(secretKey))}` as const;
  if (publicKey !== document.publicKey) throw new KeyFileError(`${file} is inconsistent: its public key is not its secret key's`);
  return { secretKey, publicKey, file: document };
}
