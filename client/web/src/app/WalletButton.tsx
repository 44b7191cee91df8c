import { useApp } from "./context.js";
import { shortAddress } from "./format.js";
import type { WalletState } from "./wallet/useWallet.js";

/** The header's wallet control: connect (choosing among wallets when there are several), the account, switch. */
export function WalletButton({ state }: { state: WalletState }) {
  const { reportError } = useApp();
  const { status, wallets } = state;
  const run = (action: () => Promise<unknown>) => void action().catch(reportError);

  switch (status.kind) {
    case "searching":
      return <span className="wallet-chip muted" data-testid="wallet-status">Looking for wallets…</span>;
    case "none":
      return <span className="wallet-chip warn" data-testid="wallet-status">No wallet</span>;
    case "connecting":
      return <span className="wallet-chip" data-testid="wallet-status" aria-live="polite">Connecting {status.name}…</span>;
    case "wrong-chain":
      return (
        <button type="button" className="wallet-chip warn" data-testid="wallet-switch-chain" onClick={() => run(state.switchChain)}>
          Wrong network: switch
        </button>
      );
    case "connected":
      return (
        <details className="wallet-menu">
          <summary className="wallet-chip ok" data-testid="wallet-address" data-address={status.wallet.address} title={status.wallet.address}>
            {status.wallet.name} · {shortAddress(status.wallet.address)}
          </summary>
          <div className="menu">
            <p className="menu-note">
              Connected as <code>{status.wallet.address}</code>
            </p>
            <button type="button" onClick={state.disconnect}>
              Disconnect from this page
            </button>
          </div>
        </details>
      );
    case "disconnected":
      if (wallets.length <= 1) {
        return (
          <button type="button" className="primary" data-testid="wallet-connect" onClick={() => run(() => state.connect())}>
            Connect wallet
          </button>
        );
      }
      return (
        <details className="wallet-menu">
          <summary className="button primary" data-testid="wallet-connect">
            Connect wallet
          </summary>
          <div className="menu" role="group" aria-label="Choose a wallet">
            {wallets.map((detail) => (
              <button type="button" key={detail.info.uuid} data-testid={`wallet-option-${detail.info.rdns}`} onClick={() => run(() => state.connect(detail))}>
                <img src={detail.info.icon} alt="" width={20} height={20} /> {detail.info.name}
              </button>
            ))}
          </div>
        </details>
      );
  }
}
