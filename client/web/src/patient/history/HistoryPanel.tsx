import { useEffect, useState } from "react";
import type { Hash } from "../../../../../protocol/hash.js";
import { IntermediateResultError } from "../../../../errors.js";
import { useApp } from "../../app/context.js";
import { InlineError } from "../common/InlineError.js";
import { KeyGate } from "../keys/KeyGate.js";
import { loadModel } from "../predict/model-file.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { ChartSection } from "./ChartSection.js";
import { decryptPastJob } from "./decrypt-job.js";
import type { HistoryEntry } from "./history-cache.js";
import { HistoryRow } from "./HistoryRow.js";
import { useHistory } from "./useHistory.js";

/** The patient's results: a chart of one model's results over time, and every job from the chain. */
export function HistoryPanel() {
  const { config, blobs, contract } = useApp();
  const session = usePatient();
  const { data, refresh, remember } = useHistory();
  const [rebuilding, setRebuilding] = useState<string | undefined>(undefined);
  const [rebuildError, setRebuildError] = useState<unknown>(undefined);
  const [rebuildNote, setRebuildNote] = useState<string | undefined>(undefined);
  const [thresholds, setThresholds] = useState(new Map<string, number>());
  useEffect(() => {
    void Promise.allSettled(config.models.map((m) => loadModel(m, blobs, contract))).then((all) =>
      setThresholds(new Map(all.flatMap((r) => (r.status === "fulfilled" ? [[r.value.meta.id, r.value.model.client.threshold] as const] : [])))),
    );
  }, [config, blobs, contract]);

  if (session.keys.phase !== "open" || !session.client) return <KeyGate purpose="to read your results" />;
  const client = session.client;

  const rebuild = async () => {
    if (data.state !== "known") return;
    setRebuildError(undefined);
    setRebuildNote(undefined);
    const decryptable = data.value.jobs.filter((j) => j.decryptable && !data.value.intermediate.has(j.jobId));
    const entries: HistoryEntry[] = [];
    const intermediate: Hash[] = [...data.value.intermediate];
    const failures: unknown[] = [];
    for (const [i, job] of decryptable.entries()) {
      setRebuilding(`Decrypting ${i + 1} of ${decryptable.length}…`);
      try {
        entries.push(...(await decryptPastJob(client, job, config, data.value.times.get(job.blockNumber) ?? 0)));
      } catch (err) {
        if (err instanceof IntermediateResultError) intermediate.push(job.jobId);
        else failures.push(err);
      }
    }
    // What could not be decrypted again keeps what this device had for it.
    const kept = data.value.entries.filter((e) => !entries.some((n) => n.jobId === e.jobId));
    try {
      await remember({ entries: [...entries, ...kept], intermediate }, true);
      if (failures.length > 0) {
        setRebuildError(failures[0]);
        setRebuildNote(`${decryptable.length - failures.length} of ${decryptable.length} jobs decrypted again; the first failure is below.`);
      }
    } catch (err) {
      setRebuildError(err);
    } finally {
      setRebuilding(undefined);
    }
  };

  return (
    <div className="history">
      <div className="heading-row">
        <h1>My results</h1>
        <div className="actions">
          <button type="button" onClick={refresh} disabled={rebuilding !== undefined}>
            Refresh
          </button>
          <button type="button" data-testid="history-rebuild" onClick={() => void rebuild()} disabled={rebuilding !== undefined || data.state !== "known"}>
            Rebuild from the chain
          </button>
        </div>
      </div>
      <p className="lead">
        Your jobs come from the chain; their results are decrypted on this device and kept here, sealed under your wallet's signature. "Rebuild from the
        chain" decrypts them all again, on any device holding your keys.
      </p>
      <p className="status-line" role="status" aria-live="polite">
        {rebuilding ?? rebuildNote ?? " "}
      </p>
      <InlineError error={rebuildError} onDismiss={() => setRebuildError(undefined)} />
      {data.state === "checking" && <div className="chart-empty">Reading your jobs from the chain…</div>}
      {data.state === "failed" && <InlineError error={data.error} />}
      {data.state === "known" && (
        <>
          <ChartSection entries={data.value.entries} thresholds={thresholds} jobCount={data.value.jobs.length} />
          {data.value.jobs.length === 0 ? (
            <p>No predictions yet. <a href="#/patient/predict">Make your first one.</a></p>
          ) : (
            <ol className="history-list" data-testid="history-list">
              {data.value.jobs.map((job) => {
                const time = data.value.times.get(job.blockNumber) ?? 0;
                const meta = config.models.find((m) => m.id === job.modelId);
                return (
                  <HistoryRow
                    key={job.jobId}
                    job={job}
                    time={time}
                    modelName={meta ? `${meta.name} v${meta.version}` : "a model not in this app's list"}
                    entries={data.value.entries.filter((e) => e.jobId === job.jobId)}
                    erased={data.value.erased.has(job.recordHash)}
                    intermediate={data.value.intermediate.has(job.jobId)}
                    onDecrypt={async () => {
                      try {
                        await remember({ entries: await decryptPastJob(client, job, config, time) });
                      } catch (err) {
                        if (!(err instanceof IntermediateResultError)) throw err;
                        await remember({ intermediate: [job.jobId] });
                      }
                    }}
                    onErased={refresh}
                  />
                );
              })}
            </ol>
          )}
        </>
      )}
    </div>
  );
}
