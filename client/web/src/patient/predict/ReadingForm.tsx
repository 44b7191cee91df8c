import type { Model } from "../../../../../protocol/model.js";
import { formInputs, type ReadingDraft } from "./reading-draft.js";
import { ReadingField } from "./ReadingField.js";

export interface ReadingFormProps {
  model: Model;
  drafts: ReadingDraft[];
  errors: Record<string, string>[];
  /** Several readings go in one job (one-round models only). */
  allowMany: boolean;
  disabled: boolean;
  onChange(index: number, name: string, value: string): void;
  onAdd(): void;
  onRemove(index: number): void;
}

/** The reading form, generated from the model's inputs; one fieldset per reading. */
export function ReadingForm({ model, drafts, errors, allowMany, disabled, onChange, onAdd, onRemove }: ReadingFormProps) {
  const inputs = formInputs(model);
  return (
    <div className="reading-form">
      {drafts.map((draft, index) => (
        <fieldset key={index} className="reading" data-testid={`reading-${index}`} disabled={disabled}>
          <legend>
            {drafts.length > 1 ? `Reading ${index + 1} of ${drafts.length}` : "Your reading"}
            {drafts.length > 1 && (
              <button type="button" className="link-button" onClick={() => onRemove(index)} aria-label={`Remove reading ${index + 1}`}>
                Remove
              </button>
            )}
          </legend>
          <div className="field-grid">
            {inputs.map((input) => (
              <ReadingField
                key={input.name}
                input={input}
                idPrefix={`r${index}`}
                value={draft[input.name] ?? ""}
                error={errors[index]?.[input.name]}
                onChange={(value) => onChange(index, input.name, value)}
              />
            ))}
          </div>
        </fieldset>
      ))}
      {allowMany && (
        <button type="button" className="secondary" data-testid="add-reading" disabled={disabled || drafts.length >= 256} onClick={onAdd}>
          Add another reading to the same job
        </button>
      )}
    </div>
  );
}
