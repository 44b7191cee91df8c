import { x25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import type { Hash } from "./hash.js";
import { SHARE_SCHEME, type HospitalKeyPair } from "./result-share.js";

/**
 * The format of a hospital's share-key file: the X25519 key pair patients seal shared results to. Written and read
 * from disk by the hospital's CLI (`hospital/key-file.ts`, mode 0600), read from a picked file by the web app's
 * hospital view (which keeps the secret key in the page's memory only). Browser-safe.
 */
export const HOSPITAL_KEY_FILE_KIND = "pmhe-hospital-share-key";

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
export const HospitalKeyFileSchema = z.strictObject({
  kind: z.literal(HOSPITAL_KEY_FILE_KIND),
  scheme: z.literal(SHARE_SCHEME),
  publicKey: hex32,
  secretKey: hex32.optional(),
  /** The hospital wallet this pair was derived from (local test accounts only), when it was. */
  derivedFrom: z.string().optional(),
  createdAt: z.string(),
});
export type HospitalKeyFile = z.infer<typeof HospitalKeyFileSchema>;

export class KeyFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyFileError";
  }
}

/** The document a key file holds for `pair` (its secret key included). */
export function hospitalKeyFileDocument(pair: HospitalKeyPair, options: { derivedFrom?: string; createdAt?: Date } = {}): HospitalKeyFile {
  return {
    kind: HOSPITAL_KEY_FILE_KIND,
    scheme: SHARE_SCHEME,
    publicKey: pair.publicKey.toLowerCase(),
    secretKey: `0x${bytesToHex(pair.secretKey)}`,
    ...(options.derivedFrom ? { derivedFrom: options.derivedFrom } : {}),
    createdAt: (options.createdAt ?? new Date()).toISOString(),
  };
}

/** Parses a key file's text; `where` names it in messages (a path, or a picked file's name). */
export function parseHospitalKeyFile(text: string, where: string): HospitalKeyFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KeyFileError(`${where} is not a hospital key file (not JSON)`, { cause: err });
  }
  const parsed = HospitalKeyFileSchema.safeParse(value);
  if (!parsed.success) throw new KeyFileError(`${where} is not a hospital key file:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The key pair of a parsed key file; checks that it holds a secret key and that the public key is that key's. */
export function hospitalKeyPairOf(document: HospitalKeyFile, where: string): HospitalKeyPair {
  if (!document.secretKey) throw new KeyFileError(`${where} holds only a public key; the hospital's own key file has the secret key too`);
  const secretKey = hexToBytes(document.secretKey.slice(2));
  const publicKey = `0x${bytesToHex(x25519.getPublicKey(secretKey))}` as Hash;
  if (publicKey !== document.publicKey) throw new KeyFileError(`${where} is inconsistent: its public key is not its secret key's`);
  return { secretKey, publicKey };
}
