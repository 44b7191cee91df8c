import { shortHash, seconds } from "../../app/format.js";
import { Elapsed } from "../predict/Elapsed.js";
import type { DayState, DayStep } from "./useWindowRun.js";

const STEPS: Array<{ step: DayStep; label: string }> = [
  { step: "encrypting", label: "Encrypt and upload" },
  { step: "anchoring", label: "Anchor the day (one transaction)" },
  { step: "requesting", label: "Request each record (one transaction each)" },
  { step: "decrypting", label: "Evaluate, check and decrypt" },
];
const ORDER: DayStep[] = ["waiting", "encrypting", "anchoring", "requesting", "decrypting", "done"];

function stepState(day: DayState, step: DayStep): "todo" | "active" | "done" | "failed" {
  const reached = day.step === "failed" ? (day.failedStep ?? "waiting") : day.step;
  const at = ORDER.indexOf(reached);
  const mine = ORDER.indexOf(step);
  if (mine < at) return "done";
  if (mine > at) return "todo";
  return day.step === "failed" ? "failed" : "active";
}

function detail(day: DayState, step: DayStep): string {
  switch (step) {
    case "encrypting":
      return `${day.windows} window${day.windows === 1 ? "" : "s"} in ${day.records} record${day.records === 1 ? "" : "s"}, in the encryption worker`;
    case "anchoring":
      return day.root ? `root ${shortHash(day.root)}` : "one Merkle root for the day's records";
    case "requesting":
      return `${day.requested} of ${day.records}`;
    case "decrypting":
      return `${day.decrypted} of ${day.records} records decrypted`;
    default:
      return "";
  }
}

/** Each UTC day of the run with its four steps: done (with the time it took), current (ticking), or to come. */
export function DayProgress({ days }: { days: DayState[] }) {
  return (
    <ol className="day-list" data-testid="import-days">
      {days.map((day) => (
        <li key={day.day} className="day" data-testid="import-day" data-day={day.day} data-step={day.step}>
          <h3 className="day-title">
            {day.day} <span className="muted">(UTC day)</span>
            {day.step === "done" && <span className="badge badge-finalized">done</span>}
            {day.step === "failed" && <span className="badge badge-failed">failed</span>}
          </h3>
          <ol className="day-steps">
            {STEPS.map(({ step, label }) => {
              const state = stepState(day, step);
              const took = day.took[step];
              return (
                <li key={step} className={`step step-${state}`} data-testid={`import-day-${step}`} data-state={state} aria-current={state === "active" ? "step" : undefined}>
                  <span className="step-mark" aria-hidden="true">
                    {state === "done" ? "✓" : state === "failed" ? "✕" : state === "active" ? <span className="spinner" /> : "·"}
                  </span>
                  <span className="step-text">
                    <span className="step-label">{label}</span>
                    <span className="step-detail">
                      {state === "done" && took !== undefined ? `${seconds(took)} · ` : null}
                      {state === "active" ? (
                        <>
                          <Elapsed since={day.since} /> ·{" "}
                        </>
                      ) : null}
                      {state !== "todo" ? detail(day, step) : null}
                    </span>
                  </span>
                </li>
              );
            })}
          </ol>
        </li>
      ))}
    </ol>
  );
}
