import { useCallback, useEffect, useRef, useState } from "react";
import type { AppConfig } from "../../../../../protocol/app-config.js";
import { NoWalletError, WalletOnOtherChainError } from "../app-errors.js";
import type { ConnectedWallet } from "../context.js";
import { connectedWallet } from "./connected-wallet.js";
import type { WalletDetail } from "./discovery.js";
import { parseChainId, type Eip1193 } from "./eip1193.js";
import { switchToConfiguredChain } from "./switch-chain.js";
import { useWalletDiscovery } from "./useWalletDiscovery.js";

/** Remembered across visits: which wallet the person connected last (its rdns), so it reconnects without a prompt. */
const REMEMBERED = "pmhe.wallet";

export type WalletStatus =
  | { kind: "searching" }
  | { kind: "none" }
  | { kind: "disconnected" }
  | { kind: "connecting"; name: string }
  | { kind: "wrong-chain"; name: string; address: string; chainId: number }
  | { kind: "connected"; wallet: ConnectedWallet };

export interface WalletState {
  wallets: WalletDetail[];
  status: WalletStatus;
  wallet: ConnectedWallet | undefined;
  /** Connects `detail` (default: the first, MetaMask when there are several), switching chains if needed. */
  connect(detail?: WalletDetail): Promise<ConnectedWallet>;
  /** Asks the connected wallet to switch to (or add) the configured chain. */
  switchChain(): Promise<ConnectedWallet>;
  /** Forgets the connection on this page (a wallet has no standard way to disconnect a site). */
  disconnect(): void;
  /** The error of the wrong network, for the shell's notice. */
  wrongChainError: WalletOnOtherChainError | undefined;
}

const asProvider = (detail: WalletDetail) => detail.provider as unknown as Eip1193;

async function accountsOf(provider: Eip1193, method: "eth_accounts" | "eth_requestAccounts"): Promise<string[]> {
  const answer = await provider.request({ method });
  return Array.isArray(answer) ? answer.map(String) : [];
}

/**
 * The person's wallet: discovery (EIP-6963), connection (eth_requestAccounts), the configured chain
 * (wallet_switchEthereumChain, then wallet_addEthereumChain on 4902), and what the wallet says later
 * (accountsChanged, chainChanged). A wallet on another chain is not handed to views: they see `undefined`.
 */
export function useWallet(config: AppConfig): WalletState {
  const { wallets, settled } = useWalletDiscovery();
  const [status, setStatus] = useState<WalletStatus>({ kind: "searching" });
  const active = useRef<WalletDetail | undefined>(undefined);

  /** Reads the wallet's account and chain now and sets the status from them (no prompt). */
  const refresh = useCallback(
    async (detail: WalletDetail, accounts?: string[]): Promise<ConnectedWallet | undefined> => {
      const provider = asProvider(detail);
      const [address] = accounts ?? (await accountsOf(provider, "eth_accounts"));
      if (!address) {
        setStatus({ kind: "disconnected" });
        return undefined;
      }
      const chainId = parseChainId(await provider.request({ method: "eth_chainId" }));
      if (chainId !== config.chainId) {
        setStatus({ kind: "wrong-chain", name: detail.info.name, address: address.toLowerCase(), chainId });
        return undefined;
      }
      const wallet = connectedWallet(detail, address, config);
      setStatus({ kind: "connected", wallet });
      return wallet;
    },
    [config],
  );

  // Follow the active wallet's events.
  const [listening, setListening] = useState<WalletDetail | undefined>(undefined);
  useEffect(() => {
    if (!listening) return;
    const provider = asProvider(listening);
    const onAccounts = (value: unknown) => {
      const accounts = Array.isArray(value) ? value.map(String) : [];
      if (accounts.length === 0) {
        setStatus({ kind: "disconnected" });
        return;
      }
      void refresh(listening, accounts).catch(() => setStatus({ kind: "disconnected" }));
    };
    const onChain = () => void refresh(listening).catch(() => setStatus({ kind: "disconnected" }));
    const onDisconnect = () => setStatus({ kind: "disconnected" });
    provider.on?.("accountsChanged", onAccounts);
    provider.on?.("chainChanged", onChain);
    provider.on?.("disconnect", onDisconnect);
    return () => {
      provider.removeListener?.("accountsChanged", onAccounts);
      provider.removeListener?.("chainChanged", onChain);
      provider.removeListener?.("disconnect", onDisconnect);
    };
  }, [listening, refresh]);

  // Discovery settled: no wallet, or reconnect the remembered one silently (eth_accounts never prompts).
  useEffect(() => {
    if (!settled || active.current) return;
    if (wallets.length === 0) {
      setStatus({ kind: "none" });
      return;
    }
    const remembered = localStorage.getItem(REMEMBERED);
    const detail = wallets.find((w) => w.info.rdns === remembered);
    if (!detail) {
      setStatus((s) => (s.kind === "searching" || s.kind === "none" ? { kind: "disconnected" } : s));
      return;
    }
    active.current = detail;
    setListening(detail);
    void refresh(detail).catch(() => setStatus({ kind: "disconnected" }));
  }, [settled, wallets, refresh]);

  const connect = useCallback(
    async (chosen?: WalletDetail): Promise<ConnectedWallet> => {
      const detail = chosen ?? active.current ?? wallets[0];
      if (!detail) throw new NoWalletError();
      const provider = asProvider(detail);
      active.current = detail;
      setListening(detail);
      setStatus({ kind: "connecting", name: detail.info.name });
      let accounts: string[];
      try {
        accounts = await accountsOf(provider, "eth_requestAccounts");
        if (accounts.length === 0) throw new Error(`${detail.info.name} gave no account`);
      } catch (err) {
        // Not connected: whatever eth_accounts says, the person did not give this page an account now.
        active.current = undefined;
        setListening(undefined);
        setStatus({ kind: "disconnected" });
        throw err;
      }
      try {
        const chainId = parseChainId(await provider.request({ method: "eth_chainId" }));
        if (chainId !== config.chainId) await switchToConfiguredChain(provider, config);
        localStorage.setItem(REMEMBERED, detail.info.rdns);
        const wallet = await refresh(detail, accounts);
        if (!wallet) throw new WalletOnOtherChainError(config.chainId, chainId, config.chainName);
        return wallet;
      } catch (err) {
        await refresh(detail).catch(() => setStatus({ kind: "disconnected" }));
        throw err;
      }
    },
    [wallets, config, refresh],
  );

  const switchChain = useCallback(async (): Promise<ConnectedWallet> => {
    const detail = active.current;
    if (!detail) return connect();
    await switchToConfiguredChain(asProvider(detail), config);
    const wallet = await refresh(detail);
    if (!wallet) throw new WalletOnOtherChainError(config.chainId, config.chainId, config.chainName);
    return wallet;
  }, [config, connect, refresh]);

  const disconnect = useCallback(() => {
    localStorage.removeItem(REMEMBERED);
    active.current = undefined;
    setListening(undefined);
    setStatus({ kind: "disconnected" });
  }, []);

  const wallet = status.kind === "connected" ? status.wallet : undefined;
  const wrongChainError = status.kind === "wrong-chain" ? new WalletOnOtherChainError(config.chainId, status.chainId, config.chainName) : undefined;
  return { wallets, status, wallet, connect, switchChain, disconnect, wrongChainError };
}
