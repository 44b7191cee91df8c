import type { BrowserContext, CDPSession, Page } from "playwright-core";

/**
 * The page's main thread while it works, two ways:
 * - `INSTRUMENTATION`, an init script: a PerformanceObserver of "longtask" entries (every task of 50 ms or more),
 *   and a performance.mark() each time the prediction's progress (`data-testid="progress"`, `data-step`) moves to a
 *   step, so a step's window can be found in both clocks;
 * - `traceMainThread`: Chromium's own trace (CDP Tracing), from which every task of the renderer's main thread
 *   ("RunTask") is read with its exact duration, however short.
 * Nothing here is part of the app; the app's code does not see these names.
 */
export const INSTRUMENTATION = `(() => {
  const state = { longTasks: [], steps: [] };
  Object.defineProperty(window, "__pmheBench", { value: state });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) state.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch (err) {
    state.longTaskError = String(err);
  }
  let last;
  const note = (el) => {
    const step = el.getAttribute("data-step");
    if (!step || step === last) return;
    last = step;
    const t = performance.now();
    state.steps.push({ step, t });
    performance.mark("pmhe-step-" + step);
  };
  const scan = (node) => {
    if (!(node instanceof Element)) return;
    if (node.getAttribute("data-testid") === "progress") note(node);
    for (const el of node.querySelectorAll('[data-testid="progress"]')) note(el);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") scan(r.target);
      else for (const n of r.addedNodes) scan(n);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-step"] });
})();`;

export interface PageBenchState {
  longTasks: Array<{ start: number; duration: number }>;
  steps: Array<{ step: string; t: number }>;
  longTaskError?: string;
}

export async function installInstrumentation(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: INSTRUMENTATION });
}

export async function pageBenchState(page: Page): Promise<PageBenchState> {
  return (await page.evaluate("window.__pmheBench")) as PageBenchState;
}

/** The window [start, end) of `step` in performance.now() time: from when the progress moved to it to the next move. */
export function stepWindow(state: PageBenchState, step: string): { start: number; end: number } | undefined {
  const index = state.steps.findIndex((s) => s.step === step);
  if (index < 0) return undefined;
  const next = state.steps[index + 1];
  return { start: state.steps[index]!.t, end: next?.t ?? Number.POSITIVE_INFINITY };
}

/** Long-task entries that overlap a window. */
export function longTasksIn(state: PageBenchState, window: { start: number; end: number }) {
  return state.longTasks.filter((t) => t.start < window.end && t.start + t.duration > window.start);
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  args?: Record<string, unknown>;
}

export interface MainThreadTrace {
  /**
   * Every task of the page's main thread between the mark `from` (its last one, with `last`) and the first mark
   * `to` after it, by duration, longest first (ms, start relative to `from`).
   */
  tasksBetween(from: string, to: string, options?: { last?: boolean }): Array<{ startMs: number; durationMs: number }>;
}

/** Traces the page's renderer while `action` runs; the page's main thread is the one that made the step marks. */
export async function traceMainThread(page: Page, action: () => Promise<void>): Promise<MainThreadTrace> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on("Tracing.dataCollected", (data) => {
    events.push(...(data.value as unknown as TraceEvent[]));
  });
  const complete = new Promise<void>((resolve) => cdp.once("Tracing.tracingComplete", () => resolve()));
  await cdp.send("Tracing.start", {
    transferMode: "ReportEvents",
    traceConfig: { includedCategories: ["toplevel", "blink.user_timing", "devtools.timeline", "disabled-by-default-devtools.timeline"], recordMode: "recordAsMuchAsPossible" },
  });
  try {
    await action();
  } finally {
    await cdp.send("Tracing.end");
    await complete;
    await cdp.detach().catch(() => undefined);
  }
  return {
    tasksBetween(from, to, options = {}) {
      const marks = (name: string) => events.filter((e) => e.name === name && (e.cat ?? "").includes("blink.user_timing")).sort((a, b) => a.ts - b.ts);
      const starts = marks(from);
      const start = options.last ? starts.at(-1) : starts[0];
      if (!start) throw new Error(`the trace holds no mark ${from}: the progress never reached that step`);
      const end = marks(to).find((e) => e.ts > start.ts);
      const until = end?.ts ?? Number.POSITIVE_INFINITY;
      return events
        .filter((e) => e.ph === "X" && e.name === "RunTask" && e.pid === start.pid && e.tid === start.tid && e.dur !== undefined)
        .filter((e) => e.ts < until && e.ts + e.dur! > start.ts)
        .map((e) => ({ startMs: (e.ts - start.ts) / 1000, durationMs: e.dur! / 1000 }))
        .sort((a, b) => b.durationMs - a.durationMs);
    },
  };
}
