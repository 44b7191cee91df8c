import { createStore, type EIP6963ProviderDetail, type Store } from "mipd";

/** A wallet that announced itself through EIP-6963. */
export type WalletDetail = EIP6963ProviderDetail;

let store: Store | undefined;

/** The page's one EIP-6963 store (created on first use; it asks wallets to announce themselves). */
export function walletStore(): Store {
  store ??= createStore();
  return store;
}

const isMetaMask = (detail: WalletDetail) => detail.info.rdns === "io.metamask" || detail.info.rdns.startsWith("io.metamask.");

/** MetaMask first (the wallet the app is documented with), then in the order they announced themselves. */
export function sortWallets(details: readonly WalletDetail[]): WalletDetail[] {
  return [...details].sort((a, b) => Number(isMetaMask(b)) - Number(isMetaMask(a)));
}
