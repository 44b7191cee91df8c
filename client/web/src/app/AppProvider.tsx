import { Network } from "ethers";
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { AppConfig } from "../../../../protocol/app-config.js";
import { BlobClient } from "../../../../protocol/blob-client.js";
import { connectPmhe } from "../../../../protocol/chain.js";
import { AppContext, type AppContextValue, type AppWorker } from "./context.js";
import { spawnFheWorker } from "./fhe-worker.js";
import { useHealth, type Health } from "./useHealth.js";
import { useWallet, type WalletState } from "./wallet/useWallet.js";
import { NativeJsonRpcProvider } from "../../../../protocol/rpc.js";

/** What the shell's own parts need beyond the views' context: wallet status, health, the error it shows. */
export interface ShellState {
  walletState: WalletState;
  health: Health;
  reported: { id: number; error: unknown } | undefined;
  dismiss(): void;
}

/**
 * Owns everything views share (AppContextValue): the read provider, the contract, the blob store, the wallet and
 * the FHE worker, and cleans them up when the configuration changes or the page goes away.
 */
export function AppProvider({ config, children }: { config: AppConfig; children: (shell: ShellState) => ReactNode }) {
  const readProvider = useMemo(() => {
    const network = Network.from(config.chainId);
    // No answer cache (ethers keeps identical answers 250 ms by default): a view that reads the chain right after
    // the wallet's transaction was mined must see that block, or it shows the state from before it.
    return new NativeJsonRpcProvider(config.rpcUrl, network, { staticNetwork: network, pollingInterval: 2000, cacheTimeout: -1 });
  }, [config]);
  const contract = useMemo(() => connectPmhe(config.contractAddress, readProvider), [config, readProvider]);
  const blobs = useMemo(() => new BlobClient(config.apiUrl), [config]);
  const walletState = useWallet(config);
  const health = useHealth(config, readProvider);

  const [reported, setReported] = useState<{ id: number; error: unknown } | undefined>(undefined);
  const reportError = useCallback((error: unknown) => {
    console.error(error);
    setReported((r) => ({ id: (r?.id ?? 0) + 1, error }));
  }, []);
  const dismiss = useCallback(() => setReported(undefined), []);

  // The worker is started on first use and kept for the page's life.
  const worker = useRef<{ api: Promise<AppWorker>; terminate(): void } | undefined>(undefined);
  const getWorker = useCallback((): Promise<AppWorker> => {
    if (!worker.current) {
      const spawned = spawnFheWorker((error) => {
        worker.current = undefined; // the next call starts a new one
        reportError(error);
      });
      spawned.api.catch(() => {
        if (worker.current?.api === spawned.api) worker.current = undefined;
      });
      worker.current = { api: spawned.api, terminate: spawned.terminate };
    }
    return worker.current.api;
  }, [reportError]);
  useEffect(
    () => () => {
      worker.current?.terminate();
      worker.current = undefined;
    },
    [],
  );

  const { connect: connectWallet } = walletState;
  const connect = useCallback(() => connectWallet(), [connectWallet]);

  const value = useMemo<AppContextValue>(
    () => ({ config, readProvider, contract, blobs, wallet: walletState.wallet, connect, worker: getWorker, reportError }),
    [config, readProvider, contract, blobs, walletState.wallet, connect, getWorker, reportError],
  );
  const shell = useMemo<ShellState>(() => ({ walletState, health, reported, dismiss }), [walletState, health, reported, dismiss]);
  return <AppContext.Provider value={value}>{children(shell)}</AppContext.Provider>;
}
