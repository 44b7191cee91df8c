import type { ReactNode } from "react";

export type ItemState = "done" | "todo" | "warn" | "checking";

const MARKS: Record<ItemState, string> = { done: "✓", todo: "○", warn: "!", checking: "…" };
const WORDS: Record<ItemState, string> = { done: "done", todo: "to do", warn: "needs attention", checking: "checking" };

/** One step of the keys checklist: its state, a title, what it means, and its action. */
export function ChecklistItem({ state, title, testId, children }: { state: ItemState; title: string; testId: string; children: ReactNode }) {
  return (
    <li className={`check-item check-${state}`} data-testid={testId} data-state={state}>
      <span className="check-mark" aria-hidden="true">
        {MARKS[state]}
      </span>
      <div className="check-body">
        <h3>
          {title} <span className="visually-hidden">({WORDS[state]})</span>
        </h3>
        {children}
      </div>
    </li>
  );
}
