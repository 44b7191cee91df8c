import { useCallback, useEffect, useRef, useState } from "react";
import type { Hash } from "../../../../../protocol/hash.js";
import type { PredictionWindow } from "../../../../../protocol/intake/windows.js";
import { groupByDay, predictWindows, type WindowPredictionResult, type WindowProgress } from "../../../../window-predictions.js";
import { useApp } from "../../app/context.js";
import { saveHistory, type HistoryEntry } from "../history/history-cache.js";
import type { LoadedModel } from "../predict/model-file.js";
import { usePatient } from "../session/PatientSessionContext.js";

/** Windows per encrypted record: a day of 6-hourly windows is one record, of hourly ones four. */
export const WINDOWS_PER_RECORD = 6;

export type DayStep = "waiting" | "encrypting" | "anchoring" | "requesting" | "decrypting" | "done" | "failed";

/** One UTC day of the run: its windows and records, where it is, and what the chain gave back. */
export interface DayState {
  day: string;
  windows: number;
  records: number;
  step: DayStep;
  /** performance.now() when the current step began. */
  since: number;
  /** Time each finished step took, ms. */
  took: Partial<Record<DayStep, number>>;
  requested: number;
  decrypted: number;
  /** The step a failed day stopped at. */
  failedStep?: DayStep;
  root?: Hash;
  txHash?: string;
  jobs: Hash[];
}

export type WindowRunState =
  | { status: "idle" }
  | { status: "running"; days: DayState[] }
  | { status: "done"; days: DayState[]; result: WindowPredictionResult; loaded: LoadedModel; windows: readonly PredictionWindow[] }
  | { status: "failed"; days: DayState[]; error: unknown };

/** The days a run will go through, before it starts. */
export function plannedDays(windows: readonly PredictionWindow[]): Array<{ day: string; windows: number; records: number }> {
  return [...groupByDay(windows)].map(([day, list]) => ({ day, windows: list.length, records: Math.ceil(list.length / WINDOWS_PER_RECORD) }));
}

function advance(days: DayState[], event: WindowProgress): DayState[] {
  const now = performance.now();
  const next = days.map((d) => ({ ...d, took: { ...d.took }, jobs: [...d.jobs] }));
  const at = next.findIndex((d) => d.day === event.day);
  const day = next[at];
  if (!day) return days;
  const move = (d: DayState, step: DayStep) => {
    d.took[d.step] = now - d.since;
    d.step = step;
    d.since = now;
  };
  switch (event.step) {
    case "encrypted":
      move(day, "anchoring");
      break;
    case "anchored":
      day.root = event.root;
      day.txHash = event.txHash;
      move(day, "requesting");
      break;
    case "requested":
      day.requested++;
      day.jobs.push(event.jobId);
      if (day.requested >= day.records) move(day, "decrypting");
      break;
    case "decrypted":
      day.decrypted++;
      if (day.decrypted >= day.records) {
        move(day, "done");
        const following = next[at + 1];
        if (following) {
          following.step = "encrypting";
          following.since = now;
        }
      }
      break;
  }
  return next;
}

function historyEntries(result: WindowPredictionResult, loaded: LoadedModel): HistoryEntry[] {
  const requestedAt = Math.floor(Date.now() / 1000);
  const verdicts = new Map(result.days.flatMap((d) => d.records.map((r) => [r.jobId, r.verdict] as const)));
  return result.predictions.map((p) => {
    const verdict = verdicts.get(p.jobId);
    return {
      jobId: p.jobId,
      index: p.index,
      modelId: loaded.meta.id,
      modelName: loaded.model.name,
      modelVersion: loaded.model.version,
      probability: p.prediction.probability,
      predictedClass: p.prediction.predictedClass,
      requestedAt,
      recordHash: p.recordHash,
      votes: verdict?.votes ?? 0,
      quorum: verdict?.quorum ?? 0,
      disputed: verdict?.disputed ?? false,
    };
  });
}

/**
 * Predicts every window (client/window-predictions.ts: a day's windows packed into records, one anchorBatch
 * transaction per day, one requestBatchPrediction per record, each result checked against the chain and decrypted
 * here), with each day's step as it happens; the results also go to this device's history.
 */
export function useWindowRun() {
  const { config } = useApp();
  const session = usePatient();
  const [state, setState] = useState<WindowRunState>({ status: "idle" });
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);

  const start = useCallback(
    async (loaded: LoadedModel, windows: readonly PredictionWindow[]) => {
      const client = session.client;
      if (!client) return;
      const now = performance.now();
      let days: DayState[] = plannedDays(windows).map((d, i) => ({ ...d, step: i === 0 ? "encrypting" : "waiting", since: now, took: {}, requested: 0, decrypted: 0, jobs: [] }));
      setState({ status: "running", days });
      try {
        const result = await predictWindows(client, loaded.ref, windows, {
          windowsPerRecord: WINDOWS_PER_RECORD,
          onProgress: (event) => {
            days = advance(days, event);
            if (live.current) setState({ status: "running", days });
          },
        });
        if (live.current) setState({ status: "done", days, result, loaded, windows });
        if (session.vault) void saveHistory(config, session.address, session.vault, { entries: historyEntries(result, loaded) }).catch(console.error);
      } catch (error) {
        const failedAt = performance.now();
        days = days.map((d) => (d.step === "waiting" || d.step === "done" ? d : { ...d, step: "failed", failedStep: d.step, took: { ...d.took, [d.step]: failedAt - d.since } }));
        if (live.current) setState({ status: "failed", days, error });
      }
    },
    [session.client, session.vault, session.address, config],
  );
  const reset = useCallback(() => setState({ status: "idle" }), []);
  return { state, start, reset };
}
