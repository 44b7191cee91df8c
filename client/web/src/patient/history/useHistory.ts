import { useCallback, useEffect, useState } from "react";
import type { Hash } from "../../../../../protocol/hash.js";
import { queryLogs } from "../../../../chain-logs.js";
import type { PastJob } from "../../../../history.js";
import { useApp } from "../../app/context.js";
import { usePatient } from "../session/PatientSessionContext.js";
import type { Lookup } from "../session/usePatientSession.js";
import { loadHistory, saveHistory, type HistoryEntry } from "./history-cache.js";

export interface HistoryData {
  jobs: PastJob[];
  /** Block number -> unix seconds, for the jobs' dates. */
  times: Map<number, number>;
  erased: Set<Hash>;
  entries: HistoryEntry[];
  /** Jobs that are intermediate rounds of a multi-round prediction. */
  intermediate: Set<Hash>;
}

/**
 * The patient's history: the jobs from the chain (client/history.ts), the records they erased, and the decrypted
 * results this device keeps (sealed); `remember` adds decrypted results, `rebuild` replaces them all.
 */
export function useHistory() {
  const { config, contract, readProvider } = useApp();
  const session = usePatient();
  const [data, setData] = useState<Lookup<HistoryData>>({ state: "checking" });
  const [round, setRound] = useState(0);
  const { client, vault, address } = session;

  useEffect(() => {
    if (!client || !vault) return;
    let live = true;
    (async () => {
      const [jobs, erasedEvents, cache] = await Promise.all([
        client.history(),
        queryLogs(contract, contract.filters.RecordErased(address), { fromBlock: config.deploymentBlock }),
        loadHistory(config, address, vault),
      ]);
      const blocks = [...new Set(jobs.map((j) => j.blockNumber))];
      const times = new Map<number, number>();
      await Promise.all(blocks.map(async (n) => times.set(n, (await readProvider.getBlock(n))?.timestamp ?? 0)));
      const erased = new Set(erasedEvents.map((e) => e.args.recordHash.toLowerCase() as Hash));
      return { jobs: jobs.reverse(), times, erased, entries: cache.entries, intermediate: new Set(cache.intermediate) };
    })().then(
      (value) => live && setData({ state: "known", value }),
      (error: unknown) => live && setData({ state: "failed", error }),
    );
    return () => {
      live = false;
    };
  }, [client, vault, address, config, contract, readProvider, round]);

  const refresh = useCallback(() => setRound((n) => n + 1), []);
  const remember = useCallback(
    async (update: { entries?: HistoryEntry[]; intermediate?: Hash[] }, replaceAll = false) => {
      if (!vault) return;
      const all = await saveHistory(config, address, vault, update, { replaceAll });
      setData((d) => (d.state === "known" ? { state: "known", value: { ...d.value, entries: all.entries, intermediate: new Set(all.intermediate) } } : d));
    },
    [config, address, vault],
  );
  return { data, refresh, remember };
}
