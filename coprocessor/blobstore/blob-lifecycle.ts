import type { Hash } from "../../protocol/hash.js";

/**
 * What the chain tells the blob store about its blobs. Uploads start out pending: they count against their
 * uploader's quota and are collected if the chain never comes to reference them. The chain listener reports:
 *  - references (a key bundle registered, with the patient who registered it, a record anchored or requested, a batch anchored, a model published,
 *    a result committed, a result shared), which keep a blob for good and release its uploader's quota;
 *  - erasures (RecordErased, BatchErased), after which the blob is deleted and never accepted again.
 * Implementations must be idempotent: the listener may report the same block range twice after a restart.
 */
export interface BlobLifecycle {
  /**
   * The chain references these blobs: keep them. A batch root pins its manifest and every record the manifest lists;
   * a key bundle registered by `patient` pins that patient's latest key backup.
   */
  referenced(refs: ReadonlyArray<BlobReference>): Promise<void>;
  /** The patient erased this record (or every record of this batch root): delete it and refuse it from now on. */
  erased(erasure: { patient: string; hash: Hash; kind: "record" | "batch-root" }): Promise<void>;
}

/** One blob the chain references; `patient` is set for key bundles (the registering patient). */
export interface BlobReference {
  hash: Hash;
  kind: "key-bundle" | "record" | "batch-root" | "model" | "result" | "result-share";
  patient?: string;
}
