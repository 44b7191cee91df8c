import { parseBatchManifest } from "../../protocol/batch-manifest.js";
import { decodeEnvelope, looksLikeEnvelope } from "../../protocol/envelope.js";
import type { PatientPurpose } from "../../protocol/upload-auth.js";

/**
 * The patient a stored blob names, read from its bytes: for blobs the ledger has no entry for (stored before it
 * kept one). Tries each patient kind in turn; undefined for anything else (a model, a result, garbage).
 */
export function patientNamedIn(bytes: Uint8Array): { purpose: PatientPurpose; owner: string } | undefined {
  if (looksLikeEnvelope(bytes)) {
    for (const kind of ["record", "key-bundle", "result-share", "key-backup"] as const) {
      try {
        const patient = decodeEnvelope(bytes, kind).header.patient;
        if (typeof patient === "string" && /^0x[0-9a-f]{40}$/.test(patient)) return { purpose: kind, owner: patient };
        return undefined;
      } catch {
        // another kind, or no valid envelope
      }
    }
    return undefined;
  }
  try {
    return { purpose: "batch-manifest", owner: parseBatchManifest(bytes).patient };
  } catch {
    return undefined;
  }
}
