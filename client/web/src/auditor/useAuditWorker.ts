import { wrap, type Remote } from "comlink";
import { useCallback, useEffect, useRef } from "react";
import { AUDIT_WORKER_READY, type AuditWorkerApi, type ReexecutionAnswer, type ReexecutionRequest } from "../worker/audit-api.js";

interface Running {
  worker: Worker;
  api: Remote<AuditWorkerApi>;
  /** Resolves once the worker listens (a call sent earlier could be lost while its modules load). */
  ready: Promise<void>;
  /** Rejects when the worker fails to load or dies (a comlink call would otherwise wait forever). */
  died: Promise<never>;
}

/**
 * The audit worker (SEAL for re-execution), started on the first re-execution and ended with the view: auditors
 * who never re-run a job never download SEAL's WASM.
 */
export function useAuditWorker(): (request: ReexecutionRequest) => Promise<ReexecutionAnswer> {
  const running = useRef<Running | undefined>(undefined);
  useEffect(
    () => () => {
      running.current?.worker.terminate();
      running.current = undefined;
    },
    []
  );
  return useCallback(async (request: ReexecutionRequest) => {
    if (!running.current) {
      const worker = new Worker(new URL("../worker/audit.worker.ts", import.meta.url), { type: "module", name: "pmhe-audit" });
      const died = new Promise<never>((_, reject) => {
        worker.addEventListener("error", (event) => {
          event.preventDefault();
          reject(new Error(`the audit worker stopped: ${event.message || "it could not load (check that the app's files are complete)"}`));
        });
      });
      died.catch(() => {
        if (running.current?.worker === worker) running.current = undefined;
        worker.terminate();
      });
      const ready = new Promise<void>((resolve) => {
        const onMessage = (event: MessageEvent) => {
          if (event.data !== AUDIT_WORKER_READY) return;
          worker.removeEventListener("message", onMessage);
          resolve();
        };
        worker.addEventListener("message", onMessage);
      });
      running.current = { worker, api: wrap<AuditWorkerApi>(worker), ready, died };
    }
    const { api, ready, died } = running.current;
    await Promise.race([ready, died]);
    return Promise.race([api.reexecute(request), died]);
  }, []);
}
