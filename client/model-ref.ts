import { getAddress } from "ethers";
import { modelIdOf } from "../protocol/chain.js";
import type { Hash } from "../protocol/hash.js";
import { modelHash, type Model } from "../protocol/model.js";

/**
 * A model as a patient refers to it: its content (the client stages run on this device need it) and its on-chain id.
 * Ids are per publisher (`keccak256(abi.encode(publisher, contentHash))`), so the same file published by two
 * hospitals is two models; the client checks on-chain that the id stands for exactly this content before using it.
 */
export interface ModelRef {
  model: Model;
  id: Hash;
}

/** The reference to `model` as published by `publisher`. */
export function modelRef(model: Model, publisher: string): ModelRef {
  return { model, id: modelIdOf(getAddress(publisher), modelHash(model)) };
}
