import { z } from "zod";
import { canonicalJson } from "./canonical-json.js";
import { buildRecordTree } from "./merkle.js";
import type { Hash } from "./hash.js";

/**
 * The manifest of an anchored batch: which record hashes sit under a Merkle root (`anchorBatch(root, count)` puts
 * only the root on-chain). The blob store keeps it so that the chain's reference to the root can keep the records,
 * and the patient's erasure of the root can find and delete them. Canonical JSON
 *
 *   { "format": "pmhe-batch-manifest/1", "patient": <lower-case address>, "records": [sorted, lower-case hashes],
 *     "root": buildRecordTree(records).root }
 *
 * one encoding per batch (records sorted, no repeats, canonical form), so a manifest has exactly one hash.
 * Browser-safe: the client builds it with the same code the store checks it with.
 */

export const BATCH_MANIFEST_FORMAT = "pmhe-batch-manifest/1";
/** Most records one manifest lists (a batch of the widest packed layout fits well within it). */
export const MAX_MANIFEST_RECORDS = 4096;

const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH = /^0x[0-9a-f]{64}$/;

const BatchManifestSchema = z.strictObject({
  format: z.literal(BATCH_MANIFEST_FORMAT),
  patient: z.string().regex(ADDRESS, "a lower-case 0x-prefixed 20-byte address"),
  root: z.string().regex(HASH, "a lower-case 0x-prefixed 32-byte hash"),
  records: z.array(z.string().regex(HASH, "a lower-case 0x-prefixed 32-byte hash")).min(1).max(MAX_MANIFEST_RECORDS),
});

export interface BatchManifest {
  format: typeof BATCH_MANIFEST_FORMAT;
  patient: string;
  root: Hash;
  /** Ascending, without repeats. */
  records: Hash[];
}

/** The size of the canonical form of a manifest of `records` records (all fields have fixed widths). */
function canonicalBytes(records: number): number {
  const manifest = { format: BATCH_MANIFEST_FORMAT, patient: `0x${"0".repeat(40)}`, root: `0x${"0".repeat(64)}`, records: Array<string>(records).fill(`0x${"0".repeat(64)}`) };
  return new TextEncoder().encode(canonicalJson(manifest)).length;
}

/** The largest manifest there can be: every field has a fixed width, so each listed record adds the same bytes. */
export const MAX_BATCH_MANIFEST_BYTES = canonicalBytes(1) + (MAX_MANIFEST_RECORDS - 1) * (canonicalBytes(2) - canonicalBytes(1));

/** Why bytes are not a manifest, as codes the blob store answers with (HTTP 422; 413 for too_large). */
export type BatchManifestProblem = "too_large" | "bad_manifest" | "non_canonical_manifest" | "too_many_records" | "root_mismatch";

export class BatchManifestError extends Error {
  constructor(readonly code: BatchManifestProblem, message: string) {
    super(message);
    this.name = "BatchManifestError";
  }
}

/** The manifest of `records` (any order, any case) for `patient`, its bytes (what is uploaded) and its root. */
export function buildBatchManifest(patient: string, records: readonly Hash[]): { manifest: BatchManifest; bytes: Uint8Array } {
  if (!/^0x[0-9a-fA-F]{40}$/.test(patient)) throw new BatchManifestError("bad_manifest", `patient ${JSON.stringify(patient)} is not an address`);
  if (records.length > MAX_MANIFEST_RECORDS) throw new BatchManifestError("too_many_records", `a manifest lists at most ${MAX_MANIFEST_RECORDS} records, not ${records.length}`);
  const tree = buildRecordTree(records); // refuses an empty list, malformed hashes and repeats
  const sorted = records.map((r) => r.toLowerCase() as Hash).sort();
  const manifest: BatchManifest = { format: BATCH_MANIFEST_FORMAT, patient: patient.toLowerCase(), root: tree.root, records: sorted };
  return { manifest, bytes: new TextEncoder().encode(canonicalJson(manifest)) };
}

/**
 * Reads and checks a manifest: size, canonical JSON of the schema, records ascending without repeats, and the root
 * recomputed from the records. Throws BatchManifestError with the reason.
 */
export function parseBatchManifest(bytes: Uint8Array): BatchManifest {
  if (bytes.length > MAX_BATCH_MANIFEST_BYTES) {
    throw new BatchManifestError("too_large", `a batch manifest is at most ${MAX_BATCH_MANIFEST_BYTES} bytes, got ${bytes.length}`);
  }
  let text: string;
  let parsed: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BatchManifestError("bad_manifest", `not a JSON document: ${(err as Error).message}`);
  }
  if (Array.isArray((parsed as { records?: unknown })?.records) && (parsed as { records: unknown[] }).records.length > MAX_MANIFEST_RECORDS) {
    throw new BatchManifestError("too_many_records", `a manifest lists at most ${MAX_MANIFEST_RECORDS} records`);
  }
  const checked = BatchManifestSchema.safeParse(parsed);
  if (!checked.success) throw new BatchManifestError("bad_manifest", `bad batch manifest: ${z.prettifyError(checked.error)}`);
  const manifest = checked.data as BatchManifest;
  for (let i = 1; i < manifest.records.length; i++) {
    if (!(manifest.records[i - 1]! < manifest.records[i]!)) {
      throw new BatchManifestError("bad_manifest", "the records of a manifest must be listed in ascending order, each once");
    }
  }
  if (canonicalJson(manifest) !== text) throw new BatchManifestError("non_canonical_manifest", "the manifest is not in canonical JSON form");
  const root = buildRecordTree(manifest.records).root;
  if (root !== manifest.root) throw new BatchManifestError("root_mismatch", `the records hash to the root ${root}, not ${manifest.root}`);
  return manifest;
}
