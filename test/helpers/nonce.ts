import type { JsonRpcProvider } from "ethers";

/**
 * An account's transaction count straight from the node: `provider.getTransactionCount` may answer from ethers'
 * short-lived request cache, which would hide a transaction sent a moment ago.
 */
export async function nonceOf(provider: JsonRpcProvider, address: string): Promise<number> {
  return Number(await provider.send("eth_getTransactionCount", [address, "latest"]));
}
