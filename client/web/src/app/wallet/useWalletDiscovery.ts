import { useEffect, useState } from "react";
import { sortWallets, walletStore, type WalletDetail } from "./discovery.js";

/** How long wallets get to announce themselves before the app says there is none. */
const ANNOUNCE_GRACE_MS = 800;

/** The wallets in this browser (EIP-6963), MetaMask first; `settled` once the grace period for announcing is over. */
export function useWalletDiscovery(): { wallets: WalletDetail[]; settled: boolean } {
  const [wallets, setWallets] = useState<WalletDetail[]>(() => sortWallets(walletStore().getProviders()));
  const [settled, setSettled] = useState(false);
  useEffect(() => {
    const unsubscribe = walletStore().subscribe((details) => setWallets(sortWallets(details)), { emitImmediately: true });
    const timer = setTimeout(() => setSettled(true), ANNOUNCE_GRACE_MS);
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, []);
  return { wallets, settled: settled || wallets.length > 0 };
}
