import { getAddress, isAddress } from "ethers";
import type { Request } from "express";
import type { PmheContract } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import {
  isUploadPurpose,
  MAX_UPLOAD_SESSION_SECONDS,
  recoverSessionDelegator,
  recoverUploader,
  SESSION_HEADERS,
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
  /**
   * The patient's current key bundle on-chain, undefined if not registered (see key-bundles.ts, `KeyBundleCache`).
   * Records and batch manifests are taken only from registered patients; without this oracle, from nobody.
   */
  currentKeyBundle?(patient: string, options?: { fresh?: boolean }): Promise<Hash | undefined>;
  /** Longest validity a signature may claim, seconds from now. Default one hour. */
  maxTtlSeconds?: number;
  /** Longest an upload-session delegation may run, seconds from now. Default (and protocol ceiling) 24 hours. */
  maxSessionSeconds?: number;
  /** Unix time in seconds (tests move it). */
  now?: () => number;
}

export interface Uploader {
  /** The wallet the upload is taken as: the signer, or the wallet that delegated to the session key that signed. */
  address: string;
  purpose: UploadPurpose;
  /** The session key that signed the upload for `address`, when it was session-signed. */
  sessionKey?: string;
}

export const DEFAULT_MAX_UPLOAD_TTL_SECONDS = 3600;

const SIGNATURE_CHALLENGE = { "WWW-Authenticate": 'PMHE-EIP712 realm="blob uploads"' };

export function unauthorized(code: string, message: string): HttpError {
  return new HttpError(401, code, message, SIGNATURE_CHALLENGE);
}

/**
 * Checks a signature's expiry header: a unix time in seconds, not past, and at most `maxTtlSeconds` ahead (a
 * signature valid for long would be a standing permission). Returns it.
 */
export function checkExpiry(expires: string, header: string, what: string, options: { maxTtlSeconds?: number; now?: () => number }): number {
  if (!/^[0-9]{1,15}$/.test(expires)) throw unauthorized("bad_signature", `${header} must be a unix time in seconds`);
  const expiresAt = Number(expires);
  const now = options.now?.() ?? Math.floor(Date.now() / 1000);
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_MAX_UPLOAD_TTL_SECONDS;
  if (expiresAt < now) throw unauthorized("signature_expired", `the ${what} signature expired at ${expiresAt}; it is now ${now}`);
  if (expiresAt > now + maxTtl) {
    throw unauthorized("signature_expired", `the ${what} signature is valid until ${expiresAt}, more than ${maxTtl} s ahead; sign a shorter one`);
  }
  return expiresAt;
}

/**
 * The session key a request was signed with, when it carries a delegation (SESSION_HEADERS), after checking that
 * delegation: well-formed (401 bad_session), unexpired (401 session_expired), at most `maxSessionSeconds` ahead (401
 * session_too_long), and signed by the wallet `signer` names (403 session_not_delegated: a session key speaks only for
 * the wallet that delegated to it). Undefined when the request carries no session header: the signer signed itself.
 */
export function checkSession(req: Request, signer: string, options: { domain: UploadDomain; maxSessionSeconds?: number; now?: () => number }): string | undefined {
  const key = req.get(SESSION_HEADERS.key);
  const expires = req.get(SESSION_HEADERS.expires);
  const signature = req.get(SESSION_HEADERS.signature);
  if (!key && !expires && !signature) return undefined;
  if (!key || !expires || !signature) {
    const missing = Object.values(SESSION_HEADERS).filter((name) => !req.get(name));
    throw unauthorized("bad_session", `a session-signed request carries all of ${Object.values(SESSION_HEADERS).join(", ")}; missing ${missing.join(", ")}`);
  }
  if (!isAddress(key)) throw unauthorized("bad_session", `${SESSION_HEADERS.key} is not an address`);
  if (!/^[0-9]{1,15}$/.test(expires)) throw unauthorized("bad_session", `${SESSION_HEADERS.expires} must be a unix time in seconds`);
  const expiresAt = Number(expires);
  const now = options.now?.() ?? Math.floor(Date.now() / 1000);
  const max = options.maxSessionSeconds ?? MAX_UPLOAD_SESSION_SECONDS;
  if (expiresAt < now) throw unauthorized("session_expired", `the upload session of key ${key} expired at ${expiresAt}; it is now ${now}: have the wallet delegate to a new session key`);
  if (expiresAt > now + max) throw unauthorized("session_too_long", `the upload session of key ${key} runs until ${expiresAt}, more than ${max} s ahead; delegate for at most ${max} s`);
  let delegator: string;
  try {
    delegator = recoverSessionDelegator(options.domain, { sessionKey: key, expiresAt }, signature);
  } catch {
    throw unauthorized("bad_session", `${SESSION_HEADERS.signature} is not a valid signature`);
  }
  if (delegator !== signer) {
    throw new HttpError(403, "session_not_delegated", `the session key ${getAddress(key)} was not delegated by ${signer} on this deployment (the delegation recovers to ${delegator}); a session key signs only for the wallet that delegated to it`);
  }
  return getAddress(key);
}

/**
 * Checks the signed-upload headers of a PUT of `blobHash` and returns who signed it (the delegating wallet when a
 * session key signed), or throws the HttpError to answer with. Runs before the body is read, so an unauthorised
 * upload never gets buffered. Everything after this (roles, registration, owners, quotas) applies to `address`.
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
  const expiresAt = checkExpiry(expires, UPLOAD_HEADERS.expires, "upload", options);

  const address = getAddress(signer);
  const sessionKey = checkSession(req, address, options);

  let recovered: string;
  try {
    recovered = recoverUploader(options.domain, { blobHash, purpose, expiresAt }, signature);
  } catch {
    throw unauthorized("bad_signature", `${UPLOAD_HEADERS.signature} is not a valid signature`);
  }
  if (sessionKey && recovered !== sessionKey) {
    throw unauthorized("wrong_session_key", `the upload was not signed by the session key ${sessionKey} that ${address} delegated to, for this blob, purpose, expiry and deployment`);
  }
  if (!sessionKey && recovered !== address) {
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
  return sessionKey ? { address, purpose, sessionKey } : { address, purpose };
}

/**
 * Purposes only a registered patient uploads: a record is encrypted under the patient's registered key bundle, and a
 * manifest lists such records. Key bundles are uploaded before registering, so anyone may upload one.
 */
const REGISTERED_PURPOSES: ReadonlySet<UploadPurpose> = new Set(["record", "batch-manifest"]);

/**
 * Refuses, before the body is read, a record or manifest upload from an address that has no key bundle on-chain
 * (403 not_registered): a throwaway wallet cannot fill the store with records. Returns the current bundle (records
 * are checked against it once read), undefined for purposes that need none.
 */
export async function requireRegistration(uploader: Uploader, options: UploadPolicyOptions): Promise<Hash | undefined> {
  if (!REGISTERED_PURPOSES.has(uploader.purpose)) return undefined;
  let current: Hash | undefined;
  try {
    current = await options.currentKeyBundle?.(uploader.address);
    // A cached "not registered" may predate the registration that was just mined: ask once more before refusing.
    if (!current) current = await options.currentKeyBundle?.(uploader.address, { fresh: true });
  } catch {
    throw new HttpError(503, "chain_unavailable", "could not read the uploader's key bundle on-chain; retry later");
  }
  if (!current) {
    throw new HttpError(403, "not_registered", `${uploader.purpose} uploads are taken from registered patients only; ${uploader.address} has no key bundle on-chain (registerKeys first)`);
  }
  return current;
}

/**
 * Refuses a record encrypted under another key bundle than the uploader's current one (422 key_bundle_not_current):
 * the coprocessor could not evaluate it for this patient. The cached answer is asked again once before refusing,
 * since the patient may have just rotated keys.
 */
export async function requireCurrentKeyBundle(uploader: Uploader, keyBundle: Hash, options: UploadPolicyOptions): Promise<void> {
  let current: Hash | undefined;
  try {
    current = await options.currentKeyBundle?.(uploader.address);
    if (current !== keyBundle) current = await options.currentKeyBundle?.(uploader.address, { fresh: true });
  } catch {
    throw new HttpError(503, "chain_unavailable", "could not read the uploader's key bundle on-chain; retry later");
  }
  if (current !== keyBundle) {
    throw new HttpError(422, "key_bundle_not_current", `the record is encrypted under key bundle ${keyBundle}; ${uploader.address}'s current one is ${current ?? "none"}`);
  }
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
