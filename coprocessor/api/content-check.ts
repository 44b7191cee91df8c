import { BatchManifestError, MAX_BATCH_MANIFEST_BYTES, parseBatchManifest, type BatchManifest } from "../../protocol/batch-manifest.js";
import { maxUploadBytes, validateUpload } from "../../protocol/blob-validation.js";
import { decodeEnvelope, EnvelopeError, type EnvelopeErrorReason } from "../../protocol/envelope.js";
import type { Hash } from "../../protocol/hash.js";
import { checkKeyBackupBlob, MAX_KEY_BACKUP_BYTES } from "../../protocol/key-backup.js";
import { MAX_SHARE_BYTES, readShareHeader, ShareError } from "../../protocol/result-share.js";
import type { UploadPurpose } from "../../protocol/upload-auth.js";

/**
 * What an upload must be, by purpose, checked on the received bytes before anything is stored or any gas spent:
 * key bundles, records, models and results by protocol/blob-validation.ts; result shares and batch manifests here,
 * by their own modules' readers, and key backups by protocol/key-backup.ts (their ciphertext is opaque: only the header
 * and the size are checked). Every patient blob must name the uploader as its patient.
 */

/** The largest body a purpose can take: what a legitimate blob of it can be under any parameter set. */
export function purposeLimit(purpose: UploadPurpose): number {
  switch (purpose) {
    case "result-share":
      return MAX_SHARE_BYTES;
    case "batch-manifest":
      return MAX_BATCH_MANIFEST_BYTES;
    case "key-backup":
      return MAX_KEY_BACKUP_BYTES;
    default:
      return maxUploadBytes(purpose);
  }
}

export type ContentCheck =
  | {
      ok: true;
      /** The patient the blob names (patient purposes). */
      owner?: string;
      /** Records: the key bundle they are encrypted under. */
      keyBundle?: Hash;
      /** Batch manifests. */
      manifest?: BatchManifest;
    }
  | { ok: false; code: string; message: string };

/** The validator's code for a container problem: the reason in snake case, as blob-validation.ts names them. */
function envelopeCode(reason: EnvelopeErrorReason): string {
  if (reason === "non-canonical") return "non_canonical_header";
  if (reason === "encoding") return "not_an_envelope";
  return reason.replaceAll("-", "_");
}

function ownedBy(owner: string, uploader: string, what: string): ContentCheck | undefined {
  return owner === uploader ? undefined : { ok: false, code: "owner_mismatch", message: `the ${what} belongs to ${owner}, uploaded by ${uploader}` };
}

function checkShare(bytes: Uint8Array, uploader: string): ContentCheck {
  let patient: string;
  try {
    patient = readShareHeader(bytes).patient;
    const sections = [...decodeEnvelope(bytes, "result-share").sections.keys()];
    if (sections.length !== 1 || sections[0] !== "ciphertext") {
      return { ok: false, code: "bad_sections", message: `a result share holds one section, "ciphertext"; this one has ${sections.join(", ") || "none"}` };
    }
  } catch (err) {
    if (!(err instanceof ShareError)) throw err;
    const cause = err.cause;
    if (cause instanceof EnvelopeError) return { ok: false, code: envelopeCode(cause.reason), message: err.message };
    if (bytes.length > MAX_SHARE_BYTES) return { ok: false, code: "too_large", message: err.message };
    return { ok: false, code: "bad_header", message: err.message };
  }
  return ownedBy(patient, uploader, "result share") ?? { ok: true, owner: patient };
}

function checkManifest(bytes: Uint8Array, uploader: string): ContentCheck {
  let manifest: BatchManifest;
  try {
    manifest = parseBatchManifest(bytes);
  } catch (err) {
    if (err instanceof BatchManifestError) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
  return ownedBy(manifest.patient, uploader, "batch manifest") ?? { ok: true, owner: manifest.patient, manifest };
}

function checkKeyBackup(bytes: Uint8Array, uploader: string): ContentCheck {
  const checked = checkKeyBackupBlob(bytes);
  if (!checked.ok) return checked;
  return ownedBy(checked.header.patient, uploader, "key backup") ?? { ok: true, owner: checked.header.patient };
}

/** Checks `bytes` against `purpose`; `uploader` is the signer's lower-case address. Never throws for bad bytes. */
export function checkContent(purpose: UploadPurpose, bytes: Uint8Array, uploader: string): ContentCheck {
  switch (purpose) {
    case "result-share":
      return checkShare(bytes, uploader);
    case "batch-manifest":
      return checkManifest(bytes, uploader);
    case "key-backup":
      return checkKeyBackup(bytes, uploader);
    default: {
      const checked = validateUpload(purpose, bytes, uploader);
      if (!checked.ok) return checked;
      return { ok: true, owner: checked.owner, keyBundle: checked.keyBundle };
    }
  }
}
