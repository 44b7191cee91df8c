import { readFile, rm } from "node:fs/promises";
import { pipeline } from "node:stream";
import { Router, type Request, type Response } from "express";
import type { Logger } from "pino";
import { isHash, type Hash } from "../../protocol/hash.js";
import type { BlobEntry } from "../blobstore/blob-ledger.js";
import { QuotaExceededError, StoreFullError, type Reservation } from "../blobstore/blob-ledger.js";
import type { BlobKeeper } from "../blobstore/blob-keeper.js";
import { checkContent, purposeLimit } from "./content-check.js";
import { authorizeDelete } from "./delete-policy.js";
import { HttpError } from "./errors.js";
import { DEFAULT_DOWNLOAD_FLOOR, enforceDownloadFloor, type DownloadFloor } from "./download-floor.js";
import type { TransferSlots } from "./slots.js";
import { BodyAbortedError, BodyTooLargeError, receiveBody } from "./upload-body.js";
import { authorizeUpload, requireCurrentKeyBundle, requireRegistration, type Uploader, type UploadPolicyOptions } from "./upload-policy.js";

function hashParam(value: unknown): Hash {
  const text = typeof value === "string" ? value.toLowerCase() : "";
  if (!isHash(text)) throw new HttpError(400, "invalid_hash", "blob address must be 0x followed by 64 hex digits");
  return text;
}

export interface BlobRouteOptions {
  /** The store, its ledger and what references and erasures do to them. */
  keeper: BlobKeeper;
  uploads: UploadPolicyOptions;
  /** An operator's ceiling below every purpose's own limit; none by default. */
  maxBlobBytes?: number;
  uploadSlots: TransferSlots;
  downloadSlots: TransferSlots;
  /** A download slower than this on average, once its grace has passed, is cut: it holds a slot others need. */
  downloadFloor?: DownloadFloor;
  logger?: Logger;
}


/** Models are public documents, named by their content: caches may keep them. Anything else may be a patient's. */
const MODEL_CACHE = "public, max-age=31536000, immutable";

function cacheControlFor(entry: BlobEntry | undefined): string {
  return entry?.purpose === "model" ? MODEL_CACHE : "no-store";
}

/** A ledger (Redis) call; its failure is 503, not 500: the store cannot decide without it, and it will come back. */
export async function ledger<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HttpError || err instanceof QuotaExceededError || err instanceof StoreFullError) throw err;
    throw new HttpError(503, "store_unavailable", "the blob store's ledger cannot be reached; retry later", { "Retry-After": "5" });
  }
}

function erasedError(hash: Hash): HttpError {
  return new HttpError(410, "erased", `blob ${hash} was erased by its patient and is refused from now on`);
}

/** The body length the client declared, if it did (chunked bodies declare none). */
function declaredLength(req: Request): number | undefined {
  const header = req.get("content-length");
  return header === undefined ? undefined : Number(header);
}

function tooLarge(limit: number, purpose: string): HttpError {
  return new HttpError(413, "too_large", `a ${purpose} upload is at most ${limit} bytes`);
}

/**
 * Reserves the upload's bytes against the uploader's quota, and against the store's cap when the uploader has
 * nothing on-chain (`anonymous`), or answers 429 / 507.
 */
async function reserve(keeper: BlobKeeper, uploader: string, bytes: number, anonymous: boolean): Promise<Reservation> {
  try {
    return await ledger(() => keeper.ledger.reserve(uploader, bytes, { anonymous }));
  } catch (err) {
    if (err instanceof QuotaExceededError) {
      throw new HttpError(
        429,
        "quota_exceeded",
        `${err.pendingBytes} bytes uploaded by ${uploader} are pending (not yet referenced on-chain) and the quota is ${err.quotaBytes}; ` +
          "anchor or register what you uploaded, or wait for unreferenced uploads to be collected",
        {},
        { pendingBytes: err.pendingBytes, quotaBytes: err.quotaBytes },
      );
    }
    if (err instanceof StoreFullError) {
      throw new HttpError(507, "store_full", `the store has ${err.pendingBytes} bytes pending, its limit; retry later`);
    }
    throw err;
  }
}

/**
 * Whether an uploader has nothing on-chain to show: a key bundle or key backup uploaded by an address that has not
 * registered. Every other purpose needs a registration or a role, checked before this. When the chain cannot say, the
 * upload is treated as anonymous: the cap then errs on the side of the store.
 */
async function isAnonymous(uploader: Uploader, uploads: UploadPolicyOptions): Promise<boolean> {
  if (uploader.purpose === "key-backup") return !(await isRegistered(uploader, uploads));
  if (uploader.purpose !== "key-bundle") return false;
  try {
    return (await uploads.currentKeyBundle?.(uploader.address)) === undefined;
  } catch {
    return true;
  }
}

/**
 * Whether a key backup's uploader is registered: then the backup is kept for good and replaces the previous one. A
 * cached "no" is asked again (the patient may have just registered), and a chain that cannot say is a 503: guessing
 * "no" would leave a registered patient's only backup pending, to be collected.
 */
async function isRegistered(uploader: Uploader, uploads: UploadPolicyOptions): Promise<boolean> {
  try {
    const current = (await uploads.currentKeyBundle?.(uploader.address)) ?? (await uploads.currentKeyBundle?.(uploader.address, { fresh: true }));
    return current !== undefined;
  } catch {
    throw new HttpError(503, "chain_unavailable", "could not read the uploader's registration on-chain; retry later");
  }
}

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/**
 * PUT /blobs/:hash streams a body whose keccak256 equals :hash into the store, signed by its uploader (see
 * upload-policy.ts) and checked against its purpose before it takes its name; DELETE removes a patient's own blob;
 * GET and HEAD read blobs back, unauthenticated: blobs are ciphertexts or public models, and readers check them
 * against the hashes anchored on-chain. Patient blobs are never cacheable.
 */
export function blobRoutes(options: BlobRouteOptions): Router {
  const { keeper, uploads, uploadSlots, downloadSlots, logger } = options;
  const downloadFloor = options.downloadFloor ?? DEFAULT_DOWNLOAD_FLOOR;
  const { store } = keeper;
  const router = Router();

  router.put("/blobs/:hash", async (req, res) => {
    const hash = hashParam(req.params.hash);
    const uploader = await authorizeUpload(req, hash, uploads);
    const { purpose } = uploader;
    const signer = uploader.address.toLowerCase();
    if (!req.is("application/octet-stream")) {
      throw new HttpError(415, "unsupported_media_type", "send the blob as application/octet-stream");
    }
    // A blob larger than one signer's quota of pending bytes could never be stored: the quota caps the body too, so
    // a body sent without a length reserves at most that and is cut (413) once it passes it.
    const limit = Math.min(purposeLimit(purpose), options.maxBlobBytes ?? Number.POSITIVE_INFINITY, keeper.ledger.quotaBytes);
    const declared = declaredLength(req);
    if (declared === 0) throw new HttpError(400, "empty_body", "blob body is empty");
    if (declared !== undefined && declared > limit) throw tooLarge(limit, purpose);
    await requireRegistration(uploader, uploads);
    if (await ledger(() => keeper.ledger.isErased(hash))) throw erasedError(hash);

    const releaseSlot = uploadSlots.acquire(req.ip);
    let reservation: Reservation | undefined;
    let temporary: string | undefined;
    try {
      const anonymous = await isAnonymous(uploader, uploads);
      reservation = await reserve(keeper, signer, declared ?? limit, anonymous);
      temporary = await store.temporaryPath();
      let received: { hash: Hash; bytes: number };
      try {
        received = await receiveBody(req, temporary, limit);
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw tooLarge(limit, purpose);
        if (err instanceof BodyAbortedError) throw new HttpError(400, "aborted", err.message); // nobody is left to read it
        if (isDiskFull(err)) throw new HttpError(507, "store_full", "the store's disk is full; retry later");
        throw err;
      }
      if (received.bytes === 0) throw new HttpError(400, "empty_body", "blob body is empty");
      if (received.hash !== hash) throw new HttpError(422, "hash_mismatch", `body hashes to ${received.hash}, not ${hash}`);

      // Read back only now, once the body is complete and named right: a slow upload holds a file, not memory.
      const checked = checkContent(purpose, await readFile(temporary), signer);
      if (!checked.ok) throw new HttpError(checked.code === "too_large" ? 413 : 422, checked.code, checked.message);
      if (purpose === "record") await requireCurrentKeyBundle(uploader, checked.keyBundle!, uploads);

      const held = reservation;
      reservation = undefined; // the commit consumes it, whatever it answers
      const outcome = await ledger(() =>
        keeper.ledger.commit(held, { hash, purpose, bytes: received.bytes, owner: checked.owner, root: checked.manifest?.root }),
      );
      if (outcome === "erased") throw erasedError(hash);
      if (outcome === "collecting") {
        throw new HttpError(503, "busy", "an earlier copy of this blob is being collected right now; retry shortly", { "Retry-After": "1" });
      }
      const { created } = await store.commit(temporary, hash);
      // An erasure that ran between the commit and the rename found no file to delete: delete it now.
      if (created && (await ledger(() => keeper.ledger.isErased(hash)))) {
        await store.delete(hash);
        throw erasedError(hash);
      }
      if (outcome === "kept-batch") await ledger(() => keeper.manifestKept(checked.manifest!));
      // The patient's latest backup: kept for good if they are registered, and the one it replaces is deleted.
      if (purpose === "key-backup") await ledger(() => keeper.backupStored(signer, hash, { registered: !anonymous }));
      const { sessionKey } = uploader;
      logger?.info({ hash, purpose, uploader: uploader.address, sessionKey, bytes: received.bytes, created, ledger: outcome }, "blob stored");
      res.status(created ? 201 : 200).json({ hash, bytes: received.bytes, created, uploader: uploader.address, purpose, ...(sessionKey ? { sessionKey } : {}) });
    } finally {
      if (reservation) await keeper.ledger.release(reservation).catch((err: unknown) => logger?.warn({ err: (err as Error).message }, "could not release an upload reservation; the collector will"));
      if (temporary) await rm(temporary, { force: true });
      releaseSlot();
    }
  });

  // Before GET: Express would otherwise answer HEAD with the GET route, which opens the file.
  router.head("/blobs/:hash", async (req, res) => {
    const hash = hashParam(req.params.hash);
    const { erased, entry } = await ledger(() => keeper.ledger.status(hash));
    if (erased) {
      res.status(410).end();
      return;
    }
    const size = await store.size(hash);
    if (size === undefined) {
      res.status(404).end();
      return;
    }
    res.status(200).set({ "Content-Type": "application/octet-stream", "Content-Length": String(size), "Cache-Control": cacheControlFor(entry) }).end();
  });

  router.get("/blobs/:hash", async (req, res: Response) => {
    const hash = hashParam(req.params.hash);
    const { erased, entry } = await ledger(() => keeper.ledger.status(hash));
    if (erased) throw erasedError(hash);
    const releaseSlot = downloadSlots.acquire(req.ip);
    let opened;
    try {
      opened = await store.open(hash);
    } catch (err) {
      releaseSlot();
      throw err;
    }
    if (!opened) {
      releaseSlot();
      throw new HttpError(404, "not_found", `no blob ${hash}`);
    }
    res.once("close", releaseSlot);
    enforceDownloadFloor(res, downloadFloor, (rate) => logger?.warn({ hash, bytesPerSecond: Math.round(rate) }, "download cut: slower than the floor"));
    res.status(200).set({ "Content-Type": "application/octet-stream", "Content-Length": String(opened.size), "Cache-Control": cacheControlFor(entry) });
    // The socket's backpressure paces the file: a slow reader holds a stream buffer, not the blob.
    pipeline(opened.stream, res, (err) => {
      if (err && err.code !== "ERR_STREAM_PREMATURE_CLOSE") logger?.warn({ hash, err: err.message }, "blob download failed");
    });
  });

  router.delete("/blobs/:hash", async (req, res) => {
    const hash = hashParam(req.params.hash);
    const signer = authorizeDelete(req, hash, { domain: uploads.domain, maxTtlSeconds: uploads.maxTtlSeconds, maxSessionSeconds: uploads.maxSessionSeconds, now: uploads.now }).toLowerCase();
    if (await ledger(() => keeper.ledger.isErased(hash))) throw erasedError(hash);
    if (!(await store.has(hash))) throw new HttpError(404, "not_found", `no blob ${hash}`);
    const owned = await ledger(() => keeper.ownerOf(hash));
    if (owned?.owner !== signer) {
      throw new HttpError(403, "not_owner", `only the patient a record, key bundle, result share, batch manifest or key backup names may delete it; ${signer} may not delete ${hash}`);
    }
    const deleted = await ledger(() => keeper.deleteOwned(hash));
    if (!deleted) throw new HttpError(404, "not_found", `no blob ${hash}`);
    logger?.info({ hash, purpose: owned.purpose, patient: signer }, "blob deleted by its patient");
    res.status(200).json({ hash, deleted: true, purpose: owned.purpose });
  });

  return router;
}
