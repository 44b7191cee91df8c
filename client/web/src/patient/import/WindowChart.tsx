import { useEffect, useRef, useState } from "react";
import type { ChartData } from "../history/draw-chart.js";

const HEIGHT = 240;

/** The per-window risk over time (the history's uPlot chart, a separate chunk); its space is reserved while it loads. */
export function WindowChart({ data }: { data: ChartData }) {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  useEffect(() => {
    const target = box.current;
    if (!target) return;
    let chart: { resize(width: number): void; destroy(): void } | undefined;
    let live = true;
    const observer = new ResizeObserver(() => chart?.resize(target.clientWidth));
    import("../history/draw-chart.js").then(
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
    <figure className="chart" data-testid="import-chart">
      <div ref={box} className="chart-box" style={{ minHeight: HEIGHT + 40 }} role="img" aria-label={`${data.label}: the risk of ${data.values.length} windows over time; the values are listed in the table below`} />
      {failed && <figcaption className="warn-text">The chart could not be drawn ({failed}); the values are listed below.</figcaption>}
    </figure>
  );
}
