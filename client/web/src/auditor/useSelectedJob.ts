import { useCallback, useEffect, useState } from "react";
import { isHash, type Hash } from "../../../../protocol/hash.js";

/** The job named in the page's address (`#/auditor?job=0x…`), so an audited job can be linked to and reloaded. */
function jobInHash(): Hash | undefined {
  const query = window.location.hash.split("?")[1];
  const value = query ? new URLSearchParams(query).get("job")?.toLowerCase() : undefined;
  return isHash(value) ? value : undefined;
}

/**
 * The job the auditor has open. Opening one writes it into the address with `history.replaceState` (no navigation,
 * no new history entry, the shell's route stays #/auditor); a changed address (a pasted link) opens its job.
 */
export function useSelectedJob(): [Hash | undefined, (jobId: Hash | undefined) => void] {
  const [jobId, setJobId] = useState<Hash | undefined>(jobInHash);
  useEffect(() => {
    const onHash = () => setJobId(jobInHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const select = useCallback((next: Hash | undefined) => {
    const route = window.location.hash.split("?")[0] || "#/auditor";
    window.history.replaceState(window.history.state, "", next ? `${route}?job=${next}` : route);
    setJobId(next);
  }, []);
  return [jobId, select];
}
