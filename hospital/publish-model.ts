import type { Signer } from "ethers";
import type { BlobClient } from "../protocol/blob-client.js";
import { connectPmhe } from "../protocol/chain.js";
import type { Hash } from "../protocol/hash.js";
import { modelBytes, modelHash, type Model } from "../protocol/model.js";
import { uploadDomainFor } from "../protocol/upload-auth.js";

/**
 * A hospital publishes a model: its canonical bytes go to the blob store, its hash on-chain. The coprocessor later
 * fetches the model by that hash, so the version a job is pinned to is exactly what gets evaluated.
 */
export async function publishModel(hospital: Signer, contractAddress: string, blobs: BlobClient, model: Model): Promise<Hash> {
  if (!hospital.provider) throw new Error("the hospital's signer needs a provider");
  // The upload is signed by the hospital: the store takes models only from HOSPITAL_ROLE holders.
  const domain = await uploadDomainFor(hospital.provider, contractAddress);
  const hash = await blobs.put(modelBytes(model), { signer: hospital, purpose: "model", domain });
  if (hash !== modelHash(model)) throw new Error("blob store and model disagree on the model hash");
  const contract = connectPmhe(contractAddress, hospital);
  await (await contract.publishModel(hash, model.name, model.version, blobs.urlOf(hash))).wait();
  return hash;
}
