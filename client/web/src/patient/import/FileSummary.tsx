import type { IntakeIssueReason } from "../../../../../protocol/intake/observation.js";
import { vitalSign } from "../../../../../protocol/intake/vital-signs.js";
import { bytes, seconds } from "../../app/format.js";
import { FORMAT_NAMES, type ParsedFile } from "./intake-api.js";

const REASONS: Record<IntakeIssueReason, string> = {
  malformed: "not readable (missing field, bad number or time)",
  unknown_code: "a kind of data PMHE does not use",
  wrong_unit: "a unit that cannot be converted",
  impossible_value: "a value no living person shows",
  duplicate: "the same measurement twice (counted once)",
  withdrawn: "withdrawn by the record (entered in error, cancelled)",
};

const dayText = (ms: number) => new Date(ms).toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

/** What the file gave: readings used per measurement, readings skipped per reason with the first messages, the profile. */
export function FileSummary({ parsed }: { parsed: ParsedFile }) {
  const codes = Object.entries(parsed.byCode).sort((a, b) => b[1] - a[1]);
  const reasons = (Object.entries(parsed.skipped) as Array<[IntakeIssueReason, number]>).filter(([, n]) => n > 0);
  const skippedTotal = reasons.reduce((sum, [, n]) => sum + n, 0);
  const { profile } = parsed;
  return (
    <section className="card import-summary" data-testid="import-summary" data-used={parsed.used} data-skipped={skippedTotal} aria-labelledby="import-summary-title">
      <h2 id="import-summary-title">What {parsed.name} holds</h2>
      <p className="muted">
        {FORMAT_NAMES[parsed.format]}, {bytes(parsed.bytes)}, read on this device in {seconds(parsed.ms)}
        {parsed.first !== undefined && parsed.last !== undefined ? `; measured from ${dayText(parsed.first)} to ${dayText(parsed.last)}` : ""}
        {parsed.timeZone ? `; times without a zone read as ${parsed.timeZone} time` : ""}.
      </p>
      <div className="import-summary-grid">
        <div>
          <h3>
            Used: <span data-testid="import-used">{parsed.used}</span> readings
          </h3>
          {codes.length === 0 ? (
            <p>No reading PMHE can use.</p>
          ) : (
            <ul className="count-list">
              {codes.map(([code, count]) => (
                <li key={code} data-testid="import-used-code" data-code={code} data-count={count}>
                  <span>{vitalSign(code)?.name ?? code}</span> <span className="muted">({code})</span> <strong>{count}</strong>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          <h3>
            Skipped: <span data-testid="import-skipped-total">{skippedTotal}</span>
          </h3>
          {reasons.length === 0 ? (
            <p>Nothing: every reading was usable.</p>
          ) : (
            <ul className="count-list">
              {reasons.map(([reason, count]) => (
                <li key={reason} data-testid="import-skipped" data-reason={reason} data-count={count}>
                  <span>{REASONS[reason]}</span> <strong>{count}</strong>
                </li>
              ))}
            </ul>
          )}
          {parsed.unknownTypes && parsed.unknownTypes.length > 0 && (
            <p className="hint">
              Types not used: {parsed.unknownTypes.map(([type, n]) => `${type.replace(/^HK\w+TypeIdentifier/, "")} (${n})`).join(", ")}
            </p>
          )}
        </div>
      </div>
      {parsed.examples.length > 0 && (
        <details className="import-issues" open={parsed.used === 0}>
          <summary>The first readings skipped, and why</summary>
          <ul>
            {parsed.examples.map((issue, i) => (
              <li key={i} data-testid="import-issue" data-reason={issue.reason}>
                {issue.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      <p data-testid="import-profile">
        From the file:{" "}
        {[
          profile.birthDate ? `born ${profile.birthDate}` : "no birth date",
          profile.sex ? `sex ${profile.sex}` : "no sex",
          ...Object.values(profile.latest ?? {}).map((o) => `latest ${vitalSign(o.code)?.name ?? o.code} ${Number(o.value.toFixed(1))} ${vitalSign(o.code)?.unit ?? ""} (${new Date(o.time).toLocaleDateString()})`),
        ].join(" · ")}
      </p>
    </section>
  );
}
