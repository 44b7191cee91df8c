import { proxy } from "comlink";
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { PredictionWindow } from "../../../../../protocol/intake/windows.js";
import { roundCount, type ModelInput } from "../../../../../protocol/model.js";
import { dayOf } from "../../../../window-predictions.js";
import { useApp } from "../../app/context.js";
import { ErrorPanel } from "../../app/ErrorPanel.js";
import { bytes } from "../../app/format.js";
import { useDescribeError } from "../../app/useDescribeError.js";
import type { ChartData } from "../history/draw-chart.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { KeyGate } from "../keys/KeyGate.js";
import { Explanation } from "../predict/Explanation.js";
import { ModelPicker } from "../predict/ModelPicker.js";
import { ModelSummary } from "../predict/ModelSummary.js";
import type { ReadingDraft } from "../predict/reading-draft.js";
import { ReadingField } from "../predict/ReadingField.js";
import { RegistrationGate } from "../predict/RegistrationGate.js";
import { useModel } from "../predict/useModel.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { DayProgress } from "./DayProgress.js";
import { FileSummary } from "./FileSummary.js";
import { givenInputs, readGiven, sourceText } from "./given-draft.js";
import { importErrorView } from "./import-errors.js";
import type { ParsedFile, WindowAnswer } from "./intake-api.js";
import { useIntakeWorker } from "./intake-worker.js";
import { plannedDays, useWindowRun, WINDOWS_PER_RECORD } from "./useWindowRun.js";
import { HistoryChart } from "../history/HistoryChart.js";
import { WindowTable } from "./WindowTable.js";
import "./import.css";

const STEP_HOURS = [1, 2, 3, 4, 6, 8, 12, 24] as const;
/** How many of the latest days to predict (0: every day): each day is a transaction, each record another. */
const DAY_LIMITS = [1, 2, 7, 14, 30, 0] as const;
const ACCEPT = ".json,.xml,.csv,application/json,application/fhir+json,text/xml,application/xml,text/csv";

type Preview = { key: string; state: "checking" } | { key: string; state: "known"; answer: WindowAnswer } | { key: string; state: "failed"; error: unknown };

/** The windows of the latest `limit` UTC days that have any (all of them for 0). */
function selectDays(all: readonly PredictionWindow[], limit: number): { windows: PredictionWindow[]; totalDays: number } {
  const days = [...new Set(all.map((w) => dayOf(w.end)))];
  const kept = new Set(limit > 0 ? days.slice(-limit) : days);
  return { windows: all.filter((w) => kept.has(dayOf(w.end))), totalDays: days.length };
}

const when = (ms: number) => new Date(ms).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

/**
 * Import readings: a file from a health record or a device (FHIR R4 JSON, Apple Health export.xml, device CSV) read
 * in a worker of its own, its summary, the prediction windows the chosen model makes of it (its inputs with a source
 * from the file, the others from a form), every window predicted a day at a time with visible progress, and the
 * decrypted risks as a chart and a table.
 */
export function ImportPanel() {
  const { config } = useApp();
  const session = usePatient();
  const describe = useDescribeError();
  const intake = useIntakeWorker();
  const run = useWindowRun();
  const running = run.state.status === "running";

  // The file.
  const [parsed, setParsed] = useState<(ParsedFile & { id: number }) | undefined>(undefined);
  const [reading, setReading] = useState<{ name: string; read: number; total: number } | undefined>(undefined);
  const [fileError, setFileError] = useState<unknown>(undefined);
  const fileSeq = useRef(0);

  // The model and the form.
  const [modelId, setModelId] = useState(config.models[0]?.id ?? "");
  const meta = useMemo(() => config.models.find((m) => m.id === modelId), [config, modelId]);
  const loaded = useModel(meta);
  const model = loaded?.state === "known" ? loaded.value.model : undefined;
  const inputs = useMemo(() => (model ? givenInputs(model) : undefined), [model]);
  const [draft, setDraft] = useState<ReadingDraft>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | undefined>(undefined);
  const [stepHours, setStepHours] = useState<number>(6);
  const [dayLimit, setDayLimit] = useState<number>(7);
  useEffect(() => {
    setDraft({});
    setErrors({});
  }, [model]);

  // The windows, made in the worker whenever the file, the model, the step or the values change (once complete).
  const checked = useMemo(() => (inputs ? readGiven(inputs, draft) : undefined), [inputs, draft]);
  const given = checked?.values;
  const key = parsed && model && given ? JSON.stringify([parsed.id, modelId, stepHours, given]) : undefined;
  const [preview, setPreview] = useState<Preview | undefined>(undefined);
  useEffect(() => {
    if (!key || !model || !given) {
      setPreview(undefined);
      return;
    }
    let live = true;
    setPreview({ key, state: "checking" });
    const timer = setTimeout(() => {
      intake()
        .then((worker) => worker.windows({ model, stepHours, given }))
        .then(
          (answer) => live && setPreview({ key, state: "known", answer }),
          (error: unknown) => live && setPreview({ key, state: "failed", error }),
        );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // `given` is part of `key`: the windows are made again when a value changes, not when the draft object does.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, intake]);
  const current = preview?.key === key && preview?.state === "known" ? preview.answer : undefined;
  const selection = useMemo(() => (current ? { ...selectDays(current.windows, dayLimit), answer: current } : undefined), [current, dayLimit]);
  const planned = useMemo(() => (selection ? plannedDays(selection.windows) : []), [selection]);

  const chart = useMemo<ChartData | undefined>(() => {
    if (run.state.status !== "done") return undefined;
    const { result, loaded: used } = run.state;
    const sorted = [...result.predictions].sort((a, b) => a.end - b.end);
    return {
      times: sorted.map((p) => p.end / 1000),
      values: sorted.map((p) => p.prediction.probability * 100),
      thresholdPercent: used.model.client.threshold * 100,
      label: `${used.model.name} v${used.model.version}, per window`,
    };
  }, [run.state]);

  // After a refused submit only (not while the person corrects one field after another), the first invalid field.
  const focusInvalid = useRef(false);
  useEffect(() => {
    if (!focusInvalid.current) return;
    focusInvalid.current = false;
    document.querySelector<HTMLElement>('.import-form [aria-invalid="true"]')?.focus();
  }, [errors]);

  const chooseFile = async (file: File | undefined) => {
    if (!file) return;
    const seq = ++fileSeq.current;
    setFileError(undefined);
    setParsed(undefined);
    run.reset();
    setReading({ name: file.name, read: 0, total: file.size });
    try {
      const worker = await intake();
      const onProgress = proxy((read: number) => {
        if (fileSeq.current === seq) setReading({ name: file.name, read, total: file.size });
      });
      const answer = await worker.parse(file, Intl.DateTimeFormat().resolvedOptions().timeZone, onProgress);
      if (fileSeq.current === seq) setParsed({ ...answer, id: seq });
    } catch (error) {
      if (fileSeq.current === seq) setFileError(error);
    } finally {
      if (fileSeq.current === seq) setReading(undefined);
    }
  };

  const keysOpen = session.keys.phase === "open";
  const registered = session.keys.phase === "open" && session.registered.state === "known" && session.registered.value === session.keys.stored.keyBundleHash;
  const oneRound = model ? roundCount(model) === 1 : false;
  const takesReadings = (inputs?.sourced.length ?? 0) > 0;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!inputs || !model || loaded?.state !== "known" || !parsed) return;
    const result = readGiven(inputs, draft);
    setErrors(result.errors);
    setGeneral(undefined);
    if (!result.values) {
      focusInvalid.current = true;
      return;
    }
    let windows = selection?.windows;
    if (!windows) {
      try {
        const answer = await (await intake()).windows({ model, stepHours, given: result.values });
        windows = selectDays(answer.windows, dayLimit).windows;
      } catch (error) {
        setPreview({ key: key ?? "", state: "failed", error });
        return;
      }
    }
    if (windows.length === 0) {
      setGeneral("No window has every value the model needs: see why above, or give the values to use when your data has none.");
      return;
    }
    document.getElementById("import-progress")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
    void run.start(loaded.value, windows);
  };

  const records = planned.reduce((sum, d) => sum + d.records, 0);

  /** One input's field, for the values no device gives and for the optional fallbacks alike. */
  const field = (input: ModelInput, idPrefix: string) => (
    <ReadingField
      key={input.name}
      input={input}
      idPrefix={idPrefix}
      value={draft[input.name] ?? ""}
      error={errors[input.name]}
      onChange={(value) => {
        setDraft((d) => ({ ...d, [input.name]: value }));
        setErrors((e) => (e[input.name] ? Object.fromEntries(Object.entries(e).filter(([k]) => k !== input.name)) : e));
      }}
    />
  );

  return (
    <div className="import">
      <h1>Import readings</h1>
      <p className="lead">
        A file from your health record or your devices: the readings are read here, on this device, in a worker of their own; for each window of time the
        model's values are computed from them, encrypted on this device, and only then sent. Nobody else sees the readings or the windows.
      </p>
      {keysOpen ? <RegistrationGate /> : <KeyGate purpose="to encrypt your windows and read their results" />}

      <section className="card" aria-labelledby="import-file-title">
        <h2 id="import-file-title">Your file</h2>
        <div className="field">
          <label htmlFor="import-file">File of readings</label>
          <input
            id="import-file"
            type="file"
            accept={ACCEPT}
            data-testid="import-file"
            aria-describedby="import-file-hint"
            disabled={running}
            onChange={(e) => void chooseFile(e.currentTarget.files?.[0])}
          />
          <p id="import-file-hint" className="field-hint">
            FHIR R4 JSON (a Bundle, an Observation or a Patient), Apple Health's export.xml (taken out of the export's zip), or a device CSV with the
            columns timestamp, metric, value and unit.
          </p>
        </div>
        <p className="status-line" role="status" aria-live="polite" data-testid="import-file-status">
          {reading ? (
            <>
              <span className="spinner" aria-hidden="true" /> Reading {reading.name}
              {reading.read > 0 ? `: ${bytes(reading.read)} of ${bytes(reading.total)}` : ` (${bytes(reading.total)})`}…
            </>
          ) : parsed ? (
            `${parsed.name} read: ${parsed.used} readings used.`
          ) : (
            " "
          )}
        </p>
        {fileError !== undefined && <ErrorPanel view={importErrorView(fileError, describe)} testId="import-error" onDismiss={() => setFileError(undefined)} />}
      </section>

      {parsed && <FileSummary parsed={parsed} />}

      {parsed && (
        <form className="card import-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="import-form-title">
          <h2 id="import-form-title">Your windows</h2>
          <ModelPicker models={config.models} value={modelId} disabled={running} onChange={setModelId} />
          {loaded?.state === "checking" && <p className="status-line">Fetching the model and checking it against the chain…</p>}
          {loaded?.state === "failed" && <ErrorPanel view={describe(loaded.error)} testId="model-error" />}
          {loaded?.state === "known" && <ModelSummary loaded={loaded.value} />}
          {model && inputs && !takesReadings && <p className="warn-text">This model takes no values from files: use New prediction and type your reading.</p>}
          {model && inputs && takesReadings && !oneRound && <p className="warn-text">This model runs in several rounds: windows are predicted with one-round models only.</p>}
          {model && inputs && takesReadings && oneRound && (
            <>
              <h3>From your file</h3>
              <ul className="source-list" data-testid="import-sources">
                {inputs.sourced.map((input) => (
                  <li key={input.name}>
                    <strong>{input.label}</strong>: {sourceText(input)}.
                  </li>
                ))}
              </ul>
              {inputs.required.length > 0 && (
                <fieldset className="reading" disabled={running}>
                  <legend>Values no device gives</legend>
                  <p className="hint">The same for every window: from your last examination, or as your doctor told you.</p>
                  <div className="field-grid">
                    {inputs.required.map((input) => field(input, "given"))}
                  </div>
                </fieldset>
              )}
              {inputs.fallbacks.length > 0 && (
                <details className="reading fallbacks" open={inputs.fallbacks.some((i) => errors[i.name])}>
                  <summary>Values to use when your file has none (optional)</summary>
                  <p className="hint">Left empty, a window without its own value for one of these is skipped, and the reason shown.</p>
                  <fieldset disabled={running} className="plain-fieldset">
                    <legend className="visually-hidden">Fallback values</legend>
                    <div className="field-grid">
                      {inputs.fallbacks.map((input) => field(input, "fallback"))}
                    </div>
                  </fieldset>
                </details>
              )}
              <div className="inline-form">
                <div className="field">
                  <label htmlFor="import-step">A window every</label>
                  <select id="import-step" data-testid="import-step" value={stepHours} disabled={running} onChange={(e) => setStepHours(Number(e.currentTarget.value))}>
                    {STEP_HOURS.map((h) => (
                      <option key={h} value={h}>
                        {h === 1 ? "hour" : `${h} hours`}
                      </option>
                    ))}
                  </select>
                </div>
                <div className="field">
                  <label htmlFor="import-days">Days to predict</label>
                  <select id="import-days" data-testid="import-days-limit" value={dayLimit} disabled={running} onChange={(e) => setDayLimit(Number(e.currentTarget.value))}>
                    {DAY_LIMITS.map((n) => (
                      <option key={n} value={n}>
                        {n === 0 ? "every day in the file" : n === 1 ? "the last day" : `the last ${n} days`}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <WindowsPreview preview={preview?.key === key ? preview : undefined} complete={given !== undefined} selection={selection} records={records} days={planned.length} describe={describe} />
              {general && (
                <p className="field-error" role="alert" data-testid="import-general-error">
                  {general}
                </p>
              )}
              <div className="actions">
                <button type="submit" className="primary large" data-testid="import-predict" disabled={running || !registered || (selection !== undefined && selection.windows.length === 0)}>
                  {running ? "Working…" : selection ? `Predict every window (${selection.windows.length})` : "Predict every window"}
                </button>
              </div>
              <WalletPromptLine prompt={session.prompt} busy={undefined} />
            </>
          )}
        </form>
      )}

      {run.state.status !== "idle" && (
        <section className="card" id="import-progress" aria-labelledby="import-progress-title" aria-live="polite" data-testid="import-run" data-state={run.state.status}>
          <h2 id="import-progress-title">Progress, day by day</h2>
          <DayProgress days={run.state.days} />
          {run.state.status === "failed" && <ErrorPanel view={describe(run.state.error)} testId="import-run-error" />}
        </section>
      )}

      {run.state.status === "done" && chart && (
        <section className="card" aria-labelledby="import-results-title" data-testid="import-results">
          <h2 id="import-results-title">Risk per window</h2>
          <p className="muted">
            Each result was checked against the hash the chain committed and its votes, then decrypted on this device. They are also in{" "}
            <a href="#/patient/history">My results</a>.
          </p>
          <HistoryChart data={chart} testId="import-chart" description={`the risk of ${chart.values.length} windows over time; the values are listed in the table below`} />
          <WindowTable model={run.state.loaded.model} predictions={[...run.state.result.predictions].sort((a, b) => a.end - b.end)} windows={run.state.windows} />
          <Explanation model={run.state.loaded.model} probability={undefined} />
        </section>
      )}
    </div>
  );
}

/** How many windows the file gives, how many were skipped and why, and what predicting them takes. */
function WindowsPreview({
  preview,
  complete,
  selection,
  records,
  days,
  describe,
}: {
  preview: Preview | undefined;
  complete: boolean;
  selection: { windows: PredictionWindow[]; totalDays: number; answer: WindowAnswer } | undefined;
  records: number;
  days: number;
  describe: ReturnType<typeof useDescribeError>;
}) {
  if (!complete) return <p className="status-line" data-testid="import-windows-pending">Fill in the values above to see your windows.</p>;
  if (!preview || preview.state === "checking") return <p className="status-line">Making your windows…</p>;
  if (preview.state === "failed") return <ErrorPanel view={describe(preview.error)} testId="import-windows-error" />;
  const { answer } = selection!;
  const reasons = Object.entries(answer.missingByInput).sort((a, b) => b[1] - a[1]);
  return (
    <div className="windows-preview" data-testid="import-windows" data-count={selection!.windows.length} data-all={answer.windows.length} data-skipped={answer.skipped} data-days={days}>
      <p>
        <strong>{answer.windows.length}</strong> windows with every value on {selection!.totalDays} day{selection!.totalDays === 1 ? "" : "s"}
        {answer.skipped > 0 ? `; ${answer.skipped} skipped` : ""}.{" "}
        {selection!.windows.length > 0 && (
          <>
            Predicting {selection!.windows.length === answer.windows.length ? "them" : `the ${selection!.windows.length} of the last ${days} day${days === 1 ? "" : "s"}`} asks your
            wallet for {days + records} transaction{days + records === 1 ? "" : "s"}: one per day to anchor it, and one per record of up to {WINDOWS_PER_RECORD} windows.
          </>
        )}
      </p>
      {answer.skipped > 0 && (
        <details className="import-issues">
          <summary>Why windows were skipped</summary>
          <p>
            Missing most often: {reasons.map(([name, n]) => `${name} (${n} window${n === 1 ? "" : "s"})`).join(", ")}.
          </p>
          <ul>
            {answer.skippedExamples.map((s) => (
              <li key={s.end} data-testid="import-skipped-window">
                Window ending {when(s.end)}: {s.missing.join("; ")}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
