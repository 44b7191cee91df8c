import type { BlobClient } from "../../../../../protocol/blob-client.js";
import type { PmheContract } from "../../../../../protocol/chain.js";
import { ContractCallError, namedContractCall } from "../../../../../protocol/contract-errors.js";
import type { Hash } from "../../../../../protocol/hash.js";
import { readKeyBackupHeader } from "../../../../../protocol/key-backup.js";

/** The key bundle registered on-chain for `address` now, or undefined when it never registered. */
export async function registeredBundle(contract: PmheContract, address: string): Promise<Hash | undefined> {
  try {
    const [hash] = await namedContractCall("currentKeyBundle", () => contract.currentKeyBundle(address));
    return hash.toLowerCase() as Hash;
  } catch (err) {
    if (err instanceof ContractCallError && err.errorName === "PatientNotRegistered") return undefined;
    throw err;
  }
}

/** The key bundle the blob store's latest backup for `address` is of, or undefined when there is none. */
export async function backedUpBundle(blobs: BlobClient, address: string): Promise<Hash | undefined> {
  const found = await blobs.keyBackupOf(address);
  return found ? (readKeyBackupHeader(found.bytes).keyBundle as Hash) : undefined;
}
