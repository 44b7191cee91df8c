import type { Signer } from "ethers";
import type { BlobClient } from "../protocol/blob-client.js";
import { connectPmhe, modelIdOf } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import type { Hash } from "../protocol/hash.js";
import { modelBytes, modelHash as hashOfModel, type Model } from "../protocol/model.js";
import { uploadDomainFor } from "../protocol/upload-auth.js";

/** A published model: its on-chain id (what patients request) and its content hash (the blob the coprocessors fetch). */
export interface PublishedModel {
  modelId: Hash;
  modelHash: Hash;
}

/**
 * A hospital publishes a model: its canonical bytes go to the blob store, its hash on-chain. The model's id is the
 * hospital's own (`keccak256(abi.encode(publisher, modelHash))`), so no other hospital can squat or deprecate it;
 * the coprocessor later fetches the model by its hash, so the version a job is pinned to is exactly what gets
 * evaluated. A refusal (ModelVersionNotNext, ModelAlreadyPublished, no HOSPITAL_ROLE) comes back as a named
 * ContractCallError.
 */
export async function publishModel(hospital: Signer, contractAddress: string, blobs: BlobClient, model: Model): Promise<PublishedModel> {
  if (!hospital.provider) throw new Error("the hospital's signer needs a provider");
  const contract = connectPmhe(contractAddress, hospital);
  const modelHash = hashOfModel(model);
  const locator = blobs.urlOf(modelHash);
  // Checked before the upload, so a refused publication leaves nothing pending in the store.
  await namedContractCall("publishModel", () => contract.publishModel.staticCall(modelHash, model.name, model.version, locator));
  // The upload is signed by the hospital: the store takes models only from HOSPITAL_ROLE holders.
  const domain = await uploadDomainFor(hospital.provider, contractAddress);
  const stored = await blobs.put(modelBytes(model), { signer: hospital, purpose: "model", domain });
  if (stored !== modelHash) throw new Error("the blob store and the model disagree on the model hash");
  await namedContractCall("publishModel", async () => (await contract.publishModel(modelHash, model.name, model.version, locator)).wait());
  return { modelId: modelIdOf(await hospital.getAddress(), modelHash), modelHash };
}
