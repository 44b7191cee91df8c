import type { RequestHandler } from "express";
import { HttpError } from "./errors.js";

/**
 * Refuses any request body sent with a Content-Encoding other than identity (gzip, deflate, br, ...), before a byte
 * of it is read. Blobs are ciphertexts (incompressible) or small documents, so no client needs compression, and a
 * body that inflates is a bomb: 16 KB of gzip became 16 MiB in memory under the old body parser.
 */
export function refuseEncodedBodies(): RequestHandler {
  return (req, _res, next) => {
    const encoding = req.get("content-encoding");
    if (encoding !== undefined && encoding.split(",").some((coding) => !/^\s*(identity)?\s*$/i.test(coding))) {
      throw new HttpError(415, "compressed_body_refused", `Content-Encoding "${encoding}" is refused: send the body uncompressed (identity)`);
    }
    next();
  };
}
