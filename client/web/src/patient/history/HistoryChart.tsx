import { useEffect, useRef, useState } from "react";
import type { ChartData } from "./draw-chart.js";

const HEIGHT = 240;

/**
 * The chart's frame: its space is reserved before uPlot (a separate chunk) arrives, so nothing moves. The history
 * draws one per model; the import view draws the risk per window (its own test id and words for screen readers).
 */
export function HistoryChart({
  data,
  testId = "history-chart",
  description = `${data.values.length} results over time; the values are listed below`,
}: {
  data: ChartData;
  testId?: string;
  description?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  useEffect(() => {
    const target = box.current;
    if (!target) return;
    let chart: { resize(width: number): void; destroy(): void } | undefined;
    let live = true;
    const observer = new ResizeObserver(() => chart?.resize(target.clientWidth));
    import("./draw-chart.js").then(
      ({ drawChart }) => {
        if (!live) return;
        target.replaceChildren();
        chart = drawChart(target, data, target.clientWidth, HEIGHT);
        observer.observe(target);
      },
      (err: unknown) => live && setFailed((err as Error).message),
    );
    return () => {
      live = false;
      observer.disconnect();
      chart?.destroy();
    };
  }, [data]);
  return (
    <figure className="chart" data-testid={testId}>
      <div ref={box} className="chart-box" style={{ minHeight: HEIGHT + 40 }} role="img" aria-label={`${data.label}: ${description}`} />
      {failed && <figcaption className="warn-text">The chart could not be drawn ({failed}); the values are listed below.</figcaption>}
    </figure>
  );
}
