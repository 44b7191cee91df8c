import { displayUnit, type ModelInput } from "../../../../../protocol/model.js";
import { unitLabel } from "../../app/format.js";
import { fieldHint } from "./reading-draft.js";

/** One input of the reading form, made from the model's description of it: label, unit, range or choices. */
export function ReadingField({ input, value, error, idPrefix, onChange }: { input: ModelInput; value: string; error: string | undefined; idPrefix: string; onChange(value: string): void }) {
  const id = `${idPrefix}-${input.name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [input.kind !== "choice" ? hintId : undefined, error ? errorId : undefined].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: input.name,
    "data-testid": `field-${input.name}`,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    value,
  } as const;
  const unit = input.kind === "choice" ? "" : unitLabel(input.unit, displayUnit);
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {input.label}
      </label>
      {input.kind === "choice" ? (
        <select {...common} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">Choose…</option>
          {input.choices.map((choice) => (
            <option key={choice.value} value={String(choice.value)}>
              {choice.label}
            </option>
          ))}
        </select>
      ) : (
        <div className="input-with-unit">
          <input
            {...common}
            type="number"
            inputMode={input.kind === "integer" ? "numeric" : "decimal"}
            min={input.min}
            max={input.max}
            step={input.step ?? (input.kind === "integer" ? 1 : "any")}
            onChange={(e) => onChange(e.currentTarget.value)}
          />
          {unit && (
            <span className="unit" aria-hidden="true">
              {unit}
            </span>
          )}
        </div>
      )}
      {input.kind !== "choice" && (
        <p id={hintId} className="field-hint">
          {fieldHint(input)}
        </p>
      )}
      {error && (
        <p id={errorId} className="field-error" data-testid={`field-error-${input.name}`}>
          {error}
        </p>
      )}
      {input.description && (
        <details className="field-help">
          <summary>What is this?</summary>
          <p>{input.description}</p>
        </details>
      )}
    </div>
  );
}
