import { useEffect, useMemo, useState, type FormEvent } from "react";
import { roundCount } from "../../../../../protocol/model.js";
import { useApp } from "../../app/context.js";
import { InlineError } from "../common/InlineError.js";
import { KeyGate } from "../keys/KeyGate.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { ModelPicker } from "./ModelPicker.js";
import { ModelSummary } from "./ModelSummary.js";
import { ProgressSteps } from "./ProgressSteps.js";
import { emptyDraft, exampleDraft, readDraft, type ReadingDraft } from "./reading-draft.js";
import { ReadingForm } from "./ReadingForm.js";
import { RegistrationGate } from "./RegistrationGate.js";
import { RunOutcome } from "./RunOutcome.js";
import { useModel } from "./useModel.js";
import { usePredictionRun } from "./usePredictionRun.js";

/** A new prediction: the model, the reading form made from it, the steps as they happen, the result. */
export function PredictPanel() {
  const { config } = useApp();
  const session = usePatient();
  const [modelId, setModelId] = useState(config.models[0]?.id ?? "");
  const meta = useMemo(() => config.models.find((m) => m.id === modelId), [config, modelId]);
  const loaded = useModel(meta);
  const model = loaded?.state === "known" ? loaded.value.model : undefined;
  const [drafts, setDrafts] = useState<ReadingDraft[]>([]);
  const [errors, setErrors] = useState<Record<string, string>[]>([]);
  const [general, setGeneral] = useState<string | undefined>(undefined);
  const run = usePredictionRun();
  const running = run.state.status === "running";

  useEffect(() => {
    setDrafts(model ? [emptyDraft(model)] : []);
    setErrors([]);
    setGeneral(undefined);
  }, [model]);
  useEffect(() => {
    if (errors.some((e) => Object.keys(e).length > 0)) document.querySelector<HTMLElement>('.reading-form [aria-invalid="true"]')?.focus();
  }, [errors]);

  if (config.models.length === 0) return <p>This deployment has no published models yet.</p>;
  if (session.keys.phase !== "open") return <KeyGate purpose="to encrypt your reading and read the result" />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!model || loaded?.state !== "known") return;
    const checked = drafts.map((draft) => readDraft(model, draft));
    setErrors(checked.map((c) => c.errors));
    const problem = checked.find((c) => c.general)?.general;
    setGeneral(problem);
    if (problem || checked.some((c) => !c.reading)) return;
    // On a narrow screen the steps are below the form: bring them into view.
    document.getElementById("progress-card")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
    void run.start(loaded.value, checked.map((c) => c.reading!));
  };

  return (
    <div className="predict">
      <h1>New prediction</h1>
      <RegistrationGate />
      <div className="predict-grid">
        <form className="card predict-form" onSubmit={submit} noValidate aria-describedby="predict-privacy">
          <ModelPicker models={config.models} value={modelId} disabled={running} onChange={setModelId} />
          {loaded?.state === "checking" && <p className="status-line">Fetching the model and checking it against the chain…</p>}
          {loaded?.state === "failed" && <InlineError error={loaded.error} testId="model-error" />}
          {loaded?.state === "known" && model && (
            <>
              <ModelSummary loaded={loaded.value} />
              <p id="predict-privacy" className="hint">
                Your reading is encrypted on this device before it leaves it: nobody else ever sees these numbers.{" "}
                <button type="button" className="link-button" data-testid="fill-example" disabled={running} onClick={() => setDrafts((d) => d.map(() => exampleDraft(model)))}>
                  Fill in example values
                </button>{" "}
                (the training data's averages, to try the app).
              </p>
              <ReadingForm
                model={model}
                drafts={drafts}
                errors={errors}
                allowMany={roundCount(model) === 1}
                disabled={running}
                onChange={(index, name, value) => {
                  setDrafts((all) => all.map((d, i) => (i === index ? { ...d, [name]: value } : d)));
                  setErrors((all) => all.map((e, i) => (i === index && e[name] ? Object.fromEntries(Object.entries(e).filter(([k]) => k !== name)) : e)));
                }}
                onAdd={() => setDrafts((all) => [...all, { ...(all.at(-1) ?? emptyDraft(model)) }])}
                onRemove={(index) => {
                  setDrafts((all) => all.filter((_, i) => i !== index));
                  setErrors((all) => all.filter((_, i) => i !== index));
                }}
              />
              {general && (
                <p className="field-error" role="alert" data-testid="reading-error">
                  {general}
                </p>
              )}
              <div className="actions">
                <button type="submit" className="primary large" data-testid="predict-submit" disabled={running || session.registered.state !== "known" || session.registered.value !== session.keys.stored.keyBundleHash}>
                  {running ? "Working…" : drafts.length > 1 ? `Encrypt ${drafts.length} readings and request` : "Encrypt and request prediction"}
                </button>
                {run.state.status === "running" && run.state.progress?.step === "wait" && (
                  <button type="button" onClick={run.stop}>
                    Stop waiting
                  </button>
                )}
              </div>
            </>
          )}
        </form>
        <div className="predict-side" aria-live="polite">
          <div className="card" id="progress-card">
            <h2>Progress</h2>
            <ProgressSteps progress={run.state.status === "idle" ? undefined : run.state.progress} prompt={session.prompt} finished={run.state.status === "done"} failed={run.state.status === "failed"} />
          </div>
          <RunOutcome state={run.state} onViewDisputed={() => void run.viewDisputed()} />
        </div>
      </div>
    </div>
  );
}
