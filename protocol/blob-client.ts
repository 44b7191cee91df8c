import type { Signer } from "ethers";
import { contentHash, isHash, type Hash } from "./hash.js";
import { KEY_BACKUP_HASH_HEADER } from "./key-backup.js";
import { NetworkError, networkReason } from "./rpc.js";
import { signedDeleteHeaders, signedUploadHeaders, type UploadDomain, type UploadPurpose } from "./upload-auth.js";
import type { UploadSession } from "./upload-session.js";

/** Who uploads, and what for: the store refuses unsigned uploads (see upload-auth.ts). */
export type UploadAuth = WalletUploadAuth | SessionUploadAuth;

/** An upload the wallet itself signs (one signature per upload). */
export interface WalletUploadAuth {
  signer: Signer;
  purpose: UploadPurpose;
  domain: UploadDomain;
  /** How long the signature stays valid; the store refuses more than an hour. */
  ttlSeconds?: number;
  session?: undefined;
}

/** An upload signed by a session key the wallet delegated to (upload-session.ts): no wallet prompt. */
export interface SessionUploadAuth {
  session: UploadSession;
  purpose: UploadPurpose;
  /** How long the upload signature stays valid; the store refuses more than an hour. */
  ttlSeconds?: number;
  signer?: undefined;
}

/** Who deletes: the patient the blob names (see upload-auth.ts, `Delete`), or a session key the patient delegated to. */
export type DeleteAuth =
  | { signer: Signer; domain: UploadDomain; /** How long the signature stays valid; the store refuses more than an hour. */ ttlSeconds?: number; session?: undefined }
  | { session: UploadSession; ttlSeconds?: number; signer?: undefined };

/** What an upload left in the store, as the store reports it. */
export interface UploadReceipt {
  hash: Hash;
  bytes: number;
  created: boolean;
  /** The wallet the upload counts as (the delegating wallet for a session-signed upload). */
  uploader: string;
  purpose: UploadPurpose;
  /** The session key that signed it, for a session-signed upload. */
  sessionKey?: string;
}

export class BlobStoreError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "BlobStoreError";
  }
}

/** A job as `GET /jobs/:jobId` reports it (read from the chain by the coprocessor). */
export type ApiJobStatus =
  | { status: "Requested"; deadline: number; /** The wait the server asks for before the next question, ms. */ retryAfterMs?: number }
  | { status: "Finalized"; resultHash: Hash; resultUrl: string }
  | { status: "Failed"; reason: number; reasonName: string }
  | { status: "Expired" };

/** `Retry-After` in ms: delay seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^[0-9]{1,9}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** How long a request waits in all on a busy store's Retry-After before giving the 503 to its caller. */
export const DEFAULT_BUSY_WAIT_MS = 30_000;

/** Socket-level codes of a request that went out on a connection the server had just closed. */
const STALE_CONNECTION_CODES = new Set(["EPIPE", "ECONNRESET", "UND_ERR_SOCKET"]);

/**
 * fetch reuses keep-alive connections, and a request sent on one the server is closing for idleness fails with
 * "fetch failed" (EPIPE, ECONNRESET) before the server saw it. Blob requests are idempotent (uploads are
 * content-addressed), so such a request is sent once more, on a new connection.
 */
export async function retryStaleConnection<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (!(err instanceof TypeError && typeof code === "string" && STALE_CONNECTION_CODES.has(code))) throw err;
    return attempt();
  }
}

/** HTTP client of the blob store (`fetch`, so it runs in a browser as well as in Node). */
export class BlobClient {
  private readonly base: string;

  /**
   * @param options.busyWaitMs the longest a request keeps waiting, in all, on 503 and 429 answers that carry
   *   Retry-After (a store at its transfer cap, a ledger restarting, this address at its share) before the 503 is the caller's; 0 gives it back at once.
   */
  constructor(
    baseUrl: string,
    private readonly options: { busyWaitMs?: number } = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** Where a blob lives: the locator recorded on-chain next to its hash. */
  urlOf(hash: Hash): string {
    return `${this.base}/blobs/${hash}`;
  }

  /** Uploads bytes under their content hash, signed by `auth.signer` (or `auth.session`'s key), and returns the hash. */
  async put(bytes: Uint8Array, auth?: UploadAuth): Promise<Hash> {
    return (await this.upload(bytes, auth)).hash;
  }

  /** Like `put`, with the store's answer (including the uploader address it recovered). */
  async upload(bytes: Uint8Array, auth?: UploadAuth): Promise<UploadReceipt> {
    const hash = contentHash(bytes);
    const options = { ttlSeconds: auth?.ttlSeconds };
    const signed = !auth
      ? {}
      : auth.session
        ? await auth.session.uploadHeaders(hash, auth.purpose, options)
        : await signedUploadHeaders(auth.signer, auth.domain, hash, auth.purpose, options);
    const response = await this.request(this.urlOf(hash), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", ...signed },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    if (response.status !== 201 && response.status !== 200) throw await this.errorFrom(response, `upload of ${hash}`);
    return (await response.json()) as UploadReceipt;
  }

  /** Raw bytes stored under `hash`, or undefined if the store has none. Callers verify them against the chain. */
  async get(hash: Hash): Promise<Uint8Array | undefined> {
    const response = await this.request(this.urlOf(hash));
    if (response.status === 404) return undefined;
    if (!response.ok) throw await this.errorFrom(response, `download of ${hash}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Deletes one of the signer's own blobs (a record, key bundle, result share, batch manifest or key backup that names the
   * signer as its patient). True if it was deleted; false if the store had nothing under `hash` (never stored,
   * already deleted, or erased for good). Anything else (403 not_owner, a bad signature) throws BlobStoreError.
   */
  async delete(hash: Hash, auth: DeleteAuth): Promise<boolean> {
    const options = { ttlSeconds: auth.ttlSeconds };
    const signed = auth.session ? await auth.session.deleteHeaders(hash, options) : await signedDeleteHeaders(auth.signer, auth.domain, hash, options);
    const response = await this.request(this.urlOf(hash), { method: "DELETE", headers: signed });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return false;
    }
    if (!response.ok) throw await this.errorFrom(response, `deletion of ${hash}`);
    await response.body?.cancel();
    return true;
  }

  /**
   * The latest key backup the store keeps for `patient` (`GET /key-backups/:address`), checked against the hash the
   * store names; undefined when it has none. The bytes are ciphertext: only the patient's wallet opens them.
   */
  async keyBackupOf(patient: string): Promise<{ hash: Hash; bytes: Uint8Array } | undefined> {
    const response = await this.request(`${this.base}/key-backups/${patient}`);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) throw await this.errorFrom(response, `download of ${patient}'s key backup`);
    const named = response.headers.get(KEY_BACKUP_HASH_HEADER)?.toLowerCase();
    const bytes = new Uint8Array(await response.arrayBuffer());
    const hash = contentHash(bytes);
    if (!isHash(named) || named !== hash) {
      throw new BlobStoreError(response.status, "hash_mismatch", `the key backup the store sent hashes to ${hash}, but it named ${named ?? "no hash"}`);
    }
    return { hash, bytes };
  }

  /** A job's status as the coprocessor reads it from the chain (`GET /jobs/:jobId`), with its Retry-After. */
  async jobStatus(jobId: Hash): Promise<ApiJobStatus> {
    const response = await this.request(`${this.base}/jobs/${jobId}`);
    if (response.status !== 200 && response.status !== 202) throw await this.errorFrom(response, `status of job ${jobId}`);
    const body = (await response.json()) as Record<string, unknown>;
    switch (body.status) {
      case "Requested":
        return { status: "Requested", deadline: Number(body.deadline), retryAfterMs: retryAfterMs(response.headers.get("retry-after")) };
      case "Finalized":
        return { status: "Finalized", resultHash: String(body.resultHash).toLowerCase() as Hash, resultUrl: String(body.resultUrl) };
      case "Failed":
        return { status: "Failed", reason: Number(body.reason), reasonName: String(body.reasonName) };
      case "Expired":
        return { status: "Expired" };
      default:
        throw new BlobStoreError(response.status, "unexpected_status", `status of job ${jobId}: the coprocessor answered ${JSON.stringify(body.status)}`);
    }
  }

  /**
   * One request, re-sent once on a stale keep-alive connection, and again after each 503 or 429 with Retry-After (the
   * store is busy for a moment, or this address has its share of transfers in flight: not a failure) until `busyWaitMs` of waiting is spent; an unreachable store names its URL.
   * Every blob request may be repeated: uploads are content-addressed, deletes and reads idempotent.
   */
  protected async request(url: string, init?: RequestInit): Promise<Response> {
    let waitedMs = 0;
    const budgetMs = this.options.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS;
    for (;;) {
      let response: Response;
      try {
        response = await retryStaleConnection(() => fetch(url, init));
      } catch (err) {
        if (err instanceof TypeError) throw new NetworkError(url, "the coprocessor's blob store", networkReason(err), { cause: err });
        throw err;
      }
      const asked = response.status === 503 || response.status === 429 ? retryAfterMs(response.headers.get("retry-after")) : undefined;
      if (asked === undefined || waitedMs + asked > budgetMs) return response;
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, asked));
      waitedMs += asked;
    }
  }

  private async errorFrom(response: Response, what: string): Promise<BlobStoreError> {
    let code = "http_error";
    let message = response.statusText;
    try {
      const body = (await response.json()) as { error?: string; message?: string };
      code = body.error ?? code;
      message = body.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    return new BlobStoreError(response.status, code, `${what} failed with ${response.status} ${code}: ${message}`);
  }
}
