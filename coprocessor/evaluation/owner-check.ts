import { PermanentJobError } from "../../protocol/failure-reasons.js";
import type { RecordsHeader } from "../../protocol/fhe/headers.js";
import type { StageTask } from "./stage-evaluator.js";

/**
 * A record blob names its patient and key bundle in its header; a job may only evaluate a record that names the
 * job's own. Otherwise someone anchored (in their own namespace) a copy of another patient's ciphertext, or wrapped
 * it under another bundle: refused, and the job fails with RecordOwnerMismatch.
 */
export function checkRecordOwner(header: RecordsHeader, task: Pick<StageTask, "patient" | "keyBundleHash">): void {
  if (header.patient !== task.patient.toLowerCase() || header.keyBundle !== task.keyBundleHash.toLowerCase()) {
    throw new PermanentJobError(
      "RecordOwnerMismatch",
      `the record names patient ${header.patient} and key bundle ${header.keyBundle}; the job is patient ${task.patient}'s with key bundle ${task.keyBundleHash}`,
    );
  }
}

/** A key bundle names its patient; a job evaluates only with a bundle of its own patient (KeyBundleOwnerMismatch). */
export function checkKeyBundleOwner(bundlePatient: string, task: Pick<StageTask, "patient" | "keyBundleHash">): void {
  if (bundlePatient !== task.patient.toLowerCase()) {
    throw new PermanentJobError(
      "KeyBundleOwnerMismatch",
      `key bundle ${task.keyBundleHash} names patient ${bundlePatient}; the job is patient ${task.patient}'s`,
    );
  }
}
