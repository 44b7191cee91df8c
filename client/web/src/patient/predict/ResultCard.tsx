import { percent, shortHash } from "../../app/format.js";
import { ShareResult } from "../share/ShareResult.js";
import { Explanation } from "./Explanation.js";
import type { LoadedModel } from "./model-file.js";
import type { PredictionOutcome } from "./prediction-flow.js";
import { RiskBar } from "./RiskBar.js";
import { VotesLine } from "./VotesLine.js";

/** The decrypted result: the risk, the model it came from, the votes behind it, what it means; and sharing it. */
export function ResultCard({ outcome, loaded }: { outcome: PredictionOutcome; loaded: LoadedModel }) {
  const { model, meta } = loaded;
  const single = outcome.predictions.length === 1 ? outcome.predictions[0] : undefined;
  const threshold = model.client.threshold;
  return (
    <article className="card result" data-testid="result" aria-labelledby="result-title">
      <header className="result-head">
        <h2 id="result-title">Your result</h2>
        <p className="result-model" data-testid="result-model">
          {model.name} v{model.version} · {meta.publisherName ?? meta.publisher}
        </p>
      </header>
      {outcome.acceptedDisputed && (
        <p className="disputed-flag" data-testid="disputed-flag">
          DISPUTED: operators disagree about this result. It is not final; do not rely on it.
        </p>
      )}
      {single ? (
        <div className="risk">
          <p className="risk-number">
            <span className="risk-value" data-testid="risk-value" data-probability={single.probability}>
              {percent(single.probability)}
            </span>
            <span className="risk-label">estimated probability of {model.target.positiveMeans}</span>
          </p>
          <RiskBar probability={single.probability} threshold={threshold} />
          <p className="risk-class" data-testid="risk-class" data-class={single.predictedClass}>
            {single.predictedClass === 1 ? `At or above the model's threshold (${percent(threshold)}).` : `Below the model's threshold (${percent(threshold)}).`}
          </p>
        </div>
      ) : (
        <table className="batch-table" data-testid="batch-results">
          <caption>
            {outcome.predictions.length} readings in one job ({outcome.layout} layout): estimated probability of {model.target.positiveMeans}
          </caption>
          <thead>
            <tr>
              <th scope="col">Reading</th>
              <th scope="col">Probability</th>
              <th scope="col">Threshold {percent(threshold)}</th>
            </tr>
          </thead>
          <tbody>
            {outcome.predictions.map((p, i) => (
              <tr key={i}>
                <th scope="row">{i + 1}</th>
                <td data-testid={`risk-value-${i}`} data-probability={p.probability}>
                  {percent(p.probability)}
                </td>
                <td>{p.predictedClass === 1 ? "at or above" : "below"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <VotesLine verdict={outcome} />
      <p className="verified" data-testid="verified">
        Checked before decrypting: result <code title={outcome.resultHash}>{shortHash(outcome.resultHash)}</code> is the hash the chain committed for job{" "}
        <code title={outcome.jobId}>{shortHash(outcome.jobId)}</code>
        {outcome.rounds.length > 1 ? ` (and each of its ${outcome.rounds.length} rounds)` : ""}, and it names this job, record and model. Decrypted on this
        device only.
      </p>
      <Explanation model={model} probability={single?.probability} />
      {single && !outcome.acceptedDisputed && <ShareResult jobId={outcome.jobId} prediction={single} />}
    </article>
  );
}
