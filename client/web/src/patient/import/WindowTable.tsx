import type { PredictionWindow } from "../../../../../protocol/intake/windows.js";
import { displayUnit, type Model } from "../../../../../protocol/model.js";
import { percent, shortHash, unitLabel } from "../../app/format.js";
import type { WindowPrediction } from "../../../../window-predictions.js";

const time = (ms: number) => new Date(ms).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

/** Every window predicted: when, what the data gave, the decrypted risk, and the job that computed it. */
export function WindowTable({ model, predictions, windows }: { model: Model; predictions: WindowPrediction[]; windows: readonly PredictionWindow[] }) {
  const byEnd = new Map(windows.map((w) => [w.end, w]));
  const measured = (model.inputs ?? []).filter((i) => i.source?.from === "wearable");
  const threshold = model.client.threshold;
  return (
    <div className="table-scroll">
      <table className="batch-table window-table" data-testid="import-window-table">
        <caption>
          {predictions.length} windows: estimated probability of {model.target.positiveMeans} (threshold {percent(threshold)})
        </caption>
        <thead>
          <tr>
            <th scope="col">Window</th>
            <th scope="col">Risk</th>
            <th scope="col">Job</th>
          </tr>
        </thead>
        <tbody>
          {predictions.map((p) => {
            const window = byEnd.get(p.end);
            return (
              <tr key={p.end} data-testid="import-window-row" data-end={p.end} data-probability={p.prediction.probability} data-job-id={p.jobId}>
                <th scope="row">
                  {window ? `${time(window.start)} – ${time(p.end)}` : time(p.end)}
                  {window && measured.length > 0 && (
                    <span className="window-values">
                      {measured.map((i) => `${i.label} ${window.reading[i.name]}${i.kind === "choice" ? "" : ` ${unitLabel(i.unit, displayUnit)}`}`).join(" · ")}
                    </span>
                  )}
                </th>
                <td>
                  <strong data-testid="import-window-risk">{percent(p.prediction.probability)}</strong>{" "}
                  <span className="muted">{p.prediction.predictedClass === 1 ? "at or above" : "below"}</span>
                </td>
                <td>
                  <code title={p.jobId}>{shortHash(p.jobId)}</code>
                  <span className="muted"> #{p.index + 1}</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
