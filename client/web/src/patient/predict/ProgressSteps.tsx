import { Fragment, type ReactNode } from "react";
import { bytes, seconds, shortHash } from "../../app/format.js";
import type { WalletPrompt } from "../session/session-signer.js";
import { Elapsed } from "./Elapsed.js";
import { JobStatusLine } from "./JobStatusLine.js";
import { FLOW_STEPS, type FlowProgress, type FlowStep } from "./prediction-flow.js";

const LABELS: Record<FlowStep, string> = {
  encrypt: "Encrypt your reading on this device",
  upload: "Upload the ciphertext (signed by this page's upload key: no wallet prompt)",
  request: "Anchor it and request the prediction (one transaction)",
  wait: "The coprocessors evaluate the model on the ciphertext",
  verify: "Check the result against the chain and its votes",
  decrypt: "Decrypt the result on this device",
};

function detail(step: FlowStep, progress: FlowProgress): string | undefined {
  switch (step) {
    case "encrypt":
      return progress.recordBytes ? `${bytes(progress.recordBytes)} of ciphertext, made in the encryption worker` : "in the encryption worker: this page stays responsive";
    case "upload":
      return progress.recordHash ? `record ${shortHash(progress.recordHash)}` : undefined;
    case "request":
      return progress.jobId ? `job ${shortHash(progress.jobId)}` : undefined;
    case "verify":
      return progress.resultHash ? `result ${shortHash(progress.resultHash)}` : undefined;
    default:
      return undefined;
  }
}

/** The parts that are there, separated by " · ". */
function joinParts(parts: ReactNode[]): ReactNode {
  const present = parts.filter((p) => p !== null && p !== undefined && p !== false && p !== "");
  return present.map((part, i) => (
    <Fragment key={i}>
      {i > 0 && " · "}
      {part}
    </Fragment>
  ));
}

/**
 * Every step of the prediction, always all listed (so nothing moves as they complete): done, current (with its
 * elapsed time, and what the wallet is asked for), or to come.
 */
export function ProgressSteps({ progress, prompt, finished, failed }: { progress: FlowProgress | undefined; prompt: WalletPrompt | undefined; finished: boolean; failed: boolean }) {
  const current = progress?.step;
  return (
    <div className="progress" data-testid="progress" data-step={finished ? "done" : failed ? "failed" : (current ?? "idle")}>
      <p className="progress-round" data-testid="progress-round">
        {progress && progress.rounds > 1 ? `Round ${progress.round + 1} of ${progress.rounds}` : " "}
      </p>
      <ol className="steps">
        {FLOW_STEPS.map((step) => {
          const took = progress?.done[step];
          const state = !progress ? "todo" : finished || took !== undefined ? "done" : step === current ? (failed ? "failed" : "active") : "todo";
          return (
            <li key={step} className={`step step-${state}`} data-testid={`step-${step}`} data-state={state} aria-current={state === "active" ? "step" : undefined}>
              <span className="step-mark" aria-hidden="true">
                {state === "done" ? "✓" : state === "failed" ? "✕" : state === "active" ? <span className="spinner" /> : "·"}
              </span>
              <span className="step-text">
                <span className="step-label">{LABELS[step]}</span>
                <span className="step-detail">
                  {joinParts([
                    state === "done" && took !== undefined ? <span className="elapsed">{seconds(took)}</span> : null,
                    state === "active" && progress ? <Elapsed since={progress.stepStartedAt} /> : null,
                    progress && state !== "todo" ? detail(step, progress) : null,
                    state === "active" && prompt ? (
                      <strong className="prompt">{prompt.kind === "transaction" ? "Confirm the transaction in your wallet" : `Sign in your wallet (${prompt.what})`}</strong>
                    ) : null,
                    step === "wait" && state !== "todo" ? <JobStatusLine state={progress?.jobState} /> : null,
                  ])}
                </span>
              </span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
