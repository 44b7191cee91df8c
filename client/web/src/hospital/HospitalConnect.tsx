import { useApp } from "../app/context.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import { useAction } from "./useAction.js";

/** No wallet yet: the hospital connects the wallet that holds HOSPITAL_ROLE. */
export default function HospitalConnect() {
  const { connect, config } = useApp();
  const { state, run } = useAction<unknown>();
  return (
    <section className="pc-card" aria-labelledby="hv-connect-heading" data-testid="hospital-connect">
      <h2 id="hv-connect-heading">Connect the hospital's wallet</h2>
      <p>The wallet must hold HOSPITAL_ROLE on {config.chainName}: governance grants it when it registers the hospital.</p>
      <button type="button" className="pc-button" onClick={() => void run(() => connect())} disabled={state.status === "busy"} data-testid="hospital-connect-button">
        {state.status === "busy" ? "Waiting for the wallet…" : "Connect wallet"}
      </button>
      {state.status === "error" ? <ErrorNote error={state.error} testId="hospital-connect-error" /> : null}
    </section>
  );
}
