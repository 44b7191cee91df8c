import { getAddress, isAddress } from "ethers";
import type { Request } from "express";
import type { PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import {
  isUploadPurpose,
  recoverUploader,
  UPLOAD_HEADERS,
  UPLOAD_PURPOSES,
  UPLOAD_ROLE,
  type UploadDomain,
  type UploadPurpose,
  type UploadRole,
} from "../../protocol/upload-auth.js";
import { HttpError } from "./errors.js";

export interface UploadPolicyOptions {
  /** The EIP-712 domain signatures must be made for: this chain and this PMHE deployment. */
  domain: UploadDomain;
  /** Whether `account` holds `role` on the PMHE contract (see `contractRoleChecker`). */
  hasRole(role: UploadRole, account: string): Promise<boolean>;
  /** Longest validity a signature may claim, seconds from now. Default one hour. */
  maxTtlSeconds?: number;
  /** Unix time in seconds (tests move it). */
  now?: () => number;
}

export interface Uploader {
  address: string;
  purpose: UploadPurpose;
}

export const DEFAULT_MAX_UPLOAD_TTL_SECONDS = 3600;

const SIGNATURE_CHALLENGE = { "WWW-Authenticate": 'PMHE-EIP712 realm="blob uploads"' };

function unauthorized(code: string, message: string): HttpError {
  return new HttpError(401, code, message, SIGNATURE_CHALLENGE);
}

/**
 * Checks the signed-upload headers of a PUT of `blobHash` and returns who signed it, or throws the HttpError to answer
 * with. Runs before the body is read, so an unauthorised upload never gets buffered.
 */
export async function authorizeUpload(req: Request, blobHash: Hash, options: UploadPolicyOptions): Promise<Uploader> {
  const signer = req.get(UPLOAD_HEADERS.signer);
  const purpose = req.get(UPLOAD_HEADERS.purpose);
  const expires = req.get(UPLOAD_HEADERS.expires);
  const signature = req.get(UPLOAD_HEADERS.signature);
  const missing = Object.values(UPLOAD_HEADERS).filter((name) => !req.get(name));
  if (!signer || !purpose || !expires || !signature) {
    throw unauthorized("signature_required", `uploads must be signed (EIP-712 "Upload"); missing ${missing.join(", ")}`);
  }
  if (!isUploadPurpose(purpose)) {
    throw new HttpError(400, "bad_purpose", `${UPLOAD_HEADERS.purpose} must be one of ${UPLOAD_PURPOSES.join(", ")}`);
  }
  if (!/^[0-9]{1,15}$/.test(expires)) {
    throw unauthorized("bad_signature", `${UPLOAD_HEADERS.expires} must be a unix time in seconds`);
  }
  if (!isAddress(signer)) throw unauthorized("bad_signature", `${UPLOAD_HEADERS.signer} is not an address`);

  const expiresAt = Number(expires);
  const now = options.now?.() ?? Math.floor(Date.now() / 1000);
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_MAX_UPLOAD_TTL_SECONDS;
  if (expiresAt < now) throw unauthorized("signature_expired", `the upload signature expired at ${expiresAt}; it is now ${now}`);
  if (expiresAt > now + maxTtl) {
    throw unauthorized("signature_expired", `the upload signature is valid until ${expiresAt}, more than ${maxTtl} s ahead; sign a shorter one`);
  }

  let recovered: string;
  try {
    recovered = recoverUploader(options.domain, { blobHash, purpose, expiresAt }, signature);
  } catch {
    throw unauthorized("bad_signature", `${UPLOAD_HEADERS.signature} is not a valid signature`);
  }
  const address = getAddress(signer);
  if (recovered !== address) {
    throw unauthorized("bad_signature", `the signature was not made by ${address} for this blob, purpose, expiry and deployment`);
  }

  const role = UPLOAD_ROLE[purpose];
  if (role) {
    let allowed: boolean;
    try {
      allowed = await options.hasRole(role, address);
    } catch {
      throw new HttpError(503, "chain_unavailable", "could not check the uploader's role on-chain; retry later");
    }
    if (!allowed) throw new HttpError(403, "forbidden", `${purpose} uploads need ${role}; ${address} does not hold it`);
  }
  return { address, purpose };
}

/** `hasRole` against the PMHE contract (read-only); role ids are read from the contract once. */
export function contractRoleChecker(contract: PmheContract): UploadPolicyOptions["hasRole"] {
  const ids = new Map<UploadRole, Promise<string>>();
  const roleId = (role: UploadRole): Promise<string> => {
    let id = ids.get(role);
    if (!id) {
      id = role === "HOSPITAL_ROLE" ? contract.HOSPITAL_ROLE() : contract.COPROCESSOR_ROLE();
      id.catch(() => ids.delete(role));
      ids.set(role, id);
    }
    return id;
  };
  return async (role, account) => contract.hasRole(await roleId(role), account);
}
