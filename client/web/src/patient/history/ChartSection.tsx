import { useId, useMemo, useState } from "react";
import type { HistoryEntry } from "./history-cache.js";
import { HistoryChart } from "./HistoryChart.js";

/** The chart of one model's results (a choice when there are several models: their numbers do not compare). */
export function ChartSection({ entries, thresholds, jobCount }: { entries: HistoryEntry[]; thresholds: Map<string, number>; jobCount: number }) {
  const models = useMemo(() => {
    const counts = new Map<string, { label: string; count: number }>();
    for (const e of entries) {
      const seen = counts.get(e.modelId);
      counts.set(e.modelId, { label: `${e.modelName} v${e.modelVersion}`, count: (seen?.count ?? 0) + 1 });
    }
    return [...counts].sort((a, b) => b[1].count - a[1].count);
  }, [entries]);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const modelId = chosen && models.some(([id]) => id === chosen) ? chosen : models[0]?.[0];
  const id = useId();
  const data = useMemo(() => {
    const mine = entries.filter((e) => e.modelId === modelId && !e.disputed).sort((a, b) => a.requestedAt - b.requestedAt || a.index - b.index);
    // Readings of one batch job share a time: spread them a second apart so each is its own point.
    const times = mine.map((e) => e.requestedAt + e.index);
    const label = models.find(([m]) => m === modelId)?.[1].label ?? "results";
    return { times, values: mine.map((e) => e.probability * 100), thresholdPercent: (thresholds.get(modelId ?? "") ?? 0.5) * 100, label };
  }, [entries, modelId, models, thresholds]);
  if (!modelId) {
    return (
      <div className="chart-empty" data-testid="history-chart-empty">
        {jobCount === 0
          ? "No results yet: your chart appears here after your first prediction."
          : "No results decrypted on this device yet: decrypt them below, or rebuild from the chain, and your chart appears here."}
      </div>
    );
  }
  return (
    <div className="chart-section">
      {models.length > 1 && (
        <div className="field inline">
          <label htmlFor={id}>Chart of</label>
          <select id={id} value={modelId} onChange={(e) => setChosen(e.currentTarget.value)}>
            {models.map(([m, { label, count }]) => (
              <option key={m} value={m}>
                {label} ({count})
              </option>
            ))}
          </select>
        </div>
      )}
      <HistoryChart data={data} />
    </div>
  );
}
