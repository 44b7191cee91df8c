import { useCallback, useState } from "react";

/** One button's action: running, its error, its last result. */
export function useAction<A extends unknown[], T>(action: (...args: A) => Promise<T>) {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [result, setResult] = useState<T | undefined>(undefined);
  const run = useCallback(
    async (...args: A) => {
      setRunning(true);
      setError(undefined);
      try {
        const value = await action(...args);
        setResult(value);
        return value;
      } catch (err) {
        setError(err);
        return undefined;
      } finally {
        setRunning(false);
      }
    },
    [action],
  );
  const clear = useCallback(() => setError(undefined), []);
  return { run, running, error, result, clear };
}
