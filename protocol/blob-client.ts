import type { Signer } from "ethers";
import { contentHash, type Hash } from "./hash.js";
import { NetworkError, networkReason } from "./rpc.js";
import { signedDeleteHeaders, signedUploadHeaders, type UploadDomain, type UploadPurpose } from "./upload-auth.js";

/** Who uploads, and what for: the store refuses unsigned uploads (see upload-auth.ts). */
export interface UploadAuth {
  signer: Signer;
  purpose: UploadPurpose;
  domain: UploadDomain;
  /** How long the signature stays valid; the store refuses more than an hour. */
  ttlSeconds?: number;
}

/** Who deletes: the patient the blob names (see upload-auth.ts, `Delete`). */
export interface DeleteAuth {
  signer: Signer;
  domain: UploadDomain;
  /** How long the signature stays valid; the store refuses more than an hour. */
  ttlSeconds?: number;
}

/** What an upload left in the store, as the store reports it. */
export interface UploadReceipt {
  hash: Hash;
  bytes: number;
  created: boolean;
  uploader: string;
  purpose: UploadPurpose;
}

export class BlobStoreError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "BlobStoreError";
  }
}

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

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** Where a blob lives: the locator recorded on-chain next to its hash. */
  urlOf(hash: Hash): string {
    return `${this.base}/blobs/${hash}`;
  }

  /** Uploads bytes under their content hash, signed by `auth.signer`, and returns the hash. */
  async put(bytes: Uint8Array, auth?: UploadAuth): Promise<Hash> {
    return (await this.upload(bytes, auth)).hash;
  }

  /** Like `put`, with the store's answer (including the uploader address it recovered). */
  async upload(bytes: Uint8Array, auth?: UploadAuth): Promise<UploadReceipt> {
    const hash = contentHash(bytes);
    const signed = auth ? await signedUploadHeaders(auth.signer, auth.domain, hash, auth.purpose, { ttlSeconds: auth.ttlSeconds }) : {};
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
   * Deletes one of the signer's own blobs (a record, key bundle, result share or batch manifest that names the
   * signer as its patient). True if it was deleted; false if the store had nothing under `hash` (never stored,
   * already deleted, or erased for good). Anything else (403 not_owner, a bad signature) throws BlobStoreError.
   */
  async delete(hash: Hash, auth: DeleteAuth): Promise<boolean> {
    const signed = await signedDeleteHeaders(auth.signer, auth.domain, hash, { ttlSeconds: auth.ttlSeconds });
    const response = await this.request(this.urlOf(hash), { method: "DELETE", headers: signed });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return false;
    }
    if (!response.ok) throw await this.errorFrom(response, `deletion of ${hash}`);
    await response.body?.cancel();
    return true;
  }

  /** One request, re-sent once on a stale keep-alive connection; an unreachable store names its URL. */
  protected async request(url: string, init?: RequestInit): Promise<Response> {
    try {
      return await retryStaleConnection(() => fetch(url, init));
    } catch (err) {
      if (err instanceof TypeError) throw new NetworkError(url, "the coprocessor's blob store", networkReason(err), { cause: err });
      throw err;
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
