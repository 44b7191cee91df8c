import type { Eip1193Provider, JsonRpcProvider, JsonRpcSigner } from "ethers";
import { createContext, useContext } from "react";
import type { BlobClient } from "../../../../protocol/blob-client.js";
import type { AppConfig } from "../../../../protocol/app-config.js";
import type { PmheContract } from "../../../../protocol/chain.js";

/**
 * What every view of the app gets from the shell (App.tsx): the deployment it works with, a read-only view of the
 * chain (no wallet needed: auditors read events), the blob store, and, once the person connects one, their wallet.
 * Views never create providers or workers of their own: the shell owns them (and their clean-up).
 */
export interface ConnectedWallet {
  /** Lower-case address of the connected account. */
  address: string;
  /** The wallet's EIP-1193 provider, as discovered through EIP-6963. */
  provider: Eip1193Provider;
  /** A signer on that provider (ethers BrowserProvider): transactions and typed-data signatures go through the wallet. */
  signer: JsonRpcSigner;
  /** The PMHE contract bound to the signer. */
  contract: PmheContract;
  /** The wallet's name as it announced itself ("MetaMask", ...). */
  name: string;
}

export interface AppContextValue {
  config: AppConfig;
  /** A provider on `config.rpcUrl`, pinned to `config.chainId`: reads and event scans. */
  readProvider: JsonRpcProvider;
  /** The PMHE contract bound to `readProvider`. */
  contract: PmheContract;
  /** The coprocessor's blob store at `config.apiUrl`. */
  blobs: BlobClient;
  /** The connected wallet on the configured chain; undefined until the person connects (or while on another chain). */
  wallet: ConnectedWallet | undefined;
  /** Asks the wallet to connect (and to switch to, or add, the configured chain); resolves with the wallet. */
  connect(): Promise<ConnectedWallet>;
  /**
   * The FHE worker (SEAL's WASM loaded there, never on the page), started on first use and kept for the page's life.
   * Its API is `CryptoWorkerHost` (client/crypto/worker-host.ts) plus what the app's worker entry adds.
   */
  worker(): Promise<AppWorker>;
  /** Shows an error the shared way (client/error-view.ts): title, sentence, what to do next. */
  reportError(error: unknown): void;
}

/** The FHE worker as the page sees it (comlink-wrapped); see client/web/src/worker/fhe.worker.ts. */
export type AppWorker = import("../worker/api.js").FheWorkerApi;

export const AppContext = createContext<AppContextValue | undefined>(undefined);

/** The shell's context; views are only ever rendered inside the shell. */
export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp() outside the app shell");
  return value;
}
