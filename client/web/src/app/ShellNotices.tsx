import { NoWalletError } from "./app-errors.js";
import { useApp } from "./context.js";
import { ErrorPanel } from "./ErrorPanel.js";
import type { ShellState } from "./AppProvider.js";
import { useDescribeError } from "./useDescribeError.js";

/**
 * What the shell has to say above every view: no wallet (only where the view needs one: an auditor reads the chain
 * without), wrong network (with the switch), the chain or the coprocessor down (naming the URL), and the last error a
 * view reported.
 */
export function ShellNotices({ shell, needsWallet }: { shell: ShellState; needsWallet: boolean }) {
  const { reportError } = useApp();
  const describe = useDescribeError();
  const { walletState, health, reported, dismiss } = shell;
  return (
    <div className="notices" aria-live="polite">
      {needsWallet && walletState.status.kind === "none" && <ErrorPanel testId="notice-no-wallet" view={describe(new NoWalletError())} />}
      {walletState.wrongChainError && (
        <ErrorPanel testId="notice-wrong-chain" view={describe(walletState.wrongChainError)}>
          <button type="button" className="primary" data-testid="switch-chain" onClick={() => void walletState.switchChain().catch(reportError)}>
            Switch to the right network
          </button>
        </ErrorPanel>
      )}
      {health.chain.state === "down" && (
        <ErrorPanel testId="notice-chain-down" view={describe(health.chain.error)}>
          <button type="button" onClick={health.recheck}>
            Check again
          </button>
        </ErrorPanel>
      )}
      {health.api.state === "down" && (
        <ErrorPanel testId="notice-api-down" view={describe(health.api.error)}>
          <button type="button" onClick={health.recheck}>
            Check again
          </button>
        </ErrorPanel>
      )}
      {reported && <ErrorPanel key={reported.id} testId="app-error" view={describe(reported.error)} onDismiss={dismiss} />}
    </div>
  );
}
