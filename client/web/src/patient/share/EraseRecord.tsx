import type { Hash } from "../../../../../protocol/hash.js";
import { shortHash } from "../../app/format.js";
import { InlineError } from "../common/InlineError.js";
import { useAction } from "../common/useAction.js";
import { usePatient } from "../session/PatientSessionContext.js";

/** Erases one record: flagged on-chain (no job can use it again), then deleted from the blob store (signed). */
export function EraseRecord({ recordHash, onErased }: { recordHash: Hash; onErased?: () => void }) {
  const session = usePatient();
  const erase = useAction(async () => {
    if (!session.client) throw new Error("unlock your keys first");
    const done = await session.client.eraseRecord(recordHash);
    onErased?.();
    return done;
  });
  return (
    <div className="erase">
      <button
        type="button"
        className="danger small"
        data-testid="erase-record"
        disabled={erase.running}
        onClick={() => {
          if (confirm(`Erase record ${shortHash(recordHash)}? No prediction can use it again, and the blob store deletes its ciphertext. Results already decrypted stay in your history on this device.`)) void erase.run();
        }}
      >
        {erase.running ? "Erasing…" : "Erase record"}
      </button>
      {erase.result && (
        <p className="ok-text" data-testid="erase-done">
          Erased{erase.result.txHash ? " on-chain" : " (it already was on-chain)"}; {erase.result.blobNote}.
        </p>
      )}
      <InlineError error={erase.error} onDismiss={erase.clear} testId="erase-error" />
    </div>
  );
}
