import { useId } from "react";
import { usePatient } from "../session/PatientSessionContext.js";

/** Restores from a backup file (a key backup fetched elsewhere) instead of the blob store's copy. */
export function RestoreFromFile() {
  const session = usePatient();
  const id = useId();
  return (
    <details className="advanced">
      <summary>Restore from a backup file instead</summary>
      <p className="hint">A key backup is sealed under the wallet that made it: only that wallet opens it.</p>
      <label htmlFor={id}>Key backup file</label>
      <input
        id={id}
        type="file"
        data-testid="keys-restore-file"
        disabled={session.busy !== undefined}
        onChange={(event) => {
          const file = event.currentTarget.files?.[0];
          event.currentTarget.value = "";
          if (file) void file.arrayBuffer().then((buffer) => session.restore(new Uint8Array(buffer))).catch(() => undefined);
        }}
      />
    </details>
  );
}
