import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, randomBytes } from "@noble/hashes/utils.js";
import { getAddress, getBytes, Signature, verifyTypedData, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";
import { z } from "zod";
import { canonicalJson } from "./canonical-json.js";
import { decodeEnvelope, encodeEnvelope, ENVELOPE_PREFIX_BYTES, EnvelopeError, type EnvelopeErrorReason } from "./envelope.js";
import { PARAMETER_SET_NAMES, parameterSet } from "./fhe/params.js";
import { maxSerializedBytes, sealSizeLimits } from "./fhe/serialized.js";
import type { Hash } from "./hash.js";

/**
 * A backup of the patient's CKKS secret key that only the same wallet opens again, on any device.
 *
 * The key: the wallet signs a fixed EIP-712 message, `KeyBackup { string purpose; address patient }` with
 * `purpose = KEY_BACKUP_PURPOSE`, in the domain `{ name: "PMHE Key Backup", version: "1", chainId,
 * verifyingContract: <PMHE> }`. Wallets sign typed data deterministically (RFC 6979 nonces), so the same wallet
 * gives the same 65 bytes on every device. HKDF-SHA256 over those bytes (r || s || v, v as 27/28), with salt
 * KEY_BACKUP_HKDF_SALT and info KEY_BACKUP_HKDF_INFO (both UTF-8), gives a 32-byte AES-256-GCM key.
 *
 * The blob: a PMHE envelope of kind "key-backup"; header `{ scheme, patient, keyBundle, chainId, verifyingContract,
 * nonce }` (canonical JSON, the AES-GCM associated data, so nothing in it can be changed); one section "ciphertext" =
 * AES-256-GCM(secret key bytes as the engine serialises them). The blob store keeps it public: without the
 * wallet's signature it is ciphertext, and the signature is the secret. Browser-safe (noble libraries, no node:).
 *
 * Whoever obtains that signature can open the backup, so the purpose string, which the wallet shows, says so: the
 * patient must sign it only in the PMHE app.
 */

export const KEY_BACKUP_SCHEME = "eip712-hkdf-sha256-aes256gcm/1";
export const KEY_BACKUP_DOMAIN_NAME = "PMHE Key Backup";
export const KEY_BACKUP_DOMAIN_VERSION = "1";
/** What the wallet shows the patient when asked to sign; fixed, since the key derives from the signature of it. */
export const KEY_BACKUP_PURPOSE =
  "Unlock my PMHE secret-key backup. Sign this only in the PMHE app: anyone holding this signature can open the backup.";
/** HKDF-SHA256 salt and info (UTF-8): fixed, so the same signature always gives the same key. */
export const KEY_BACKUP_HKDF_SALT = "PMHE Key Backup/1 salt";
export const KEY_BACKUP_HKDF_INFO = "PMHE Key Backup/1 AES-256-GCM key for the CKKS secret key";

export const KEY_BACKUP_TYPES: Record<string, TypedDataField[]> = {
  KeyBackup: [
    { name: "purpose", type: "string" },
    { name: "patient", type: "address" },
  ],
};

/** The response header of `GET /key-backups/:address` that names the backup's content hash. */
export const KEY_BACKUP_HASH_HEADER = "x-pmhe-blob-hash";

/** Header bytes a backup may spend (its fields take about 350). */
const MAX_KEY_BACKUP_HEADER_BYTES = 1_024;
const GCM_TAG_BYTES = 16;

/** The largest secret key a parameter set serialises to, and so the largest backup blob: a few hundred KB. */
export const MAX_KEY_BACKUP_BYTES =
  ENVELOPE_PREFIX_BYTES +
  MAX_KEY_BACKUP_HEADER_BYTES +
  GCM_TAG_BYTES +
  Math.max(
    ...PARAMETER_SET_NAMES.map((name) => {
      const params = parameterSet(name);
      return maxSerializedBytes(sealSizeLimits(params.polyModulusDegree, params.coeffModulusBits.length).secretKey);
    }),
  );

/** Why a backup cannot be made or opened; `message` is for a person and says what to do. */
export type KeyBackupErrorCode = "no_backup" | "wrong_wallet" | "wrong_deployment" | "does_not_open" | "not_a_backup" | "bad_signature" | "bundle_missing";

export class KeyBackupError extends Error {
  constructor(readonly code: KeyBackupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyBackupError";
  }
}

/** The EIP-712 domain of key backups: one per chain and PMHE deployment. */
export interface KeyBackupDomain {
  name: typeof KEY_BACKUP_DOMAIN_NAME;
  version: typeof KEY_BACKUP_DOMAIN_VERSION;
  chainId: bigint;
  verifyingContract: string;
}

export function keyBackupDomain(chainId: bigint | number, verifyingContract: string): KeyBackupDomain {
  return { name: KEY_BACKUP_DOMAIN_NAME, version: KEY_BACKUP_DOMAIN_VERSION, chainId: BigInt(chainId), verifyingContract: getAddress(verifyingContract) };
}

export function keyBackupMessage(patient: string): { purpose: string; patient: string } {
  return { purpose: KEY_BACKUP_PURPOSE, patient: getAddress(patient) };
}

/**
 * The whole typed-data document, as `eth_signTypedData_v4` takes it (a web app that talks EIP-1193 directly sends
 * `JSON.stringify` of this, with the chain id as a number).
 */
export function keyBackupTypedData(domain: KeyBackupDomain, patient: string) {
  return {
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      ...KEY_BACKUP_TYPES,
    },
    primaryType: "KeyBackup" as const,
    domain: { name: domain.name, version: domain.version, chainId: Number(domain.chainId), verifyingContract: domain.verifyingContract },
    message: keyBackupMessage(patient),
  };
}

function asTypedDataDomain(domain: KeyBackupDomain): TypedDataDomain {
  return { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract };
}

/**
 * Checks that `signature` is `patient`'s signature of the backup message in `domain`, and returns it in the one form
 * the key is derived from (65 bytes, v as 27/28): wallets that write v as 0/1 give the same key.
 */
export function checkKeyBackupSignature(domain: KeyBackupDomain, patient: string, signature: string): string {
  let signer: string;
  let canonical: string;
  try {
    canonical = Signature.from(signature).serialized;
    signer = verifyTypedData(asTypedDataDomain(domain), KEY_BACKUP_TYPES, keyBackupMessage(patient), canonical);
  } catch (err) {
    throw new KeyBackupError("bad_signature", "the wallet's answer is not a signature of the key-backup message; try again, or use another wallet app", { cause: err });
  }
  if (signer !== getAddress(patient)) {
    throw new KeyBackupError("bad_signature", `the key-backup message was signed by ${signer}, not by ${getAddress(patient)}; sign with the patient's own wallet`);
  }
  return canonical;
}

/** Asks the wallet for the backup signature and checks it (see `checkKeyBackupSignature`). */
export async function signKeyBackup(signer: Signer, domain: KeyBackupDomain): Promise<string> {
  const patient = await signer.getAddress();
  const signature = await signer.signTypedData(asTypedDataDomain(domain), KEY_BACKUP_TYPES, keyBackupMessage(patient));
  return checkKeyBackupSignature(domain, patient, signature);
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The AES-256-GCM key of a backup, from the wallet's 65-byte signature. */
export function backupKeyFromSignature(signature: string): Uint8Array {
  const bytes = getBytes(Signature.from(signature).serialized);
  return hkdf(sha256, bytes, utf8(KEY_BACKUP_HKDF_SALT), utf8(KEY_BACKUP_HKDF_INFO), 32);
}

const address = z.string().regex(/^0x[0-9a-f]{40}$/);
const KeyBackupHeaderSchema = z.strictObject({
  scheme: z.literal(KEY_BACKUP_SCHEME),
  /** The patient whose wallet made (and alone opens) the backup; the blob store takes it only from that wallet. */
  patient: address,
  /** `contentHash` of the key bundle made with this secret key: what a restore fetches beside it. */
  keyBundle: z.string().regex(/^0x[0-9a-f]{64}$/),
  /** The deployment whose domain the signature was made in, so a restore knows what to ask the wallet to sign. */
  chainId: z.string().regex(/^[1-9][0-9]{0,30}$/),
  verifyingContract: address,
  nonce: z.string().regex(/^0x[0-9a-f]{24}$/),
});
export type KeyBackupHeader = z.infer<typeof KeyBackupHeaderSchema>;

export interface KeyBackupInput {
  /** The engine's serialised secret key: encrypted here, never sent anywhere in the clear. */
  secretKey: Uint8Array;
  /** `contentHash` of the key bundle made with it. */
  keyBundleHash: Hash;
  patient: string;
}

/**
 * Seals a secret key for `input.patient` under the key derived from `signature` (made by `signKeyBackup`, or
 * checked with `checkKeyBackupSignature`). A fresh random nonce each time: the key is the same for every backup of
 * this wallet and deployment.
 */
export function sealKeyBackup(input: KeyBackupInput, domain: KeyBackupDomain, signature: string): Uint8Array {
  const canonical = checkKeyBackupSignature(domain, input.patient, signature);
  if (!/^0x[0-9a-f]{64}$/.test(input.keyBundleHash)) throw new KeyBackupError("not_a_backup", "the key bundle hash must be 0x and 64 lower-case hex digits");
  if (!(input.secretKey instanceof Uint8Array) || input.secretKey.length === 0) throw new KeyBackupError("not_a_backup", "there is no secret key to back up");
  const nonce = randomBytes(12);
  const header: KeyBackupHeader = {
    scheme: KEY_BACKUP_SCHEME,
    patient: getAddress(input.patient).toLowerCase(),
    keyBundle: input.keyBundleHash,
    chainId: domain.chainId.toString(),
    verifyingContract: domain.verifyingContract.toLowerCase(),
    nonce: `0x${bytesToHex(nonce)}`,
  };
  const ciphertext = gcm(backupKeyFromSignature(canonical), nonce, utf8(canonicalJson(header))).encrypt(input.secretKey);
  const bytes = encodeEnvelope("key-backup", header, [["ciphertext", ciphertext]]);
  if (bytes.length > MAX_KEY_BACKUP_BYTES) throw new KeyBackupError("not_a_backup", `the secret key is ${input.secretKey.length} bytes, more than any parameter set's`);
  return bytes;
}

export type KeyBackupCheck = { ok: true; header: KeyBackupHeader } | { ok: false; code: string; message: string };

/** The upload problem name (blob-validation.ts's vocabulary) of a container problem. */
function envelopeCode(reason: EnvelopeErrorReason): string {
  if (reason === "non-canonical") return "non_canonical_header";
  if (reason === "encoding") return "not_an_envelope";
  return reason.replaceAll("-", "_");
}

/**
 * Checks a backup blob without opening it (what the blob store does at upload): size, container, header, and exactly
 * one "ciphertext" section of a size a secret key can have. Never throws for bad bytes.
 */
export function checkKeyBackupBlob(bytes: Uint8Array): KeyBackupCheck {
  if (bytes.length > MAX_KEY_BACKUP_BYTES) return { ok: false, code: "too_large", message: `${bytes.length} bytes exceed the ${MAX_KEY_BACKUP_BYTES} a key backup can take` };
  let header: Record<string, unknown>;
  let sections: Map<string, Uint8Array>;
  try {
    ({ header, sections } = decodeEnvelope(bytes, "key-backup"));
  } catch (err) {
    if (err instanceof EnvelopeError) return { ok: false, code: envelopeCode(err.reason), message: `not a key backup: ${err.message}` };
    throw err;
  }
  const parsed = KeyBackupHeaderSchema.safeParse(header);
  if (!parsed.success) return { ok: false, code: "bad_header", message: `bad key-backup header: ${z.prettifyError(parsed.error)}` };
  const names = [...sections.keys()];
  const ciphertext = sections.get("ciphertext");
  if (names.length !== 1 || !ciphertext || ciphertext.length <= GCM_TAG_BYTES) {
    return { ok: false, code: "bad_sections", message: `a key backup holds one non-empty section, "ciphertext"; this one has ${names.join(", ") || "none"}` };
  }
  return { ok: true, header: parsed.data };
}

/** A backup's header, or KeyBackupError `not_a_backup`. */
export function readKeyBackupHeader(bytes: Uint8Array): KeyBackupHeader {
  const checked = checkKeyBackupBlob(bytes);
  if (!checked.ok) throw new KeyBackupError("not_a_backup", `this is not a PMHE key backup (${checked.message}); fetch it again from the blob store`);
  return checked.header;
}

/**
 * Opens a backup with `patient`'s signature in `domain` and returns the secret key. Refuses, before deriving
 * anything, a backup that names another patient ("made with another wallet") or another deployment, and a
 * ciphertext the key does not open (altered, or a wallet whose signatures are not deterministic).
 */
export function openKeyBackup(bytes: Uint8Array, opener: { patient: string; domain: KeyBackupDomain; signature: string }): { header: KeyBackupHeader; secretKey: Uint8Array } {
  const header = readKeyBackupHeader(bytes);
  checkBackupFor(header, opener.patient, opener.domain);
  const canonical = checkKeyBackupSignature(opener.domain, opener.patient, opener.signature);
  const ciphertext = decodeEnvelope(bytes, "key-backup").sections.get("ciphertext")!;
  try {
    const secretKey = gcm(backupKeyFromSignature(canonical), hexToBytes(header.nonce.slice(2)), utf8(canonicalJson(header))).decrypt(ciphertext);
    return { header, secretKey };
  } catch (err) {
    throw new KeyBackupError(
      "does_not_open",
      "this backup does not open with this wallet's signature: it was altered, or made by a wallet app that signs differently; " +
        "make a new backup from a device that still holds the key",
      { cause: err },
    );
  }
}

/**
 * Refuses a backup of another patient ("made with another wallet") or another deployment: checked before the
 * wallet is asked to sign anything, since a signature is all it takes to open a backup.
 */
export function checkBackupFor(header: KeyBackupHeader, patient: string, domain: KeyBackupDomain): void {
  const wallet = getAddress(patient);
  if (header.patient !== wallet.toLowerCase()) {
    throw new KeyBackupError("wrong_wallet", `this backup was made with another wallet (${getAddress(header.patient)}), not ${wallet}; restore it with the wallet that made it`);
  }
  if (header.chainId !== domain.chainId.toString() || header.verifyingContract !== domain.verifyingContract.toLowerCase()) {
    throw new KeyBackupError(
      "wrong_deployment",
      `this backup belongs to the PMHE deployment ${getAddress(header.verifyingContract)} on chain ${header.chainId}, not ${domain.verifyingContract} on chain ${domain.chainId}; ` +
        "connect to that deployment to restore it",
    );
  }
}
