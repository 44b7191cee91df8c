import { useCallback, useEffect, useRef, useState } from "react";
import type { Reading } from "../../../../../protocol/model.js";
import { DisputedResultError } from "../../../../errors.js";
import { StoppedWatchingError } from "../../app/app-errors.js";
import { useApp } from "../../app/context.js";
import { saveHistory, type HistoryEntry } from "../history/history-cache.js";
import { usePatient } from "../session/PatientSessionContext.js";
import type { LoadedModel } from "./model-file.js";
import { runPrediction, type FlowProgress, type PredictionOutcome } from "./prediction-flow.js";

export type RunState =
  | { status: "idle" }
  | { status: "running"; progress: FlowProgress | undefined; loaded: LoadedModel }
  | { status: "done"; progress: FlowProgress | undefined; loaded: LoadedModel; outcome: PredictionOutcome }
  | { status: "failed"; progress: FlowProgress | undefined; loaded: LoadedModel; error: unknown };

function entriesOf(outcome: PredictionOutcome, loaded: LoadedModel): HistoryEntry[] {
  return outcome.predictions.map((p, index) => ({
    jobId: outcome.jobId,
    index,
    modelId: loaded.meta.id,
    modelName: loaded.model.name,
    modelVersion: loaded.model.version,
    probability: p.probability,
    predictedClass: p.predictedClass,
    requestedAt: outcome.requestedAt,
    recordHash: outcome.recordHash,
    votes: outcome.votes,
    quorum: outcome.quorum,
    disputed: outcome.disputed,
  }));
}

/** Runs predictions one at a time, with their progress, and keeps each result in the history on this device. */
export function usePredictionRun() {
  const { config, blobs } = useApp();
  const session = usePatient();
  const [state, setState] = useState<RunState>({ status: "idle" });
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(new Error("the page left the prediction")), []);

  const remember = useCallback(
    (outcome: PredictionOutcome, loaded: LoadedModel) => {
      const intermediate = outcome.rounds.slice(0, -1).map((r) => r.jobId);
      if (session.vault) void saveHistory(config, session.address, session.vault, { entries: entriesOf(outcome, loaded), intermediate }).catch(console.error);
    },
    [config, session.address, session.vault],
  );

  const start = useCallback(
    async (loaded: LoadedModel, readings: Reading[]) => {
      const client = session.client;
      if (!client) return;
      const controller = new AbortController();
      abort.current = controller;
      setState({ status: "running", progress: undefined, loaded });
      let last: FlowProgress | undefined;
      try {
        const outcome = await runPrediction({
          client,
          signer: session.signer,
          contract: session.wallet.contract,
          contractAddress: config.contractAddress,
          blobs,
          ref: loaded.ref,
          readings,
          signal: controller.signal,
          onProgress: (progress) => {
            last = progress;
            setState({ status: "running", progress, loaded });
          },
        });
        setState({ status: "done", progress: last, loaded, outcome });
        remember(outcome, loaded);
      } catch (error) {
        setState({ status: "failed", progress: last, loaded, error });
      }
    },
    [session.client, session.signer, session.wallet.contract, config.contractAddress, blobs, remember],
  );

  /** Opens a disputed result anyway, marked as disputed (never as final). */
  const viewDisputed = useCallback(async () => {
    if (state.status !== "failed" || !(state.error instanceof DisputedResultError) || !session.client) return;
    const { loaded, progress } = state;
    const jobId = state.error.jobId;
    try {
      const opened = await session.client.predictionsOf(jobId, { acceptDisputed: true });
      const outcome: PredictionOutcome = {
        ...opened,
        recordHash: progress?.recordHash ?? ("0x" as PredictionOutcome["recordHash"]),
        resultHash: state.error.resultHash,
        layout: "single-record",
        rounds: [],
        requestedAt: Math.floor(Date.now() / 1000),
        acceptedDisputed: true,
      };
      setState({ status: "done", progress, loaded, outcome });
      remember(outcome, loaded);
    } catch (error) {
      setState({ status: "failed", progress, loaded, error });
    }
  }, [state, session.client, remember]);

  const stop = useCallback(() => abort.current?.abort(new StoppedWatchingError()), []);
  const reset = useCallback(() => setState({ status: "idle" }), []);
  return { state, start, stop, reset, viewDisputed };
}
