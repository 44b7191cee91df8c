import type { AppModel } from "../../../../../protocol/app-config.js";

/** The published models of this deployment (from its configuration), by name, version and publisher. */
export function ModelPicker({ models, value, disabled, onChange }: { models: AppModel[]; value: string; disabled: boolean; onChange(id: string): void }) {
  return (
    <div className="field model-picker">
      <label htmlFor="model-picker">Model</label>
      <select id="model-picker" data-testid="model-picker" value={value} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value)}>
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name} v{m.version}
            {m.positiveMeans ? `: ${m.positiveMeans}` : ""} ({m.publisherName ?? m.publisher})
          </option>
        ))}
      </select>
    </div>
  );
}
