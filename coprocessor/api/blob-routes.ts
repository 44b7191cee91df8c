import express, { Router, type Response } from "express";
import type { Logger } from "pino";
import { contentHash, isHash, type Hash } from "../../protocol/hash.js";
import type { FileBlobStore } from "../blobstore/file-blob-store.js";
import { HttpError } from "./errors.js";
import { authorizeUpload, type Uploader, type UploadPolicyOptions } from "./upload-policy.js";

function hashParam(value: unknown): Hash {
  const text = typeof value === "string" ? value.toLowerCase() : "";
  if (!isHash(text)) throw new HttpError(400, "invalid_hash", "blob address must be 0x followed by 64 hex digits");
  return text;
}

export interface BlobRouteOptions {
  store: FileBlobStore;
  maxBlobBytes: number;
  uploads: UploadPolicyOptions;
  logger?: Logger;
}

function uploaderOf(res: Response): Uploader {
  return res.locals.uploader as Uploader;
}

/**
 * PUT /blobs/:hash stores a body whose keccak256 equals :hash, signed by its uploader (see upload-policy.ts);
 * GET and HEAD read it back, unauthenticated: blobs are ciphertexts or public models, and readers check them
 * against the hashes anchored on-chain. The server recomputes the hash, so nothing can be stored under a name it
 * does not hash to.
 */
export function blobRoutes({ store, maxBlobBytes, uploads, logger }: BlobRouteOptions): Router {
  const router = Router();
  const rawBody = express.raw({ type: "application/octet-stream", limit: maxBlobBytes });

  const authorize = async (req: express.Request, res: Response, next: express.NextFunction) => {
    res.locals.uploader = await authorizeUpload(req, hashParam(req.params.hash), uploads);
    next();
  };

  router.put("/blobs/:hash", authorize, rawBody, async (req, res) => {
    const hash = hashParam(req.params.hash);
    if (!req.is("application/octet-stream")) {
      throw new HttpError(415, "unsupported_media_type", "send the blob as application/octet-stream");
    }
    const body: unknown = req.body;
    if (!(body instanceof Uint8Array) || body.length === 0) throw new HttpError(400, "empty_body", "blob body is empty");
    const actual = contentHash(body);
    if (actual !== hash) {
      throw new HttpError(422, "hash_mismatch", `body hashes to ${actual}, not ${hash}`);
    }
    const { created } = await store.put(hash, body);
    const { address: uploader, purpose } = uploaderOf(res);
    logger?.info({ hash, purpose, uploader, bytes: body.length, created }, "blob stored");
    res.status(created ? 201 : 200).json({ hash, bytes: body.length, created, uploader, purpose });
  });

  router.get("/blobs/:hash", async (req, res) => {
    const hash = hashParam(req.params.hash);
    const bytes = await store.get(hash);
    if (!bytes) throw new HttpError(404, "not_found", `no blob ${hash}`);
    res.status(200).type("application/octet-stream").setHeader("Cache-Control", "public, max-age=31536000, immutable");
    res.end(bytes);
  });

  router.head("/blobs/:hash", async (req, res) => {
    const hash = hashParam(req.params.hash);
    res.status((await store.has(hash)) ? 200 : 404).end();
  });

  return router;
}
