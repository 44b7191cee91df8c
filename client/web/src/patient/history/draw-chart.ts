import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/**
 * The history chart, drawn with uPlot (loaded with this module only when a chart is shown): the probability of one
 * model's results over time, with the model's threshold as a dashed line.
 */
export interface ChartData {
  /** Unix seconds. */
  times: number[];
  /** Percent, 0-100. */
  values: number[];
  thresholdPercent: number;
  label: string;
}

/** Whole seconds and up: results are never closer than a block apart, and half-second ticks repeat their labels. */
const TIME_STEPS = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000, 31_536_000];

/** Tick labels in the patient's locale: dates when the results span days, times within a day. */
function timeLabels(times: number[]): (u: uPlot, ticks: number[]) => string[] {
  const span = (times.at(-1) ?? 0) - (times[0] ?? 0);
  const options: Intl.DateTimeFormatOptions =
    span > 2 * 86_400 ? { day: "numeric", month: "short" } : span > 3_600 ? { hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  const format = new Intl.DateTimeFormat(undefined, options);
  return (_u, ticks) => ticks.map((t) => format.format(new Date(t * 1000)));
}

export function drawChart(target: HTMLElement, data: ChartData, width: number, height: number): { resize(width: number): void; destroy(): void } {
  const threshold = data.times.map(() => data.thresholdPercent);
  const plot = new uPlot(
    {
      width,
      height,
      padding: [8, 28, 0, 0],
      // One result still gets a readable axis: an hour either side.
      scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 3_600, max + 3_600] : [min, max]) }, y: { range: [0, 100] } },
      axes: [
        { values: timeLabels(data.times), space: 90, incrs: TIME_STEPS },
        { values: (_u, ticks) => ticks.map((t) => `${t} %`), size: 56 },
      ],
      series: [
        {},
        { label: data.label, stroke: "#0b6e8a", width: 2, points: { show: true, size: 7, fill: "#0b6e8a" }, value: (_u, v) => (v == null ? "" : `${v.toFixed(0)} %`) },
        { label: "threshold", stroke: "#b45309", dash: [6, 4], width: 1, points: { show: false }, value: (_u, v) => (v == null ? "" : `${v.toFixed(0)} %`) },
      ],
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
    },
    [data.times, data.values, threshold],
    target,
  );
  return { resize: (w) => plot.setSize({ width: w, height }), destroy: () => plot.destroy() };
}
