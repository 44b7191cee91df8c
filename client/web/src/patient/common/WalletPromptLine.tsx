import type { WalletPrompt } from "../session/session-signer.js";

/** "Confirm in your wallet: …" while the wallet is asked for something; an empty line of the same height otherwise. */
export function WalletPromptLine({ prompt, busy }: { prompt: WalletPrompt | undefined; busy?: string | undefined }) {
  const text = prompt
    ? prompt.kind === "transaction"
      ? `Confirm the ${prompt.what} in your wallet.`
      : `Sign in your wallet: ${prompt.what}.`
    : (busy ?? "");
  return (
    <p className={`status-line${prompt ? " status-prompt" : ""}`} role="status" aria-live="polite" data-testid="session-status">
      {text ? (
        <>
          <span className="spinner" aria-hidden="true" /> {text}
        </>
      ) : (
        " "
      )}
    </p>
  );
}
