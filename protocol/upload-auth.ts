import { getAddress, verifyTypedData, type Provider, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";
import type { Hash } from "./hash.js";

/**
 * Signed blob uploads. The uploader signs EIP-712 typed data naming the blob's hash, what the blob is for and when
 * the signature stops being valid; the store recovers the address and applies its policy (models only from
 * hospitals, results only from coprocessors). One definition, shared by clients and the server (browser-safe).
 */

export const UPLOAD_PURPOSES = ["key-bundle", "record", "model", "result"] as const;
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
};

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

/** The HTTP headers an upload carries. */
export const UPLOAD_HEADERS = {
  signer: "x-pmhe-signer",
  purpose: "x-pmhe-purpose",
  expires: "x-pmhe-expires",
  signature: "x-pmhe-signature",
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
