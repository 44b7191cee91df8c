import type { ReactNode } from "react";
import type { ErrorView } from "../../../error-view.js";

/**
 * An error told to a person: title, what happened, what to do next (and the endpoint or code when there is one).
 * The same panel for the shell's notices and the views' inline errors; test ids name each part.
 */
export function ErrorPanel({ view, onDismiss, children, testId = "error" }: { view: ErrorView; onDismiss?: () => void; children?: ReactNode; testId?: string }) {
  return (
    <section className={`error-panel error-${view.kind}`} role="alert" data-testid={testId} data-error-kind={view.kind} data-error-code={view.code}>
      <div className="error-body">
        <h2 className="error-title" data-testid="error-title">
          {view.title}
        </h2>
        <p className="error-sentence" data-testid="error-sentence">
          {view.sentence}
        </p>
        <p className="error-next" data-testid="error-next">
          <strong>What to do: </strong>
          {view.next}
        </p>
        {view.url && (
          <p className="error-meta">
            Endpoint: <code data-testid="error-url">{view.url}</code>
          </p>
        )}
        {view.code && view.kind !== "user-rejected" && (
          <p className="error-meta">
            Code: <code data-testid="error-code">{view.code}</code>
          </p>
        )}
        {children && <div className="error-actions">{children}</div>}
      </div>
      {onDismiss && (
        <button type="button" className="icon-button" onClick={onDismiss} aria-label="Dismiss this message">
          ×
        </button>
      )}
    </section>
  );
}
