import express, { type Express } from "express";
import type { FileBlobStore } from "../blobstore/file-blob-store.js";
import { blobRoutes } from "./blob-routes.js";
import { HttpError, jsonErrorHandler } from "./errors.js";

export interface ApiOptions {
  store: FileBlobStore;
  maxBlobBytes: number;
}

/** The coprocessor's HTTP face: the content-addressed blob store that clients upload to and read results from. */
export function createApiApp({ store, maxBlobBytes }: ApiOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.use(blobRoutes(store, maxBlobBytes));
  app.use((req, _res, next) => next(new HttpError(404, "not_found", `no route ${req.method} ${req.path}`)));
  app.use(jsonErrorHandler);
  return app;
}
