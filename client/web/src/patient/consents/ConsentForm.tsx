import { isAddress } from "ethers";
import { useId, useState, type FormEvent } from "react";
import { InlineError } from "../common/InlineError.js";
import { useAction } from "../common/useAction.js";
import { WalletPromptLine } from "../common/WalletPromptLine.js";
import { connectPmhe } from "../../../../../protocol/chain.js";
import { useApp } from "../../app/context.js";
import { usePatient } from "../session/PatientSessionContext.js";
import { grantConsent } from "./consent-calls.js";
import type { Hospital } from "./useHospitals.js";

const isoDate = (date: Date) => date.toISOString().slice(0, 10);

/** Grants a hospital consent until a date, and whether it may receive shared results. */
export function ConsentForm({ hospitals: found, onGranted }: { hospitals: Hospital[] | undefined; onGranted(): void }) {
  const hospitals = found ?? [];
  const { config } = useApp();
  const session = usePatient();
  const ids = { hospital: useId(), other: useId(), until: useId(), results: useId() };
  const [choice, setChoice] = useState("");
  const [other, setOther] = useState("");
  const [until, setUntil] = useState(() => isoDate(new Date(Date.now() + 30 * 86_400_000)));
  const [results, setResults] = useState(true);
  const [problems, setProblems] = useState<{ hospital?: string; until?: string }>({});
  const selected = choice || hospitals[0]?.address || "other";
  const grant = useAction(async (hospital: string, expiresAt: number) => {
    const txHash = await grantConsent(connectPmhe(config.contractAddress, session.signer), hospital, expiresAt, results);
    onGranted();
    return txHash;
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const hospital = selected === "other" ? other.trim() : selected;
    const end = new Date(`${until}T23:59:59`);
    const next: typeof problems = {};
    if (!isAddress(hospital)) next.hospital = "Enter the hospital's address: 0x followed by 40 hex digits.";
    if (Number.isNaN(end.getTime()) || end.getTime() <= Date.now()) next.until = "Choose a date in the future.";
    setProblems(next);
    if (next.hospital || next.until) return;
    void grant.run(hospital, Math.floor(end.getTime() / 1000));
  };

  return (
    <form className="card consent-form" onSubmit={submit} noValidate>
      <h2>Grant a consent</h2>
      <p className="hint">The hospital may then request predictions on your records until the date you choose; you can revoke it at any time.</p>
      <div className="field">
        <label htmlFor={ids.hospital}>Hospital</label>
        <select id={ids.hospital} data-testid="consent-hospital" value={found ? selected : ""} disabled={!found} onChange={(e) => setChoice(e.currentTarget.value)}>
          {!found && <option value="">Reading the registered hospitals…</option>}
          {hospitals.map((h) => (
            <option key={h.address} value={h.address}>
              {h.name} ({h.address.slice(0, 8)}…)
            </option>
          ))}
          <option value="other">Another address…</option>
        </select>
      </div>
      {found && selected === "other" && (
        <div className={`field${problems.hospital ? " field-invalid" : ""}`}>
          <label htmlFor={ids.other}>Hospital address</label>
          <input
            id={ids.other}
            data-testid="consent-hospital-address"
            value={other}
            spellCheck={false}
            autoComplete="off"
            placeholder="0x…"
            aria-invalid={problems.hospital ? true : undefined}
            aria-describedby={problems.hospital ? `${ids.other}-error` : undefined}
            onChange={(e) => setOther(e.currentTarget.value)}
          />
          {problems.hospital && (
            <p id={`${ids.other}-error`} className="field-error" data-testid="field-error-hospital">
              {problems.hospital}
            </p>
          )}
        </div>
      )}
      <div className={`field${problems.until ? " field-invalid" : ""}`}>
        <label htmlFor={ids.until}>Valid until (end of the day)</label>
        <input
          id={ids.until}
          type="date"
          data-testid="consent-until"
          value={until}
          min={isoDate(new Date())}
          aria-invalid={problems.until ? true : undefined}
          aria-describedby={problems.until ? `${ids.until}-error` : undefined}
          onChange={(e) => setUntil(e.currentTarget.value)}
        />
        {problems.until && (
          <p id={`${ids.until}-error`} className="field-error" data-testid="field-error-until">
            {problems.until}
          </p>
        )}
      </div>
      <div className="field checkbox">
        <input id={ids.results} type="checkbox" data-testid="consent-results" checked={results} onChange={(e) => setResults(e.currentTarget.checked)} />
        <label htmlFor={ids.results}>It may receive results I choose to share with it (rounded, sealed to its key)</label>
      </div>
      <div className="actions">
        <button type="submit" className="primary" data-testid="consent-grant" disabled={grant.running || !found}>
          {grant.running ? "Granting…" : "Grant consent"}
        </button>
      </div>
      {grant.running && <WalletPromptLine prompt={session.prompt} />}
      {grant.result !== undefined && !grant.running && (
        <p className="ok-text" data-testid="consent-granted">
          Consent granted.
        </p>
      )}
      <InlineError error={grant.error} onDismiss={grant.clear} testId="consent-error" />
    </form>
  );
}
