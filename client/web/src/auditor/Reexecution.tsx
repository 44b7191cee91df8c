import type { Hash } from "../../../../protocol/hash.js";
import type { JobHistory } from "../../../../protocol/job-history.js";
import { formatBytes, formatMs } from "./common/format.js";
import ErrorNote from "./common/ErrorNote.js";
import HashText from "./common/HashText.js";
import type { BlobCheck } from "./useBlobChecks.js";
import { useReexecution } from "./useReexecution.js";

type Tone = "ok" | "bad" | "warn" | "neutral";

/** The first byte at which two blobs differ, or -1 when they are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Why the job cannot be re-run, when one of its inputs is not at hand and verified. */
function blocker(job: JobHistory, checks: BlobCheck[]): string | undefined {
  const input = (kind: BlobCheck["kind"]) => checks.find((c) => c.kind === kind);
  const record = input("record");
  const keyBundle = input("key-bundle");
  const model = input("model");
  if (!job.model.hash) return "No ModelPublished event names this job's model, so there is no model to run.";
  if ([record, keyBundle, model].some((c) => c?.verdict === "checking")) return "Waiting for the blob checks of the record, key bundle and model.";
  if (record?.verdict === "erased") return "The patient erased the record, so nobody can re-run this job: the erasure works as promised.";
  for (const [name, check] of [
    ["record", record],
    ["key bundle", keyBundle],
    ["model", model],
  ] as const) {
    if (check?.verdict !== "match") return `The ${name} blob is not available with its on-chain hash (see above), so the job's inputs cannot be re-run.`;
  }
  return undefined;
}

/**
 * The re-execution check: the job's model, key bundle and record, verified against the chain, evaluated again in
 * this browser's audit worker exactly as a coprocessor does; the hash of that result is compared with the
 * committed one. CKKS evaluation uses no randomness: an honest result matches byte for byte.
 */
export default function Reexecution(props: { job: JobHistory; checks: BlobCheck[]; bytesOf: (hash: Hash | null | undefined) => Uint8Array | undefined }) {
  const { job, checks, bytesOf } = props;
  const { state, run } = useReexecution(job, bytesOf);
  const why = blocker(job, checks);
  const final = job.finalized?.resultHash ?? null;
  const voted = [...new Set(job.votes.flatMap((v) => (v.resultHash ? [v.resultHash] : [])))];
  const compareWith: Hash | null = final ?? (voted.length === 1 ? voted[0]! : null);

  let verdict: { tone: Tone; text: string; code: string } | undefined;
  let detail: string | undefined;
  if (state.status === "done") {
    const answer = state.answer;
    if (answer.ok) {
      if (job.status === "Failed") {
        verdict = {
          tone: "warn",
          code: "reproduced-result-of-failed-job",
          text: `The evaluation succeeds here, yet the operators voted the failure ${job.failed?.reasonName}. A blob that arrived after the job ran would explain it; otherwise the failure votes are wrong.`,
        };
      } else if (compareWith === null) {
        verdict = {
          tone: "neutral",
          code: "nothing-to-compare",
          text: "No result has been committed yet to compare with; the hash computed here is what an honest operator will commit.",
        };
      } else if (answer.resultHash === compareWith) {
        verdict = { tone: "ok", code: "match", text: `Match: the result computed here is byte for byte the ${final ? "committed final" : "voted"} result.` };
      } else {
        verdict = {
          tone: "bad",
          code: "mismatch",
          text: `Mismatch: the ${
            final ? "committed final" : "voted"
          } result is not what the model computes on these inputs. An operator committed something else, or runs another engine build.`,
        };
        const committed = bytesOf(compareWith);
        if (committed) {
          const at = firstDifference(committed, answer.result);
          detail = `The committed blob is ${formatBytes(committed.length)}, the one computed here ${formatBytes(
            answer.result.length
          )}; they first differ at byte ${at.toLocaleString("en-GB")}.`;
        }
      }
      const dissent = voted.filter((h) => h !== answer.resultHash).length;
      if (dissent > 0 && verdict.code === "match")
        detail = `${dissent} other voted result${dissent === 1 ? "" : "s"} differ${dissent === 1 ? "s" : ""} from it: those votes are wrong.`;
    } else if (job.status === "Failed" && answer.reason === job.failed?.reasonName) {
      verdict = { tone: "ok", code: "failure-reproduced", text: `Agrees: the evaluation fails here with ${answer.reason}, as the operators voted.` };
    } else if (job.status === "Failed") {
      verdict = {
        tone: "warn",
        code: "failure-differs",
        text: `The evaluation fails here with ${answer.reason ?? "an error"}; the operators voted ${job.failed?.reasonName}.`,
      };
    } else {
      verdict = {
        tone: compareWith ? "bad" : "warn",
        code: "refused",
        text: `The evaluation fails here with ${answer.reason ?? "an error"}${
          compareWith ? ", yet a result was committed: that result cannot come from these inputs" : ""
        }.`,
      };
    }
  }

  const running = state.status === "running";
  return (
    <section className="av-section" aria-labelledby="audit-reexec-heading" data-testid="audit-reexecution">
      <div className="av-section-head">
        <h3 id="audit-reexec-heading">Re-execution check</h3>
        <button
          type="button"
          className="pc-button"
          onClick={() => void run()}
          disabled={why !== undefined || running}
          aria-describedby="audit-reexec-why"
          data-testid="audit-reexecute-button"
        >
          {running ? "Evaluating…" : state.status === "done" ? "Run again" : "Re-run the evaluation"}
        </button>
      </div>
      <p id="audit-reexec-why" className="av-summary-line">
        {why ??
          "Runs the coprocessor's evaluation (node-seal, in a worker of this page) on the verified model, key bundle and record, and compares the hash of the result with the committed one."}
      </p>
      <dl className="av-facts av-reexec-hashes" aria-live="polite">
        <dt>Committed result hash</dt>
        <dd data-testid="audit-reexec-committed">
          {compareWith ? (
            <HashText value={compareWith} />
          ) : job.status === "Failed" ? (
            `none: failed with ${job.failed?.reasonName}`
          ) : voted.length > 1 ? (
            "several, see the votes"
          ) : (
            "none yet"
          )}
        </dd>
        <dt>Computed here</dt>
        <dd data-testid="audit-reexec-computed">
          {state.status === "done" ? (
            state.answer.ok ? (
              <HashText value={state.answer.resultHash} />
            ) : (
              `fails: ${state.answer.reason ?? "error"}`
            )
          ) : running ? (
            "evaluating…"
          ) : (
            "not run yet"
          )}
        </dd>
        <dt>Time</dt>
        <dd className="pc-number" data-testid="audit-reexec-time">
          {state.status === "done" && state.answer.ok
            ? `${formatMs(state.answer.evaluationMs)} evaluating (${state.answer.parameterSet}, ${state.answer.layout}, round ${state.answer.round})${
                state.answer.engineMs > 0 ? `, ${formatMs(state.answer.engineMs)} to start SEAL` : ""
              }`
            : state.status === "done"
            ? formatMs(state.wallMs)
            : "—"}
        </dd>
      </dl>
      <div className="av-verdict-slot">
        {verdict ? (
          <p
            className={`av-verdict pc-tone-${why !== undefined ? "neutral" : verdict.tone}`}
            data-testid="audit-reexec-verdict"
            data-verdict={verdict.code}
            data-stale={why !== undefined ? "true" : undefined}
            role="status"
          >
            {/* The inputs no longer pass their checks: this verdict is about the blobs as they were when it ran. */}
            {why !== undefined ? `Earlier run, on the blobs as they were then (they no longer pass their checks): ${verdict.text}` : verdict.text}
          </p>
        ) : null}
        {detail ? <p className="av-verdict-detail">{detail}</p> : null}
        {state.status === "done" && !state.answer.ok ? <p className="av-verdict-detail">{state.answer.message}</p> : null}
        {state.status === "error" ? <ErrorNote error={state.error} testId="audit-reexec-error" /> : null}
      </div>
    </section>
  );
}
