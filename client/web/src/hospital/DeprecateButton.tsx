import { useState } from "react";
import { namedContractCall } from "../../../../protocol/contract-errors.js";
import { useApp } from "../app/context.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import { HOSPITAL_HINTS } from "./hints.js";
import { useAction } from "./useAction.js";
import type { PublishedModelInfo } from "./usePublishedModels.js";

/** Deprecating one model, after a confirmation: no new job may use it, and it cannot be undone. */
export default function DeprecateButton(props: { model: PublishedModelInfo; onDone: () => void }) {
  const { model } = props;
  const { wallet } = useApp();
  const [confirming, setConfirming] = useState(false);
  const { state, run } = useAction<void>();
  const deprecate = () =>
    run(async (step) => {
      if (!wallet) throw new Error("connect the hospital's wallet first");
      step("Checking with the contract…");
      await namedContractCall("deprecateModel", () => wallet.contract.deprecateModel.staticCall(model.modelId));
      step("Confirm the transaction in your wallet…");
      const tx = await namedContractCall("deprecateModel", () => wallet.contract.deprecateModel(model.modelId));
      step("Waiting for the transaction to be mined…");
      await namedContractCall("deprecateModel", () => tx.wait());
      setConfirming(false);
      props.onDone();
    });
  const label = `${model.name} v${model.version}`;
  return (
    <div className="hv-deprecate" data-testid="hospital-deprecate">
      {confirming ? (
        <div role="group" aria-label={`Deprecate ${label}?`} className="hv-confirm">
          <span>Deprecate {label}? No new job can use it; this is final.</span>
          <button
            type="button"
            className="pc-button pc-button-danger"
            onClick={() => void deprecate()}
            disabled={state.status === "busy"}
            data-testid="hospital-deprecate-confirm"
          >
            {state.status === "busy" ? "Deprecating…" : "Deprecate"}
          </button>
          <button type="button" className="pc-button pc-button-quiet" onClick={() => setConfirming(false)} disabled={state.status === "busy"}>
            Cancel
          </button>
        </div>
      ) : (
        <button
          type="button"
          className="pc-button pc-button-quiet"
          onClick={() => setConfirming(true)}
          aria-label={`Deprecate ${label}`}
          data-testid="hospital-deprecate-button"
        >
          Deprecate
        </button>
      )}
      {state.status === "busy" ? (
        <p className="hv-step" aria-live="polite">
          {state.step}
        </p>
      ) : null}
      {state.status === "error" ? <ErrorNote error={state.error} hints={HOSPITAL_HINTS} testId="hospital-deprecate-error" /> : null}
    </div>
  );
}
