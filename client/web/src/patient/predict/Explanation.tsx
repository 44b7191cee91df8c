import type { Model } from "../../../../../protocol/model.js";
import { percent } from "../../app/format.js";
import { modelFacts } from "./model-facts.js";

/** What the number means and what it does not, in plain words, from the model's own facts. */
export function Explanation({ model, probability }: { model: Model; probability: number | undefined }) {
  const facts = modelFacts(model);
  const kind = facts.rounds > 1 ? `a small neural network (${facts.rounds} rounds)` : "a logistic regression";
  const wrong = Math.max(2, Math.round(1 / Math.max(1e-6, 1 - facts.testAccuracy)));
  const source = facts.dataset
    ? `${facts.dataset.people} from ${facts.dataset.era} (${facts.dataset.name}: ${facts.dataset.origin})`
    : `${facts.rows} examples of the data set ${model.training.dataset}`;
  return (
    <div className="explanation" data-testid="explanation">
      <h3>What this number means</h3>
      <p>
        {probability !== undefined ? <strong>{percent(probability)}</strong> : "Each number"} is a <strong>model's estimate</strong> of the chance of{" "}
        <em>{model.target.positiveMeans}</em> for someone with these {facts.measurements} measurements. <strong>It is not a diagnosis.</strong>
      </p>
      <p>
        The model is {kind} fitted to {source}. On people it had not seen, it was right {percent(facts.testAccuracy)} of the time: it is wrong
        for about 1 in {wrong}.
      </p>
      <h3>Its limits</h3>
      <ul>
        <li>It learned from few people, of one time and place, who may not be like you.</li>
        <li>It knows only these {facts.measurements} numbers: not your symptoms, history, medication or anything else a doctor would weigh.</li>
        <li>Measurements taken another way (another device, lab or unit) shift the estimate.</li>
        <li>
          Above {percent(facts.threshold)} the model calls it "{model.target.positiveMeans}": that cut-off is the model's, not a clinical
          decision.
        </li>
      </ul>
      <p>
        <strong>Talk to a doctor</strong> about it, especially if it worries you, and do not start or stop any treatment because of it.
      </p>
    </div>
  );
}
