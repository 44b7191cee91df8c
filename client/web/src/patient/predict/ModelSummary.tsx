import { percent } from "../../app/format.js";
import type { LoadedModel } from "./model-file.js";
import { modelFacts } from "./model-facts.js";

/** What the chosen model is, before the patient sends anything to it. */
export function ModelSummary({ loaded }: { loaded: LoadedModel }) {
  const { meta, model, deprecated } = loaded;
  const facts = modelFacts(model);
  return (
    <div className="model-summary" data-testid="model-summary">
      <p>
        <strong>
          {model.name} v{model.version}
        </strong>{" "}
        by {meta.publisherName ?? meta.publisher} estimates the probability of <strong>{model.target.positiveMeans}</strong> from {facts.measurements}{" "}
        measurements{facts.rounds > 1 ? `, in ${facts.rounds} rounds (your device decrypts and re-encrypts in between, automatically)` : ""}.
        Tested on held-out {facts.dataset ? "patients" : "rows"}: {percent(facts.testAccuracy)} right (AUC {facts.testAuc.toFixed(2)}).
      </p>
      {deprecated && <p className="warn-text">The hospital has deprecated this version: requests to it are refused.</p>}
    </div>
  );
}
