import { useEffect, useState } from "react";
import type { Hash } from "../../../../protocol/hash.js";
import { openSharedResult, type OpenedShare } from "../../../../hospital/shared-results.js";
import { queryLogs } from "../../../chain-logs.js";
import { useApp } from "../app/context.js";
import { useLoader } from "../auditor/common/useLoader.js";

export interface SharedResultRow {
  jobId: Hash;
  patient: string;
  /** Where the latest share of this job with the hospital was made. */
  block: number;
  tx: string;
  /** The share, opened and checked: hash against `sharedResultOf`, sealed to this key, naming this job and patient. */
  opened?: OpenedShare;
  error?: unknown;
  /** Being fetched and opened. */
  opening: boolean;
}

/**
 * The results patients shared with `hospital` (ResultShared naming it; the latest per job), and, once the
 * hospital's secret key is given, each one fetched, checked against `sharedResultOf` and opened. The key is only
 * passed to `openShare`, in this page; it is never stored or sent.
 */
export function useSharedResults(hospital: string, secretKey: Uint8Array | undefined) {
  const { contract, readProvider, config, blobs } = useApp();
  const listed = useLoader(async () => {
    const events = await queryLogs(contract, contract.filters.ResultShared(undefined, undefined, hospital), { fromBlock: config.deploymentBlock });
    const latest = new Map<Hash, { jobId: Hash; patient: string; block: number; tx: string }>();
    for (const e of events) {
      const jobId = e.args.jobId.toLowerCase() as Hash;
      latest.set(jobId, { jobId, patient: e.args.patient.toLowerCase(), block: e.blockNumber, tx: e.transactionHash });
    }
    return [...latest.values()].reverse();
  }, [contract, config.deploymentBlock, hospital]);

  const [opened, setOpened] = useState(new Map<Hash, { opened?: OpenedShare; error?: unknown }>());
  const shares = listed.value;
  useEffect(() => {
    setOpened(new Map());
    if (!secretKey || !shares) return;
    let cancelled = false;
    for (const share of shares) {
      openSharedResult({ runner: readProvider, contractAddress: config.contractAddress, blobs, hospital, jobId: share.jobId, secretKey }).then(
        (result) => !cancelled && setOpened((m) => new Map(m).set(share.jobId, { opened: result })),
        (error: unknown) => !cancelled && setOpened((m) => new Map(m).set(share.jobId, { error }))
      );
    }
    return () => {
      cancelled = true;
    };
  }, [shares, secretKey, readProvider, config.contractAddress, blobs, hospital]);

  const rows: SharedResultRow[] | undefined = shares?.map((share) => {
    const done = opened.get(share.jobId);
    return { ...share, ...done, opening: secretKey !== undefined && done === undefined };
  });
  return { ...listed, rows };
}
