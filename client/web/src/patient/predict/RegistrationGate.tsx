import { InlineError } from "../common/InlineError.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { usePatient } from "../session/PatientSessionContext.js";

/** Predictions need the open keys registered on-chain: says so, with the button, until they are. */
export function RegistrationGate() {
  const session = usePatient();
  const mine = session.keys.phase === "open" ? session.keys.stored.keyBundleHash : undefined;
  const { registered } = session;
  if (registered.state === "known" && registered.value === mine) return null;
  if (registered.state === "checking") return <p className="status-line">Checking your registration on-chain…</p>;
  return (
    <div className="card gate" data-testid="registration-gate">
      <h2>Register your keys first</h2>
      <p>
        {registered.state === "known" && registered.value
          ? "The chain holds other keys for you. Register these (the coprocessors evaluate with the registered ones)."
          : "The coprocessors need your public key bundle to evaluate the model: it is uploaded and its hash registered on-chain, once."}
      </p>
      <p className="hint">
        Your wallet asks twice: a signature that lets this page upload your encrypted data for the next 12 hours (with a
        key it keeps in memory only), and the registration transaction. After that, each prediction asks for one
        transaction.
      </p>
      {registered.state === "failed" && <InlineError error={registered.error} />}
      <button type="button" className="primary" data-testid="keys-register" disabled={session.busy !== undefined} onClick={() => void session.register().catch(() => undefined)}>
        Register my keys
      </button>
      <WalletPromptLine prompt={session.prompt} busy={session.busy} />
      <InlineError error={session.error} onDismiss={session.clearError} testId="keys-error" />
    </div>
  );
}
