import { useCallback, useEffect, useRef, useState } from "react";
import { BlobStoreError } from "../../../../protocol/blob-client.js";
import { contentHash, type Hash } from "../../../../protocol/hash.js";
import type { JobHistory } from "../../../../protocol/job-history.js";
import { useApp } from "../app/context.js";

export type BlobKind = "record" | "key-bundle" | "model" | "result" | "share";

/**
 * One blob a job names, checked against the hash on-chain: `match` (the store's bytes hash to it), `mismatch` (they
 * do not: tampered), `missing` (the store has nothing), `erased` (the patient erased it, as is their right),
 * `unknown` (no hash to check: the chain never published the model), `error` (the store could not be asked).
 */
export type BlobVerdict = "checking" | "match" | "mismatch" | "missing" | "erased" | "unknown" | "error";

export interface BlobCheck {
  /** Stable key: kind and hash. */
  key: string;
  kind: BlobKind;
  /** What it is, in words: "Record", "Result (final)", "Share"; a share names its hospital in `hospital`. */
  label: string;
  /** The hospital a share was made for. */
  hospital?: string;
  /** The hash the chain holds; null when the chain names none. */
  expected: Hash | null;
  verdict: BlobVerdict;
  /** What the store's bytes hash to (mismatch and match). */
  found?: Hash;
  /** Size of what the store sent, bytes. */
  bytes?: number;
  error?: unknown;
  /** Why a missing blob is expected, or who named it. */
  note?: string;
}

interface Wanted {
  kind: BlobKind;
  label: string;
  hospital?: string;
  expected: Hash | null;
  note?: string;
  /** Missing is expected (an erased record): not a red flag. */
  mayBeErased?: boolean;
}

/** Every blob the job's events name: its inputs, every result voted for, and the latest share with each hospital. */
function wantedBlobs(job: JobHistory): Wanted[] {
  const wanted: Wanted[] = [
    {
      kind: "record",
      label: job.batchRoot ? "Record (a leaf of a batch)" : "Record",
      expected: job.recordHash,
      mayBeErased: job.recordErased,
      ...(job.recordErased ? { note: "the patient erased this record" } : {}),
    },
    { kind: "key-bundle", label: "Key bundle", expected: job.keyBundleHash },
    {
      kind: "model",
      label: job.model.name ? `Model ${job.model.name} v${job.model.version}` : "Model",
      expected: job.model.hash,
      ...(job.model.hash ? {} : { note: "no ModelPublished event names this model id" }),
    },
  ];
  const results = new Map<Hash, number>();
  for (const vote of job.votes) if (vote.resultHash) results.set(vote.resultHash, (results.get(vote.resultHash) ?? 0) + 1);
  const final = job.finalized?.resultHash;
  if (final && !results.has(final)) results.set(final, 0);
  for (const [hash, voters] of results) {
    const label = hash === final ? "Result (final)" : final ? "Result (dissenting vote)" : "Result (voted)";
    wanted.push({ kind: "result", label, expected: hash, note: `committed by ${voters} operator${voters === 1 ? "" : "s"}` });
  }
  const latest = new Map<string, JobHistory["shares"][number]>();
  for (const share of job.shares) latest.set(share.hospital.toLowerCase(), share);
  for (const share of latest.values()) {
    const earlier = job.shares.filter((s) => s.hospital.toLowerCase() === share.hospital.toLowerCase()).length - 1;
    wanted.push({
      kind: "share",
      label: "Share",
      hospital: share.hospital,
      expected: share.sharedHash,
      ...(earlier > 0 ? { note: `replaces ${earlier} earlier share${earlier === 1 ? "" : "s"} with this hospital` } : {}),
    });
  }
  return wanted;
}

/**
 * Fetches every blob a job names from the blob store and hashes it against the chain. The verified bytes of the
 * inputs and results are kept (`bytesOf`) for the re-execution check, so nothing is downloaded twice.
 */
export function useBlobChecks(job: JobHistory) {
  const { blobs } = useApp();
  const [checks, setChecks] = useState<BlobCheck[]>([]);
  const [round, setRound] = useState(0);
  const verified = useRef(new Map<Hash, Uint8Array>());

  useEffect(() => {
    let cancelled = false;
    verified.current = new Map();
    const wanted = wantedBlobs(job);
    const initial = wanted.map<BlobCheck>((w) => ({
      key: `${w.kind}:${w.expected ?? "none"}:${w.label}`,
      kind: w.kind,
      label: w.label,
      ...(w.hospital ? { hospital: w.hospital } : {}),
      expected: w.expected,
      verdict: w.expected ? "checking" : "unknown",
      ...(w.note ? { note: w.note } : {}),
    }));
    setChecks(initial);
    const update = (index: number, patch: Partial<BlobCheck>) => {
      if (!cancelled) setChecks((current) => current.map((c, i) => (i === index ? { ...c, ...patch } : c)));
    };
    wanted.forEach((w, index) => {
      const expected = w.expected;
      if (!expected) return;
      blobs.get(expected).then(
        (bytes) => {
          if (!bytes) {
            update(index, { verdict: w.mayBeErased ? "erased" : "missing" });
            return;
          }
          const found = contentHash(bytes);
          if (found === expected) verified.current.set(expected, bytes);
          update(index, { verdict: found === expected ? "match" : "mismatch", found, bytes: bytes.length });
        },
        (error: unknown) => {
          if (error instanceof BlobStoreError && error.code === "erased") update(index, { verdict: "erased", note: w.note ?? "the store refuses it for good: erased" });
          else update(index, { verdict: "error", error });
        }
      );
    });
    return () => {
      cancelled = true;
    };
  }, [job, blobs, round]);

  const recheck = useCallback(() => setRound((r) => r + 1), []);
  const bytesOf = useCallback((hash: Hash | null | undefined) => (hash ? verified.current.get(hash) : undefined), []);
  return { checks, recheck, bytesOf };
}
