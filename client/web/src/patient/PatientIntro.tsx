import { useApp } from "../app/context.js";

/** What a patient sees before connecting a wallet: what PMHE does with their data, and the one button. */
export function PatientIntro() {
  const { connect, reportError } = useApp();
  return (
    <div className="intro">
      <h1>Private risk predictions on your own readings</h1>
      <ol className="intro-steps">
        <li>
          <strong>Your device encrypts your readings</strong> with a key only your device holds (CKKS homomorphic encryption, in a
          background worker of this page).
        </li>
        <li>
          <strong>The hospital's model runs on the encrypted numbers.</strong> The coprocessor never sees your readings or the
          result; the chain records the hashes, so nothing can be swapped unnoticed.
        </li>
        <li>
          <strong>Only you decrypt the result,</strong> on this device, after checking it against the chain.
        </li>
      </ol>
      <p>Your wallet signs and pays for the transactions, and its signature protects your secret key on this device and in your backup.</p>
      <button type="button" className="primary large" data-testid="patient-connect" onClick={() => void connect().catch(reportError)}>
        Connect your wallet
      </button>
    </div>
  );
}
