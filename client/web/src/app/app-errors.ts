import { AppConfigError } from "../../../../protocol/app-config.js";
import { BlobStoreError } from "../../../../protocol/blob-client.js";
import { errorView, type ErrorContext, type ErrorView } from "../../../error-view.js";

/**
 * The app's own errors, worded on top of client/error-view.ts (as the CLI adds its Node-only ones): what only a
 * browser meets (no wallet at all, a wallet that refuses to switch networks, the app's configuration). Everything
 * else goes to `errorView`, the one definition shared with the CLI.
 */

/** No EIP-6963 wallet announced itself in this browser. */
export class NoWalletError extends Error {
  constructor() {
    super("No Ethereum wallet was found in this browser, so nothing can be signed or sent.");
    this.name = "NoWalletError";
  }
}

/** The wallet is connected but on another chain, and the person has not switched yet. */
export class WalletOnOtherChainError extends Error {
  constructor(readonly expectedChainId: number, readonly actualChainId: number, readonly chainName: string) {
    super(`Your wallet is on chain ${actualChainId}, but this app works with ${chainName} (chain ${expectedChainId}).`);
    this.name = "WalletOnOtherChainError";
  }
}

/** A wallet refused both to switch to and to add the configured chain (not a user rejection: it cannot). */
export class ChainSwitchError extends Error {
  constructor(readonly expectedChainId: number, readonly chainName: string, reason: string, options?: { cause?: unknown }) {
    super(`The wallet could not switch to ${chainName} (chain ${expectedChainId}): ${reason}.`, options);
    this.name = "ChainSwitchError";
  }
}

/** The person stopped following a job: it stays on-chain and settles without the page. */
export class StoppedWatchingError extends Error {
  constructor() {
    super("You stopped waiting for this prediction. Its job stays on-chain and the coprocessors settle it without this page.");
    this.name = "StoppedWatchingError";
  }
}

export function appErrorView(error: unknown, context: ErrorContext): ErrorView {
  if (error instanceof NoWalletError) {
    return {
      kind: "unknown",
      title: "No wallet found",
      sentence: error.message,
      next: "install MetaMask (or another Ethereum wallet extension), then reload this page; reading the chain works without one",
      retryable: true,
      code: "no_wallet",
    };
  }
  if (error instanceof WalletOnOtherChainError) {
    return {
      kind: "wrong-chain",
      title: "Wrong network",
      sentence: error.message,
      next: `switch the wallet to ${error.chainName} (the button below asks the wallet to switch, or to add it)`,
      retryable: true,
      code: "wrong_chain",
    };
  }
  if (error instanceof ChainSwitchError) {
    return {
      kind: "wrong-chain",
      title: "Could not switch network",
      sentence: error.message,
      next: `add the network by hand in the wallet (chain id ${error.expectedChainId}, RPC URL ${context.rpcUrl ?? "from the app's configuration"}), then try again`,
      retryable: true,
      code: "switch_refused",
    };
  }
  if (error instanceof StoppedWatchingError) {
    return { kind: "timeout", title: "Stopped waiting", sentence: error.message, next: "open My results later: the result is there once it is settled", retryable: true };
  }
  if (error instanceof AppConfigError) {
    return { kind: "deployment", title: "App configuration unusable", sentence: error.message, next: "reload the page; if it persists, ask whoever runs this deployment", retryable: true };
  }
  if (error instanceof BlobStoreError && error.code === "erased") {
    // error-view.ts words this as a misconfigured store; for the patient it is their own erasure.
    return {
      kind: "blob-store",
      title: "Record erased",
      sentence: error.message,
      next: "this record was erased at its patient's request and can no longer be read; results decrypted before stay in your history on the device that decrypted them",
      retryable: false,
      code: "erased",
    };
  }
  return errorView(error, { ...context, surface: "app" });
}
