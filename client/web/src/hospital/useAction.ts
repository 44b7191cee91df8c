import { useCallback, useRef, useState } from "react";

export type ActionState<T> = { status: "idle" } | { status: "busy"; step: string } | { status: "done"; value: T } | { status: "error"; error: unknown };

/**
 * One user action that signs or sends something (publish, deprecate, request): its current step in words while it
 * runs, then its value or its error. A second run while one is going is ignored (the button is disabled anyway).
 */
export function useAction<T>() {
  const [state, setState] = useState<ActionState<T>>({ status: "idle" });
  const running = useRef(false);
  const run = useCallback(async (action: (step: (words: string) => void) => Promise<T>) => {
    if (running.current) return;
    running.current = true;
    const step = (words: string) => setState({ status: "busy", step: words });
    step("Starting…");
    try {
      setState({ status: "done", value: await action(step) });
    } catch (error) {
      setState({ status: "error", error });
    } finally {
      running.current = false;
    }
  }, []);
  const reset = useCallback(() => setState({ status: "idle" }), []);
  return { state, run, reset };
}
