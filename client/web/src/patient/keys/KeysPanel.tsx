import { shortHash } from "../../app/format.js";
import { InlineError } from "../common/InlineError.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { usePatient } from "../session/PatientSessionContext.js";
import type { Lookup } from "../session/usePatientSession.js";
import type { Hash } from "../../../../../protocol/hash.js";
import { ChecklistItem, type ItemState } from "./ChecklistItem.js";
import { KeyActions } from "./KeyActions.js";
import { RestoreFromFile } from "./RestoreFromFile.js";

/** Compares what the chain or the blob store holds with the key set open here. */
function compare(lookup: Lookup<Hash | undefined>, mine: Hash | undefined): { state: ItemState; value?: Hash } {
  if (lookup.state !== "known") return { state: lookup.state === "checking" ? "checking" : "warn" };
  if (lookup.value === undefined) return { state: "todo" };
  if (mine === undefined) return { state: "todo", value: lookup.value };
  return { state: lookup.value === mine ? "done" : "warn", value: lookup.value };
}

/** The patient's keys: on this device (sealed), registered on-chain, backed up; and the actions for each. */
export function KeysPanel() {
  const session = usePatient();
  const { keys } = session;
  const mine = keys.phase === "open" || keys.phase === "locked" ? keys.stored.keyBundleHash : undefined;
  const open = keys.phase === "open";
  const registration = compare(session.registered, mine);
  const backup = compare(session.backedUp, mine);
  const busy = session.busy !== undefined;
  const ignore = () => undefined;
  const backupExists = session.backedUp.state === "known" ? session.backedUp.value !== undefined : undefined;

  return (
    <div className="keys-panel">
      <h1>My keys</h1>
      <p className="lead">
        Your CKKS key set encrypts your readings and decrypts your results. The secret key never leaves this device unencrypted: it
        is kept sealed under a key only your wallet's signature gives, here and in your backup.
      </p>
      <WalletPromptLine prompt={session.prompt} busy={session.busy} />
      <InlineError error={session.error} onDismiss={session.clearError} testId="keys-error" />
      <ol className="checklist">
        <ChecklistItem state={open ? "done" : keys.phase === "checking" ? "checking" : "todo"} title="Keys on this device" testId="keys-state">
          <span data-testid="keys-phase" data-phase={keys.phase} className="visually-hidden">
            {keys.phase}
          </span>
          {keys.phase === "open" && (
            <>
              <p>
                Open for this visit. Key bundle <code data-testid="key-bundle-hash" title={keys.stored.keyBundleHash}>{shortHash(keys.stored.keyBundleHash)}</code>, sealed on this device{" "}
                {new Date(keys.stored.savedAt * 1000).toLocaleDateString()}.
              </p>
              <div className="actions">
                <button type="button" data-testid="keys-lock" onClick={() => void session.lock()}>
                  Lock now
                </button>
                <button
                  type="button"
                  className="danger"
                  data-testid="keys-forget"
                  disabled={busy}
                  onClick={() => {
                    const warning = backup.state === "done" ? "Your backup stays in the blob store." : "There is no backup of these keys: results encrypted under them can never be read again.";
                    if (confirm(`Remove your keys from this device? ${warning}`)) void session.forgetDevice().catch(ignore);
                  }}
                >
                  Remove from this device
                </button>
              </div>
            </>
          )}
          {keys.phase !== "open" && <KeyActions backupExists={backupExists} />}
          {keys.phase === "absent" && <RestoreFromFile />}
        </ChecklistItem>

        <ChecklistItem state={registration.state} title="Registered on-chain" testId="registration-status">
          {registration.state === "done" && <p>The chain holds these keys' public bundle: you can request predictions.</p>}
          {registration.state === "todo" && registration.value && (
            <p>
              Keys are registered for this wallet (<code>{shortHash(registration.value)}</code>). Unlock or restore them here to use them.
            </p>
          )}
          {registration.state === "todo" && !registration.value && <p>Not registered yet: your public key bundle (a few MB) is uploaded and its hash put on-chain, in one transaction.</p>}
          {registration.state === "warn" && registration.value && (
            <p>
              The chain holds another key bundle for you (<code>{shortHash(registration.value)}</code>). Registering these keys replaces it; results made
              under the old keys need the old keys to be read.
            </p>
          )}
          {session.registered.state === "failed" && <InlineError error={session.registered.error} />}
          {open && registration.state !== "done" && registration.state !== "checking" && (
            <div className="actions">
              <button type="button" className="primary" data-testid="keys-register" disabled={busy} onClick={() => void session.register().catch(ignore)}>
                Register my keys
              </button>
            </div>
          )}
        </ChecklistItem>

        <ChecklistItem state={backup.state} title="Backed up" testId="backup-status">
          {backup.state === "done" && <p>Your sealed secret key is in the blob store: this wallet alone restores it on another device.</p>}
          {backup.state === "todo" && backup.value && (
            <p>
              A backup of keys <code>{shortHash(backup.value)}</code> is in the blob store: restore it to use them on this device.
            </p>
          )}
          {backup.state === "todo" && !backup.value && <p>No backup yet. Without one, losing this device loses every result made under these keys.</p>}
          {backup.state === "warn" && backup.value && (
            <p>
              The backup in the blob store is of other keys (<code>{shortHash(backup.value)}</code>). Back these up too.
            </p>
          )}
          {session.backedUp.state === "failed" && <InlineError error={session.backedUp.error} />}
          {open && backup.state !== "done" && backup.state !== "checking" && (
            <div className="actions">
              <button type="button" className="primary" data-testid="keys-backup" disabled={busy} onClick={() => void session.backUp().catch(ignore)}>
                Back up my keys
              </button>
            </div>
          )}
        </ChecklistItem>
      </ol>
    </div>
  );
}
