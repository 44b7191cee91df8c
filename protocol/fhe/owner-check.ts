import { PermanentJobError } from "../failure-reasons.js";
import type { RecordsHeader } from "./headers.js";

/** What a job says its inputs must belong to: its patient and the key bundle its record is encrypted under. */
export interface JobOwner {
  /** The job's patient (any case). */
  patient: string;
  /** The job's key bundle hash (any case). */
  keyBundleHash: string;
}

/**
 * A record blob names its patient and key bundle in its header; a job may only evaluate a record that names the
 * job's own. Otherwise someone anchored (in their own namespace) a copy of another patient's ciphertext, or wrapped
 * it under another bundle: refused, and the job fails with RecordOwnerMismatch. Checked by the coprocessor before
 * it evaluates, and by an auditor re-running a job, so both reach the same verdict.
 */
export function checkRecordOwner(header: RecordsHeader, job: JobOwner): void {
  if (header.patient !== job.patient.toLowerCase() || header.keyBundle !== job.keyBundleHash.toLowerCase()) {
    throw new PermanentJobError(
      "RecordOwnerMismatch",
      `the record names patient ${header.patient} and key bundle ${header.keyBundle}; the job is patient ${job.patient}'s with key bundle ${job.keyBundleHash}`,
    );
  }
}

/** A key bundle names its patient; a job evaluates only with a bundle of its own patient (KeyBundleOwnerMismatch). */
export function checkKeyBundleOwner(bundlePatient: string, job: JobOwner): void {
  if (bundlePatient !== job.patient.toLowerCase()) {
    throw new PermanentJobError(
      "KeyBundleOwnerMismatch",
      `key bundle ${job.keyBundleHash} names patient ${bundlePatient}; the job is patient ${job.patient}'s`,
    );
  }
}
