import type { ContractRunner } from "ethers";
import type { BlobClient } from "../protocol/blob-client.js";
import { connectPmhe } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import { contentHash, type Hash } from "../protocol/hash.js";
import { openShare, ShareError, type SharedPrediction } from "../protocol/result-share.js";

/** What a hospital learns from a share: the patient, the job, and a rounded prediction. */
export interface OpenedShare extends SharedPrediction {
  patient: string;
  sharedHash: Hash;
}

/**
 * Reads the result a patient shared with `hospital` for `jobId`: the hash on-chain (`sharedResultOf`) says which
 * blob; its bytes must hash to it; it must open with the hospital's X25519 secret key, and name this job, this
 * hospital, the job's patient and the job's model. Throws ShareError when any of that does not hold.
 */
export async function openSharedResult(options: {
  runner: ContractRunner;
  contractAddress: string;
  blobs: BlobClient;
  hospital: string;
  jobId: Hash;
  secretKey: Uint8Array;
}): Promise<OpenedShare> {
  const { blobs, hospital, jobId } = options;
  const contract = connectPmhe(options.contractAddress, options.runner);
  const [sharedHash, job] = await Promise.all([
    namedContractCall("sharedResultOf", () => contract.sharedResultOf(jobId, hospital)),
    namedContractCall("jobOf", () => contract.jobOf(jobId)),
  ]);
  const expected = sharedHash.toLowerCase() as Hash;
  if (/^0x0+$/.test(expected)) throw new ShareError(`nothing of job ${jobId} is shared with ${hospital}; ask the patient to share it`);
  const bytes = await blobs.get(expected);
  if (!bytes) throw new ShareError(`the blob store has no share ${expected}; the patient may have deleted it`);
  const actual = contentHash(bytes);
  if (actual !== expected) throw new ShareError(`the share blob hashes to ${actual}, the chain holds ${expected}: refused`);
  const { header, prediction } = openShare(bytes, options.secretKey);
  const patient = job.patient.toLowerCase();
  if (header.jobId !== jobId.toLowerCase() || header.hospital !== hospital.toLowerCase() || header.patient !== patient) {
    throw new ShareError("the share names another job, hospital or patient than the chain: refused");
  }
  if (prediction.modelId !== job.modelId.toLowerCase()) throw new ShareError("the share names another model than the job: refused");
  return { ...prediction, patient, sharedHash: expected };
}
