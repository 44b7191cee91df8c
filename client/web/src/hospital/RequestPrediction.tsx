import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { jobIdFromReceipt } from "../../../../protocol/chain.js";
import { ContractCallError, namedContractCall } from "../../../../protocol/contract-errors.js";
import type { Hash } from "../../../../protocol/hash.js";
import { useApp } from "../app/context.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import { formatTime, shortHash } from "../auditor/common/format.js";
import HashText from "../auditor/common/HashText.js";
import { HOSPITAL_HINTS } from "./hints.js";
import JobProgressNote from "./JobProgressNote.js";
import { useAction } from "./useAction.js";
import type { ConsentingPatient } from "./useConsentingPatients.js";
import { usePatientRecords } from "./usePatientRecords.js";
import type { PublishedModelInfo } from "./usePublishedModels.js";

/** Refusals that mean the consent is no longer what the list shows. */
const CONSENT_ERRORS = new Set(["NotAuthorizedRequester", "NoConsent"]);

/**
 * A prediction under consent: one of a consenting patient's anchored records, one of the hospital's current models.
 * The contract checks the consent at request time (a revoked or expired one is refused: NotAuthorizedRequester);
 * the call is simulated first, so a refusal is named before the wallet is asked for anything.
 */
export default function RequestPrediction(props: {
  consents: ConsentingPatient[] | undefined;
  /** The hospital's own models. */
  models: PublishedModelInfo[] | undefined;
  /** Every published model, to name those a record was used with. */
  allModels: PublishedModelInfo[] | undefined;
  /** A refusal that says the consents changed (revoked, expired): the list of consents is read again. */
  onConsentRefused: () => void;
}) {
  const { wallet } = useApp();
  const ids = { patient: useId(), record: useId(), model: useId() };
  const patients = useMemo(() => props.consents?.filter((c) => c.active) ?? [], [props.consents]);
  const models = useMemo(() => (props.models ?? []).filter((m) => !m.deprecated), [props.models]);
  const [patient, setPatient] = useState("");
  const [record, setRecord] = useState("");
  const [model, setModel] = useState("");
  const records = usePatientRecords(patient || undefined);
  const modelName = (modelId: string) => {
    const m = props.allModels?.find((x) => x.modelId === modelId);
    return m ? `${m.name} v${m.version}` : shortHash(modelId);
  };
  const { state, run, reset } = useAction<{ jobId: Hash; tx: string }>();

  // Sensible defaults as the lists arrive; a choice the person made is kept while it is still offered.
  useEffect(() => {
    if (!patients.some((p) => p.patient === patient)) setPatient(patients[0]?.patient ?? "");
  }, [patients, patient]);
  useEffect(() => {
    const list = records.value ?? [];
    if (!list.some((r) => r.recordHash === record)) setRecord(list[0]?.recordHash ?? "");
  }, [records.value, record]);
  useEffect(() => {
    if (!models.some((m) => m.modelId === model)) setModel(models.at(-1)?.modelId ?? "");
  }, [models, model]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!patient || !record || !model) return;
    void run(async (step) => {
      if (!wallet) throw new Error("connect the hospital's wallet first");
      step("Checking the consent with the contract…");
      try {
        await namedContractCall("requestPrediction", () => wallet.contract.requestPrediction.staticCall(patient, record, model));
      } catch (err) {
        if (err instanceof ContractCallError && CONSENT_ERRORS.has(err.errorName)) props.onConsentRefused();
        throw err;
      }
      step("Confirm the transaction in your wallet…");
      const tx = await namedContractCall("requestPrediction", () => wallet.contract.requestPrediction(patient, record, model));
      step("Waiting for the transaction to be mined…");
      const receipt = await namedContractCall("requestPrediction", () => tx.wait());
      if (!receipt) throw new Error("the wallet returned no receipt for the request");
      return { jobId: jobIdFromReceipt(wallet.contract, receipt), tx: receipt.hash };
    });
  };

  const busy = state.status === "busy";
  const ready = patient !== "" && record !== "" && model !== "";
  return (
    <section className="pc-card" aria-labelledby="hv-request-heading" data-testid="hospital-request">
      <h2 id="hv-request-heading">Request a prediction</h2>
      <form className="hv-form" onSubmit={submit} onChange={() => state.status !== "busy" && state.status !== "idle" && reset()}>
        <div className="pc-field">
          <label htmlFor={ids.patient}>Patient (active consents only)</label>
          <select
            id={ids.patient}
            value={patient}
            onChange={(e) => setPatient(e.target.value)}
            disabled={busy || patients.length === 0}
            data-testid="hospital-request-patient"
          >
            {patients.length === 0 ? <option value="">No patient consents now</option> : null}
            {patients.map((p) => (
              <option key={p.patient} value={p.patient}>
                {shortHash(p.patient, 12, 6)} · until {formatTime(p.expiresAt).slice(0, 10)}
                {p.mayReceiveResults ? " · may share results" : ""}
              </option>
            ))}
          </select>
        </div>
        <div className="pc-field">
          <label htmlFor={ids.record}>Encrypted record</label>
          <select
            id={ids.record}
            value={record}
            onChange={(e) => setRecord(e.target.value)}
            disabled={busy || !records.value?.length}
            data-testid="hospital-request-record"
          >
            {!patient ? <option value="">Choose a patient first</option> : records.value === undefined ? <option value="">Reading the patient's records…</option> : null}
            {records.value?.length === 0 ? <option value="">This patient has no anchored record</option> : null}
            {records.value?.map((r) => (
              <option key={r.recordHash} value={r.recordHash}>
                {shortHash(r.recordHash, 12, 6)} · block {r.block} · key v{r.keyVersion}
                {r.usedWith.length > 0 ? ` · used with ${r.usedWith.map(modelName).join(", ")}` : ""}
              </option>
            ))}
          </select>
        </div>
        <div className="pc-field">
          <label htmlFor={ids.model}>Model (your current versions)</label>
          <select id={ids.model} value={model} onChange={(e) => setModel(e.target.value)} disabled={busy || models.length === 0} data-testid="hospital-request-model">
            {models.length === 0 ? <option value="">Publish a model first</option> : null}
            {models.map((m) => (
              <option key={m.modelId} value={m.modelId}>
                {m.name} v{m.version}
              </option>
            ))}
          </select>
        </div>
        <div className="hv-actions">
          <button type="submit" className="pc-button" disabled={busy || !ready} data-testid="hospital-request-button">
            {busy ? "Requesting…" : "Request prediction"}
          </button>
        </div>
      </form>
      {records.status === "error" ? <ErrorNote error={records.error} testId="hospital-records-error" /> : null}
      <div className="hv-outcome" aria-live="polite">
        {state.status === "busy" ? <p className="hv-step">{state.step}</p> : null}
        {state.status === "done" ? (
          <div className="hv-done" data-testid="hospital-request-done">
            <p>
              Requested: job <HashText value={state.value.jobId} testId="hospital-request-job-id" />
            </p>
            <JobProgressNote jobId={state.value.jobId} />
            <p>
              <a href={`#/auditor?job=${state.value.jobId}`}>Audit this job</a>. The result is encrypted for the patient: you read it once the patient shares it with you.
            </p>
          </div>
        ) : null}
        {state.status === "error" ? <ErrorNote error={state.error} hints={HOSPITAL_HINTS} testId="hospital-request-error" /> : null}
      </div>
    </section>
  );
}
