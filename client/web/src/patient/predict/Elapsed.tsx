import { useEffect, useState } from "react";

/** Seconds since `since` (performance.now()), ticking while shown. */
export function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(performance.now()), 200);
    return () => clearInterval(timer);
  }, [since]);
  return <span className="elapsed">{Math.max(0, (now - since) / 1000).toFixed(1)} s</span>;
}
