import { useCallback, useEffect, useRef, useState } from "react";

export type Loaded<T> =
  | { status: "loading"; value?: T | undefined; error?: undefined }
  | { status: "ready"; value: T; error?: undefined }
  | { status: "error"; value?: T | undefined; error: unknown };

/**
 * Runs `load` when its dependencies change and on `reload()`. A reload keeps the last value on screen while it
 * runs (nothing jumps while waiting); new dependencies start from nothing (a value of other inputs would mislead).
 * An answer that comes back after a newer load started is dropped.
 */
export function useLoader<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> & { reload: () => void } {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const lastRun = useRef<unknown>(undefined);
  // The caller's dependencies stand for `load`'s inputs, as with useCallback.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  useEffect(() => {
    const mine = ++generation.current;
    const sameInputs = lastRun.current === run;
    lastRun.current = run;
    setState((previous) => ({ status: "loading", value: sameInputs ? previous.value : undefined }));
    run().then(
      (value) => {
        if (generation.current === mine) setState({ status: "ready", value });
      },
      (error: unknown) => {
        if (generation.current === mine) setState((previous) => ({ status: "error", error, value: previous.value }));
      }
    );
  }, [run, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
