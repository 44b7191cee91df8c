import { useId, useState, type ChangeEvent } from "react";
import { publishModel, type PublishedModel } from "../../../../hospital/publish-model.js";
import { parseModel, type Model } from "../../../../protocol/model.js";
import { useApp } from "../app/context.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import HashText from "../auditor/common/HashText.js";
import { HOSPITAL_HINTS } from "./hints.js";
import ModelPreview from "./ModelPreview.js";
import { useAction } from "./useAction.js";

/**
 * Publishing a model: the hospital picks a model file, sees what it holds, and publishes it. Its canonical bytes go
 * to the blob store (an upload the wallet signs for the purpose `model`), its hash on-chain (`publishModel`); the
 * answer is the model id patients request.
 */
export default function PublishModel(props: { address: string; onPublished: (modelId: string) => void }) {
  const { wallet, config, blobs } = useApp();
  const inputId = useId();
  const [picked, setPicked] = useState<{ file: string; model?: Model; error?: unknown } | undefined>(undefined);
  const { state, run, reset } = useAction<PublishedModel>();

  const pick = async (event: ChangeEvent<HTMLInputElement>) => {
    reset();
    const file = event.target.files?.[0];
    if (!file) {
      setPicked(undefined);
      return;
    }
    try {
      let json: unknown;
      try {
        json = JSON.parse(await file.text());
      } catch (err) {
        throw new SyntaxError(`${file.name} is not JSON: ${(err as Error).message}`);
      }
      setPicked({ file: file.name, model: parseModel(json) });
    } catch (error) {
      setPicked({ file: file.name, error });
    }
  };

  const publish = (model: Model) =>
    run(async (step) => {
      if (!wallet) throw new Error("connect the hospital's wallet first");
      step("Checking with the contract, then your wallet asks you to sign the upload and to confirm the transaction…");
      const published = await publishModel(wallet.signer, config.contractAddress, blobs, model);
      props.onPublished(published.modelId);
      return published;
    });

  const busy = state.status === "busy";
  return (
    <section className="pc-card" aria-labelledby="hv-publish-heading" data-testid="hospital-publish">
      <h2 id="hv-publish-heading">Publish a model</h2>
      <div className="pc-field">
        <label htmlFor={inputId}>Model file (JSON, as the trainer writes it)</label>
        <input id={inputId} type="file" accept=".json,application/json" onChange={(e) => void pick(e)} disabled={busy} data-testid="hospital-model-file" />
      </div>
      {picked?.error !== undefined ? <ErrorNote error={picked.error} testId="hospital-model-error" /> : null}
      {picked?.model ? <ModelPreview model={picked.model} publisher={props.address} /> : null}
      {picked?.model ? (
        <div className="hv-actions">
          <button
            type="button"
            className="pc-button"
            onClick={() => void publish(picked.model!)}
            disabled={busy || state.status === "done"}
            data-testid="hospital-publish-button"
          >
            {busy ? "Publishing…" : state.status === "done" ? "Published" : `Publish ${picked.model.name} v${picked.model.version}`}
          </button>
        </div>
      ) : null}
      <div className="hv-outcome" aria-live="polite">
        {state.status === "busy" ? <p className="hv-step">{state.step}</p> : null}
        {state.status === "done" ? (
          <p className="hv-done pc-tone-ok" data-testid="hospital-published">
            Published. Model id <HashText value={state.value.modelId} testId="hospital-published-model-id" /> (content hash{" "}
            <HashText value={state.value.modelHash} short />
            ): patients request predictions with this id.
          </p>
        ) : null}
        {state.status === "error" ? <ErrorNote error={state.error} hints={HOSPITAL_HINTS} testId="hospital-publish-error" /> : null}
      </div>
    </section>
  );
}
