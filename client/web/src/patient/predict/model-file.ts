import type { AppModel } from "../../../../../protocol/app-config.js";
import type { BlobClient } from "../../../../../protocol/blob-client.js";
import { modelIdOf, type PmheContract } from "../../../../../protocol/chain.js";
import { namedContractCall } from "../../../../../protocol/contract-errors.js";
import { contentHash } from "../../../../../protocol/hash.js";
import { parseModelBytes, type Model } from "../../../../../protocol/model.js";
import { ModelMismatchError } from "../../../../errors.js";
import type { ModelRef } from "../../../../model-ref.js";

export interface LoadedModel {
  meta: AppModel;
  model: Model;
  ref: ModelRef;
  deprecated: boolean;
}

const cache = new Map<string, Promise<LoadedModel>>();

/**
 * A published model, as the patient's device will use it: fetched from the blob store by its hash, checked against
 * that hash, against the id the configuration names and against the chain (modelOf), and parsed. The model's
 * client stages run here on the patient's readings, so this file must be exactly what the hospital published.
 */
export function loadModel(meta: AppModel, blobs: BlobClient, contract: PmheContract): Promise<LoadedModel> {
  const key = `${meta.id}:${meta.hash}`;
  let loading = cache.get(key);
  if (!loading) {
    loading = (async () => {
      if (modelIdOf(meta.publisher, meta.hash) !== meta.id) throw new ModelMismatchError(meta.id, meta.hash, meta.hash);
      const [bytes, onChain] = await Promise.all([blobs.get(meta.hash), namedContractCall("modelOf", () => contract.modelOf(meta.id))]);
      if (!bytes) throw new Error(`the blob store does not hold model ${meta.name} v${meta.version} (${meta.hash}); ask the hospital to publish it again`);
      const actual = contentHash(bytes);
      if (actual !== meta.hash) throw new ModelMismatchError(meta.id, meta.hash, actual);
      const [, onChainHash, , deprecated] = onChain;
      if (onChainHash.toLowerCase() !== meta.hash) throw new ModelMismatchError(meta.id, onChainHash.toLowerCase() as typeof meta.hash, actual);
      const model = parseModelBytes(bytes);
      return { meta, model, ref: { model, id: meta.id }, deprecated };
    })();
    loading.catch(() => cache.delete(key));
    cache.set(key, loading);
  }
  return loading;
}
