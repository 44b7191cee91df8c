import { usePatient } from "../session/PatientSessionContext.js";

/**
 * What can be done with the keys of this device in their current state: unlock them (one wallet signature), or,
 * when there are none, restore the backup or make new ones.
 */
export function KeyActions({ backupExists }: { backupExists: boolean | undefined }) {
  const session = usePatient();
  const ignore = () => undefined; // errors are shown by the session's error panel
  const disabled = session.busy !== undefined;
  if (session.keys.phase === "locked") {
    return (
      <div className="actions">
        <button type="button" className="primary" data-testid="keys-unlock" disabled={disabled} onClick={() => void session.unlock().catch(ignore)}>
          Unlock my keys
        </button>
        <span className="hint">One signature in your wallet opens them for this visit.</span>
      </div>
    );
  }
  if (session.keys.phase === "absent") {
    // The two buttons keep their places (and their DOM nodes: keyed) while the backup check is still running, so
    // a click aimed at one can never land on the other when the answer arrives; only the emphasis moves.
    return (
      <div className="actions">
        <button key="restore" type="button" className={backupExists ? "primary" : ""} data-testid="keys-restore" disabled={disabled} onClick={() => void session.restore().catch(ignore)}>
          Restore from my backup
        </button>
        <button key="create" type="button" className={backupExists === false ? "primary" : ""} data-testid="keys-create" disabled={disabled} onClick={() => void session.createKeys().catch(ignore)}>
          Make new keys
        </button>
        <span className="hint">
          {backupExists === undefined
            ? "Restore your keys from their backup, or make new ones on this device."
            : backupExists
              ? "A backup of your keys exists: restoring it lets you read your earlier results. New keys cannot."
              : "No backup was found for this wallet. New keys are made on this device, in the encryption worker."}
        </span>
      </div>
    );
  }
  return null;
}
