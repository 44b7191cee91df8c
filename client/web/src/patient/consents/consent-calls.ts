import type { PmheContract } from "../../../../../protocol/chain.js";
import { namedContractCall } from "../../../../../protocol/contract-errors.js";

/**
 * Granting and revoking consent need the wallet, not the CKKS keys (a patient revokes from any device, keys or
 * not), so these go to the contract directly: tried first as a call (a refusal never reaches the wallet and comes
 * back named), then sent.
 */
export async function grantConsent(contract: PmheContract, hospital: string, expiresAt: number, mayReceiveResults: boolean): Promise<string> {
  await namedContractCall("grantConsent", () => contract.grantConsent.staticCall(hospital, expiresAt, mayReceiveResults));
  return namedContractCall("grantConsent", async () => {
    const receipt = await (await contract.grantConsent(hospital, expiresAt, mayReceiveResults)).wait();
    return receipt?.hash ?? "";
  });
}

export async function revokeConsent(contract: PmheContract, hospital: string): Promise<string> {
  await namedContractCall("revokeConsent", () => contract.revokeConsent.staticCall(hospital));
  return namedContractCall("revokeConsent", async () => {
    const receipt = await (await contract.revokeConsent(hospital)).wait();
    return receipt?.hash ?? "";
  });
}
