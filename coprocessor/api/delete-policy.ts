import { getAddress, isAddress } from "ethers";
import type { Request } from "express";
import type { Hash } from "../../protocol/hash.js";
import { DELETE_HEADERS, recoverDeleter, type UploadDomain } from "../../protocol/upload-auth.js";
import { checkExpiry, checkSession, unauthorized } from "./upload-policy.js";

export interface DeletePolicyOptions {
  /** The EIP-712 domain: the same as uploads'. */
  domain: UploadDomain;
  /** Longest validity a signature may claim, seconds from now. Default one hour. */
  maxTtlSeconds?: number;
  /** Longest an upload-session delegation may run, seconds from now. Default 24 hours. */
  maxSessionSeconds?: number;
  /** Unix time in seconds (tests move it). */
  now?: () => number;
}

/**
 * Checks the signed-deletion headers of a DELETE of `blobHash` (EIP-712 `Delete`) and returns the checksummed address
 * that signed (the delegating wallet when a session key signed, as for uploads), or throws the 401/403 HttpError to
 * answer with. Whether that address owns the blob is the caller's check.
 */
export function authorizeDelete(req: Request, blobHash: Hash, options: DeletePolicyOptions): string {
  const signer = req.get(DELETE_HEADERS.signer);
  const expires = req.get(DELETE_HEADERS.expires);
  const signature = req.get(DELETE_HEADERS.signature);
  if (!signer || !expires || !signature) {
    const missing = Object.values(DELETE_HEADERS).filter((name) => !req.get(name));
    throw unauthorized("signature_required", `deletions must be signed (EIP-712 "Delete"); missing ${missing.join(", ")}`);
  }
  if (!isAddress(signer)) throw unauthorized("bad_signature", `${DELETE_HEADERS.signer} is not an address`);
  const expiresAt = checkExpiry(expires, DELETE_HEADERS.expires, "deletion", options);
  const address = getAddress(signer);
  const sessionKey = checkSession(req, address, options);
  let recovered: string;
  try {
    recovered = recoverDeleter(options.domain, { blobHash, expiresAt }, signature);
  } catch {
    throw unauthorized("bad_signature", `${DELETE_HEADERS.signature} is not a valid signature`);
  }
  if (sessionKey && recovered !== sessionKey) {
    throw unauthorized("wrong_session_key", `the deletion was not signed by the session key ${sessionKey} that ${address} delegated to, for this blob and deployment`);
  }
  if (!sessionKey && recovered !== address) throw unauthorized("bad_signature", `the signature was not made by ${address} for deleting this blob on this deployment`);
  return address;
}
