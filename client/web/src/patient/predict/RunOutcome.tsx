import { DisputedResultError } from "../../../../errors.js";
import { ErrorPanel } from "../../app/ErrorPanel.js";
import { useDescribeError } from "../../app/useDescribeError.js";
import { DisputeDetail } from "./DisputeNotice.js";
import { ResultCard } from "./ResultCard.js";
import type { RunState } from "./usePredictionRun.js";

/** The right-hand side's lower half: the result, the failure, or a placeholder of the same footprint. */
export function RunOutcome({ state, onViewDisputed }: { state: RunState; onViewDisputed(): void }) {
  const describe = useDescribeError();
  if (state.status === "done") return <ResultCard outcome={state.outcome} loaded={state.loaded} />;
  if (state.status === "failed") {
    const disputed = state.error instanceof DisputedResultError ? state.error : undefined;
    return (
      <ErrorPanel view={describe(state.error)} testId="prediction-error">
        {disputed && (
          <>
            <DisputeDetail error={disputed} />
            <button type="button" data-testid="view-disputed" onClick={onViewDisputed}>
              Show it anyway, marked as disputed
            </button>
          </>
        )}
      </ErrorPanel>
    );
  }
  return (
    <div className="card result-placeholder" data-testid="result-placeholder">
      <p>{state.status === "running" ? "Your result will appear here once it is decrypted on this device." : "Fill in your reading and request a prediction: the result appears here."}</p>
    </div>
  );
}
