import type { AppConfig } from "../../../../../protocol/app-config.js";
import { isUserRejection } from "../../../../errors.js";
import { ChainSwitchError } from "../app-errors.js";
import { hexChainId, parseChainId, providerErrorCode, type Eip1193 } from "./eip1193.js";

/**
 * Asks the wallet to switch to the configured chain; a wallet that does not know it (4902) is asked to add it, with
 * the configuration's name, currency and RPC URL. A refusal by the person (4001) is thrown as it is (the error view
 * says "Declined in the wallet"); a wallet that cannot do either, as ChainSwitchError.
 */
export async function switchToConfiguredChain(provider: Eip1193, config: AppConfig): Promise<void> {
  const chainId = hexChainId(config.chainId);
  try {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (err) {
    if (isUserRejection(err)) throw err;
    if (providerErrorCode(err) !== 4902) throw new ChainSwitchError(config.chainId, config.chainName, (err as Error).message ?? String(err), { cause: err });
    await addChain(provider, config);
  }
  const now = parseChainId(await provider.request({ method: "eth_chainId" }));
  if (now !== config.chainId) {
    throw new ChainSwitchError(config.chainId, config.chainName, `it stayed on chain ${now}`);
  }
}

async function addChain(provider: Eip1193, config: AppConfig): Promise<void> {
  const params = {
    chainId: hexChainId(config.chainId),
    chainName: config.chainName,
    nativeCurrency: config.nativeCurrency,
    rpcUrls: [config.rpcUrl],
    ...(config.blockExplorer ? { blockExplorerUrls: [config.blockExplorer.url] } : {}),
  };
  try {
    await provider.request({ method: "wallet_addEthereumChain", params: [params] });
  } catch (err) {
    if (isUserRejection(err)) throw err;
    throw new ChainSwitchError(config.chainId, config.chainName, `it could not add the network (${(err as Error).message ?? String(err)})`, { cause: err });
  }
}
