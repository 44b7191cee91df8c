import { percent } from "../../app/format.js";

/** The probability on a 0-100 % bar, with the model's threshold marked. Decorative: the number is written beside it. */
export function RiskBar({ probability, threshold }: { probability: number; threshold: number }) {
  return (
    <div className="risk-bar" aria-hidden="true">
      <div className="risk-fill" style={{ width: `${Math.max(1, probability * 100)}%` }} />
      <div className="risk-threshold" style={{ left: `${threshold * 100}%` }} title={`threshold ${percent(threshold)}`} />
      <div className="risk-scale">
        <span>0 %</span>
        <span>50 %</span>
        <span>100 %</span>
      </div>
    </div>
  );
}
