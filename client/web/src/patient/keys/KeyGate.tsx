import { getAddress } from "ethers";
import { InlineError } from "../common/InlineError.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { KeyActions } from "./KeyActions.js";

/** In place of a view that needs the patient's keys, while they are not open. */
export function KeyGate({ purpose }: { purpose: string }) {
  const session = usePatient();
  const backup = session.backedUp.state === "known" ? session.backedUp.value !== undefined : undefined;
  return (
    <div className="card key-gate" data-testid="key-gate" data-phase={session.keys.phase}>
      <h2>Your keys are needed {purpose}</h2>
      {session.keys.phase === "checking" && <p>Looking for your keys on this device…</p>}
      {session.keys.phase === "locked" && <p>Your keys are on this device, sealed under your wallet.</p>}
      {session.keys.phase === "absent" && <p>This device holds no keys for {getAddress(session.address)}.</p>}
      <KeyActions backupExists={backup} />
      <WalletPromptLine prompt={session.prompt} busy={session.busy} />
      <InlineError error={session.error} onDismiss={session.clearError} testId="keys-error" />
      <p className="hint">
        Registering and backing up are on <a href="#/patient/keys">My keys</a>.
      </p>
    </div>
  );
}
