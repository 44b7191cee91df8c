import { wrap, type Remote } from "comlink";
import { useCallback, useEffect, useRef } from "react";
import { INTAKE_WORKER_READY, type IntakeWorkerApi } from "./intake-api.js";

const READY_TIMEOUT_MS = 30_000;

/** Starts the intake worker (a module worker of its own: the parsers and UCUM's tables load there only). */
function spawnIntakeWorker(): { api: Promise<Remote<IntakeWorkerApi>>; terminate(): void } {
  const worker = new Worker(new URL("../../worker/intake.worker.ts", import.meta.url), { type: "module", name: "pmhe-intake" });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker that reads files did not start within ${READY_TIMEOUT_MS / 1000} s; reload the page`)), READY_TIMEOUT_MS);
    const onMessage = (event: MessageEvent) => {
      if (event.data !== INTAKE_WORKER_READY) return;
      clearTimeout(timer);
      worker.removeEventListener("message", onMessage);
      resolve();
    };
    worker.addEventListener("message", onMessage);
    worker.addEventListener("error", (event) => {
      clearTimeout(timer);
      reject(new Error(`the worker that reads files stopped: ${event.message || "it could not load its code (check the browser console)"}`));
    });
  });
  const remote = wrap<IntakeWorkerApi>(worker);
  return { api: ready.then(() => remote), terminate: () => worker.terminate() };
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
