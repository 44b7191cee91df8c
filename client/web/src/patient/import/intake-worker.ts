import type { Remote } from "comlink";
import { workerWhenReady } from "../../app/worker-ready.js";
import { useCallback, useEffect, useRef } from "react";
import { INTAKE_WORKER_READY, type IntakeWorkerApi } from "./intake-api.js";

/** Starts the intake worker (a module worker of its own: the parsers and UCUM's tables load there only). */
function spawnIntakeWorker(): { api: Promise<Remote<IntakeWorkerApi>>; terminate(): void } {
  const worker = new Worker(new URL("../../worker/intake.worker.ts", import.meta.url), { type: "module", name: "pmhe-intake" });
  const api = workerWhenReady<IntakeWorkerApi>(worker, { ready: INTAKE_WORKER_READY, what: "the worker that reads files" });
  return { api, terminate: () => worker.terminate() };
}

/**
 * The import view's intake worker: started on first use, ended when the view goes away (what it holds of the file
 * goes with it). A worker that failed to start is started again on the next call.
 */
export function useIntakeWorker(): () => Promise<Remote<IntakeWorkerApi>> {
  const current = useRef<ReturnType<typeof spawnIntakeWorker> | undefined>(undefined);
  useEffect(
    () => () => {
      current.current?.terminate();
      current.current = undefined;
    },
    [],
  );
  return useCallback(() => {
    if (!current.current) {
      const spawned = spawnIntakeWorker();
      spawned.api.catch(() => {
        spawned.terminate();
        if (current.current === spawned) current.current = undefined;
      });
      current.current = spawned;
    }
    return current.current.api;
  }, []);
}
