import { BrowserProvider, JsonRpcSigner, Network, type Eip1193Provider } from "ethers";
import type { AppConfig } from "../../../../../protocol/app-config.js";
import { connectPmhe } from "../../../../../protocol/chain.js";
import type { ConnectedWallet } from "../context.js";
import type { WalletDetail } from "./discovery.js";

/**
 * The wallet as views get it, for `address` on the configured chain (checked by the caller). The BrowserProvider is
 * pinned to the configured network: after a chainChanged the shell builds a new one rather than reuse this one.
 */
export function connectedWallet(detail: WalletDetail, address: string, config: AppConfig): ConnectedWallet {
  const provider = detail.provider as unknown as Eip1193Provider;
  const network = Network.from(config.chainId);
  const browser = new BrowserProvider(provider, network, { staticNetwork: network, pollingInterval: 1000 });
  const signer = new JsonRpcSigner(browser, address.toLowerCase());
  return {
    address: address.toLowerCase(),
    provider,
    signer,
    contract: connectPmhe(config.contractAddress, signer),
    name: detail.info.name,
  };
}
