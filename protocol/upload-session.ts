import { BaseWallet, getAddress, randomBytes, SigningKey, type Signer } from "ethers";
import type { Hash } from "./hash.js";
import {
  DEFAULT_UPLOAD_TTL_SECONDS,
  MAX_UPLOAD_SESSION_SECONDS,
  recoverSessionDelegator,
  SESSION_HEADERS,
  signedDeleteHeaders,
  signedUploadHeaders,
  signUploadSession,
  UPLOAD_HEADERS,
  type UploadDomain,
  type UploadPurpose,
} from "./upload-auth.js";

/**
 * Session upload keys (browser-safe): the wallet signs ONE EIP-712 `UploadSession` delegation to an ephemeral
 * secp256k1 key made here and kept in memory only; every upload and deletion after that is signed by the session key
 * without asking the wallet, and carries the delegation in its headers (protocol/upload-auth.ts, SESSION_HEADERS).
 * The store treats such a request as the wallet's own. The key is never stored or exported: a reload, or the end of
 * the process, ends the session.
 */

/** How long a session lasts unless told otherwise: a working day, well inside the store's 24 h ceiling. */
export const DEFAULT_UPLOAD_SESSION_SECONDS = 12 * 3600;

export interface UploadSessionOptions {
  /** Seconds the delegation runs; at most MAX_UPLOAD_SESSION_SECONDS (the store refuses longer). */
  ttlSeconds?: number;
  /** Unix time in seconds (tests move it). */
  now?: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class UploadSession {
  readonly #key: BaseWallet;

  private constructor(
    key: BaseWallet,
    /** The wallet that delegated (checksummed): every upload of this session is this wallet's. */
    readonly patient: string,
    readonly domain: UploadDomain,
    /** Unix seconds after which the store refuses the delegation. */
    readonly expiresAt: number,
    /** The wallet's signature of the delegation. */
    readonly delegation: string,
  ) {
    this.#key = key;
  }

  /**
   * Makes a session key and has `wallet` sign its delegation (one wallet prompt). The signature is checked here: a
   * wallet that answers with someone else's signature would only earn refusals later.
   */
  static async open(wallet: Signer, domain: UploadDomain, options: UploadSessionOptions = {}): Promise<UploadSession> {
    const ttl = options.ttlSeconds ?? DEFAULT_UPLOAD_SESSION_SECONDS;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_UPLOAD_SESSION_SECONDS) {
      throw new RangeError(`an upload session runs 1 to ${MAX_UPLOAD_SESSION_SECONDS} s, not ${ttl}`);
    }
    const key = new BaseWallet(new SigningKey(randomBytes(32)));
    const expiresAt = (options.now ?? nowSeconds()) + ttl;
    const patient = getAddress(await wallet.getAddress());
    const delegation = await signUploadSession(wallet, domain, { sessionKey: key.address, expiresAt });
    let recovered: string | undefined;
    try {
      recovered = recoverSessionDelegator(domain, { sessionKey: key.address, expiresAt }, delegation);
    } catch {
      recovered = undefined;
    }
    if (recovered !== patient) throw new Error(`the wallet's upload-session signature does not recover to ${patient}; sign with the patient's own wallet`);
    return new UploadSession(key, patient, domain, expiresAt, delegation);
  }

  /** The session key's address (what the delegation names). */
  get sessionKey(): string {
    return this.#key.address;
  }

  /** Whether the delegation still runs `marginSeconds` from now (by default an upload signature's lifetime). */
  isUsable(marginSeconds = DEFAULT_UPLOAD_TTL_SECONDS, now = nowSeconds()): boolean {
    return this.expiresAt - now > marginSeconds;
  }

  /** The delegation, as headers: the wallet it speaks for, and its three session headers. */
  delegationHeaders(): Record<string, string> {
    return {
      [UPLOAD_HEADERS.signer]: this.patient,
      [SESSION_HEADERS.key]: this.sessionKey,
      [SESSION_HEADERS.expires]: String(this.expiresAt),
      [SESSION_HEADERS.signature]: this.delegation,
    };
  }

  /** The headers of an upload of `blobHash`, signed by the session key (no wallet prompt), for the patient. */
  async uploadHeaders(blobHash: Hash, purpose: UploadPurpose, options: { ttlSeconds?: number; now?: number } = {}): Promise<Record<string, string>> {
    return { ...(await signedUploadHeaders(this.#key, this.domain, blobHash, purpose, options)), ...this.delegationHeaders() };
  }

  /** The headers of a deletion of `blobHash`, signed by the session key, for the patient. */
  async deleteHeaders(blobHash: Hash, options: { ttlSeconds?: number; now?: number } = {}): Promise<Record<string, string>> {
    return { ...(await signedDeleteHeaders(this.#key, this.domain, blobHash, options)), ...this.delegationHeaders() };
  }
}

/**
 * One upload session at a time, for one wallet on one deployment: made on first use (one wallet signature), reused
 * while it runs, made again once it is about to expire. Concurrent callers share one signing request.
 */
export class UploadSessionKeeper {
  private pending: Promise<UploadSession> | undefined;

  constructor(private readonly options: Omit<UploadSessionOptions, "now"> = {}) {}

  /** Whether a session is held (or being signed) now: the next upload will not ask the wallet. */
  get held(): boolean {
    return this.pending !== undefined;
  }

  /** The running session, or a new one `wallet` signs when there is none or it expires within an upload's lifetime. */
  async session(wallet: Signer, domain: UploadDomain): Promise<UploadSession> {
    const held = this.pending;
    if (held) {
      const session = await held.catch(() => undefined);
      if (session?.isUsable()) return session;
      if (this.pending !== held) return this.session(wallet, domain); // another caller is renewing it
    }
    const next = UploadSession.open(wallet, domain, this.options);
    this.pending = next;
    next.catch(() => {
      if (this.pending === next) this.pending = undefined;
    });
    return next;
  }

  /** Drops the session (the key goes with it); the next upload asks the wallet again. */
  forget(): void {
    this.pending = undefined;
  }
}
