import { getAddress, verifyTypedData, type Provider, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";
import type { Hash } from "./hash.js";

/**
 * Signed blob uploads and deletions. The uploader signs EIP-712 typed data naming the blob's hash, what the blob is
 * for and when the signature stops being valid; the store recovers the address and applies its policy (models only
 * from hospitals, results only from coprocessors, patient blobs only from the patient they name). A patient deletes
 * their own blob with a second typed message, `Delete`, in the same domain. One definition, shared by clients and
 * the server (browser-safe).
 */

export const UPLOAD_PURPOSES = ["key-bundle", "record", "model", "result", "result-share", "batch-manifest", "key-backup"] as const;
export type UploadPurpose = (typeof UPLOAD_PURPOSES)[number];

export function isUploadPurpose(value: unknown): value is UploadPurpose {
  return typeof value === "string" && (UPLOAD_PURPOSES as readonly string[]).includes(value);
}

/** The role an uploader must hold on the PMHE contract for each purpose; undefined means any signer. */
export const UPLOAD_ROLE: Record<UploadPurpose, "HOSPITAL_ROLE" | "COPROCESSOR_ROLE" | undefined> = {
  "key-bundle": undefined, // uploaded before the patient registers, so no on-chain identity to check yet
  record: undefined,
  model: "HOSPITAL_ROLE",
  result: "COPROCESSOR_ROLE",
  "result-share": undefined, // the share's header must name the signer as its patient
  "batch-manifest": undefined, // likewise
  "key-backup": undefined, // likewise; made before or after registering, like key bundles (protocol/key-backup.ts)
};

/**
 * Purposes whose blobs belong to the patient their header (or manifest) names: only that patient may upload them,
 * and only that patient may delete them. Models and results belong to no patient and cannot be deleted through the
 * API.
 */
export const PATIENT_PURPOSES = ["key-bundle", "record", "result-share", "batch-manifest", "key-backup"] as const satisfies readonly UploadPurpose[];
export type PatientPurpose = (typeof PATIENT_PURPOSES)[number];

export function isPatientPurpose(value: unknown): value is PatientPurpose {
  return typeof value === "string" && (PATIENT_PURPOSES as readonly string[]).includes(value);
}

export type UploadRole = NonNullable<(typeof UPLOAD_ROLE)[UploadPurpose]>;

export const UPLOAD_DOMAIN_NAME = "PMHE Blob Store";
export const UPLOAD_DOMAIN_VERSION = "1";

/** The EIP-712 domain: one per chain and PMHE deployment, so a signature cannot be replayed against another. */
export interface UploadDomain {
  name: typeof UPLOAD_DOMAIN_NAME;
  version: typeof UPLOAD_DOMAIN_VERSION;
  chainId: bigint;
  verifyingContract: string;
}

export const UPLOAD_TYPES: Record<string, TypedDataField[]> = {
  Upload: [
    { name: "blobHash", type: "bytes32" },
    { name: "purpose", type: "string" },
    { name: "expiresAt", type: "uint64" },
  ],
};

export interface UploadMessage {
  blobHash: Hash;
  purpose: UploadPurpose;
  /** Unix time in seconds after which the signature is refused. */
  expiresAt: number;
}

/**
 * A patient's request to delete one of their blobs. A type of its own, so no upload signature can be replayed as a
 * deletion (or the other way round), in the upload domain, so it is bound to this chain and deployment.
 */
export const DELETE_TYPES: Record<string, TypedDataField[]> = {
  Delete: [
    { name: "blobHash", type: "bytes32" },
    { name: "expiresAt", type: "uint64" },
  ],
};

export interface DeleteMessage {
  blobHash: Hash;
  /** Unix time in seconds after which the signature is refused. */
  expiresAt: number;
}

/**
 * A wallet's delegation of its upload and deletion signatures to a session key (an ephemeral secp256k1 key a page or
 * CLI makes and keeps in memory only), until `expiresAt`: one wallet signature per session instead of one per upload.
 * The store checks that the delegation recovers to the signer the request names and has not expired, that the
 * `Upload` (or `Delete`) signature recovers to `sessionKey`, and then treats the request as the delegating wallet's,
 * with every rule (purposes, owners, quotas, registration) applied to that wallet. Same domain as uploads.
 */
export const UPLOAD_SESSION_TYPES: Record<string, TypedDataField[]> = {
  UploadSession: [
    { name: "sessionKey", type: "address" },
    { name: "expiresAt", type: "uint64" },
  ],
};

export interface UploadSessionMessage {
  /** The session key's address (checksummed or lower case). */
  sessionKey: string;
  /** Unix time in seconds after which the delegation is refused. */
  expiresAt: number;
}

/** The longest a delegation may run, seconds ahead of the store's clock: the store refuses longer ones. */
export const MAX_UPLOAD_SESSION_SECONDS = 24 * 3600;

/** The headers a session-signed upload or deletion adds to its usual ones (`x-pmhe-signer` still names the wallet). */
export const SESSION_HEADERS = {
  key: "x-pmhe-session-key",
  expires: "x-pmhe-session-expires",
  signature: "x-pmhe-session-signature",
} as const;

/** The HTTP headers an upload carries. */
export const UPLOAD_HEADERS = {
  signer: "x-pmhe-signer",
  purpose: "x-pmhe-purpose",
  expires: "x-pmhe-expires",
  signature: "x-pmhe-signature",
} as const;

/** The HTTP headers a deletion carries: the upload headers without a purpose. */
export const DELETE_HEADERS = {
  signer: UPLOAD_HEADERS.signer,
  expires: UPLOAD_HEADERS.expires,
  signature: UPLOAD_HEADERS.signature,
} as const;

/** How long a client's upload signature stays valid by default. */
export const DEFAULT_UPLOAD_TTL_SECONDS = 300;

export function uploadDomain(chainId: bigint | number, verifyingContract: string): UploadDomain {
  return { name: UPLOAD_DOMAIN_NAME, version: UPLOAD_DOMAIN_VERSION, chainId: BigInt(chainId), verifyingContract: getAddress(verifyingContract) };
}

/** The domain for a deployment, with the chain id asked of the provider. */
export async function uploadDomainFor(provider: Provider, verifyingContract: string): Promise<UploadDomain> {
  const { chainId } = await provider.getNetwork();
  return uploadDomain(chainId, verifyingContract);
}

function asTypedDataDomain(domain: UploadDomain): TypedDataDomain {
  return { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract };
}

export function signUpload(signer: Signer, domain: UploadDomain, message: UploadMessage): Promise<string> {
  return signer.signTypedData(asTypedDataDomain(domain), UPLOAD_TYPES, message);
}

/** The address that signed `message` (checksummed). Throws on a malformed signature. */
export function recoverUploader(domain: UploadDomain, message: UploadMessage, signature: string): string {
  return verifyTypedData(asTypedDataDomain(domain), UPLOAD_TYPES, message, signature);
}

/** The headers of a signed upload of `blobHash`. */
export async function signedUploadHeaders(
  signer: Signer,
  domain: UploadDomain,
  blobHash: Hash,
  purpose: UploadPurpose,
  options: { ttlSeconds?: number; now?: number } = {},
): Promise<Record<string, string>> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const expiresAt = now + (options.ttlSeconds ?? DEFAULT_UPLOAD_TTL_SECONDS);
  const signature = await signUpload(signer, domain, { blobHash, purpose, expiresAt });
  return {
    [UPLOAD_HEADERS.signer]: await signer.getAddress(),
    [UPLOAD_HEADERS.purpose]: purpose,
    [UPLOAD_HEADERS.expires]: String(expiresAt),
    [UPLOAD_HEADERS.signature]: signature,
  };
}

export function signDelete(signer: Signer, domain: UploadDomain, message: DeleteMessage): Promise<string> {
  return signer.signTypedData(asTypedDataDomain(domain), DELETE_TYPES, message);
}

/** The address that signed the deletion `message` (checksummed). Throws on a malformed signature. */
export function recoverDeleter(domain: UploadDomain, message: DeleteMessage, signature: string): string {
  return verifyTypedData(asTypedDataDomain(domain), DELETE_TYPES, message, signature);
}

/** The headers of a signed deletion of `blobHash`. */
export async function signedDeleteHeaders(
  signer: Signer,
  domain: UploadDomain,
  blobHash: Hash,
  options: { ttlSeconds?: number; now?: number } = {},
): Promise<Record<string, string>> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const expiresAt = now + (options.ttlSeconds ?? DEFAULT_UPLOAD_TTL_SECONDS);
  const signature = await signDelete(signer, domain, { blobHash, expiresAt });
  return {
    [DELETE_HEADERS.signer]: await signer.getAddress(),
    [DELETE_HEADERS.expires]: String(expiresAt),
    [DELETE_HEADERS.signature]: signature,
  };
}

/** The wallet's signature of a delegation to `message.sessionKey` (one wallet prompt). */
export function signUploadSession(signer: Signer, domain: UploadDomain, message: UploadSessionMessage): Promise<string> {
  return signer.signTypedData(asTypedDataDomain(domain), UPLOAD_SESSION_TYPES, { sessionKey: getAddress(message.sessionKey), expiresAt: message.expiresAt });
}

/** The wallet that delegated to `message.sessionKey` (checksummed). Throws on a malformed signature or address. */
export function recoverSessionDelegator(domain: UploadDomain, message: UploadSessionMessage, signature: string): string {
  return verifyTypedData(asTypedDataDomain(domain), UPLOAD_SESSION_TYPES, { sessionKey: getAddress(message.sessionKey), expiresAt: message.expiresAt }, signature);
}
