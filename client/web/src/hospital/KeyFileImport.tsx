import { useId, useState, type ChangeEvent } from "react";
import { hospitalKeyPairOf, parseHospitalKeyFile } from "../../../../protocol/hospital-key-file.js";
import type { HospitalKeyPair } from "../../../../protocol/result-share.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import HashText from "../auditor/common/HashText.js";

/**
 * Importing the hospital's key file (`npm run hospital -- keygen` writes it). The secret key is read into this
 * page's memory and nowhere else: not stored, not sent; leaving the page or reloading forgets it.
 */
export default function KeyFileImport(props: {
  pair: HospitalKeyPair | undefined;
  registeredKey: string | undefined;
  onPair: (pair: HospitalKeyPair | undefined) => void;
}) {
  const inputId = useId();
  const [error, setError] = useState<unknown>(undefined);
  const pick = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    try {
      const pair = hospitalKeyPairOf(parseHospitalKeyFile(await file.text(), file.name), file.name);
      setError(undefined);
      props.onPair(pair);
    } catch (err) {
      setError(err);
    }
  };
  const matches = props.pair && props.registeredKey ? props.pair.publicKey.toLowerCase() === props.registeredKey.toLowerCase() : undefined;
  return (
    <div className="hv-keyfile" data-testid="hospital-key-import">
      {props.pair ? (
        <div className="hv-key-loaded" data-testid="hospital-key-loaded" data-matches={String(matches)}>
          <p>
            Key loaded: public key <HashText value={props.pair.publicKey} short />{" "}
            {matches === true ? (
              <span className="pc-tone-ok">matches the key registered on-chain.</span>
            ) : (
              <span className="pc-tone-warn" data-testid="hospital-key-mismatch">
                {props.registeredKey
                  ? "is not the key registered on-chain: shares sealed to the registered key will not open with it."
                  : "no key is registered on-chain for this hospital."}
              </span>
            )}
          </p>
          <p className="hv-summary">The secret key stays in this page's memory only; leaving the page or reloading forgets it.</p>
          <button type="button" className="pc-button pc-button-quiet" onClick={() => props.onPair(undefined)} data-testid="hospital-key-forget">
            Forget the key
          </button>
        </div>
      ) : (
        <div className="pc-field">
          <label htmlFor={inputId}>Hospital key file (the JSON file `npm run hospital -- keygen` wrote)</label>
          <input id={inputId} type="file" accept=".json,application/json" onChange={(e) => void pick(e)} data-testid="hospital-key-file" />
        </div>
      )}
      {error !== undefined ? <ErrorNote error={error} testId="hospital-key-error" /> : null}
    </div>
  );
}
