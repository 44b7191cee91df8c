import type { Signer } from "ethers";
import { BlobStoreError, type BlobClient } from "../../../../../protocol/blob-client.js";
import type { PmheContract } from "../../../../../protocol/chain.js";
import type { Hash } from "../../../../../protocol/hash.js";
import { uploadDomainFor } from "../../../../../protocol/upload-auth.js";

const RETRIES = 3;
const RETRY_MS = 400;

/**
 * Uploads an encrypted record the app has already made, signed by the patient's wallet. PatientClient's own upload
 * is private (it encrypts and uploads in one call, with no step in between to show), so the app does this part
 * itself, with the same rule: a store that does not see a just-mined registration yet (not_registered,
 * key_bundle_not_current) is asked again a little later while the chain already holds the key bundle as current.
 */
export async function uploadRecord(options: {
  blobs: BlobClient;
  signer: Signer;
  contract: PmheContract;
  contractAddress: string;
  keyBundleHash: Hash;
  record: Uint8Array;
}): Promise<Hash> {
  const { blobs, signer, contract, contractAddress, keyBundleHash, record } = options;
  const domain = await uploadDomainFor(signer.provider!, contractAddress);
  const auth = { signer, purpose: "record" as const, domain };
  for (let attempt = 1; ; attempt++) {
    try {
      return await blobs.put(record, auth);
    } catch (err) {
      const lagging = err instanceof BlobStoreError && (err.code === "not_registered" || err.code === "key_bundle_not_current");
      if (!lagging || attempt > RETRIES) throw err;
      const [current] = await contract.currentKeyBundle(await signer.getAddress()).catch(() => [undefined]);
      if (current?.toLowerCase() !== keyBundleHash) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS * attempt));
    }
  }
}
