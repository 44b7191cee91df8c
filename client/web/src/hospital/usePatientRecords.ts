import type { Hash } from "../../../../protocol/hash.js";
import { useApp } from "../app/context.js";
import { useLoader } from "../auditor/common/useLoader.js";
import { queryLogs } from "../../../chain-logs.js";

export interface AnchoredRecord {
  recordHash: Hash;
  keyVersion: number;
  block: number;
  /** The models of the jobs already requested on it (a record of a later round fits only its own model). */
  usedWith: Hash[];
}

/**
 * A patient's records anchored on their own (RecordAnchored), newest first, without those the patient erased
 * (RecordErased): the records a prediction can be requested on with `requestPrediction`. Each says which models
 * jobs on it used (PredictionRequested): the record blob's round is in its header, which the page does not fetch.
 */
export function usePatientRecords(patient: string | undefined) {
  const { contract, config } = useApp();
  return useLoader(async (): Promise<AnchoredRecord[]> => {
    if (!patient) return [];
    const [anchored, erased, requested] = await Promise.all([
      queryLogs(contract, contract.filters.RecordAnchored(patient), { fromBlock: config.deploymentBlock }),
      queryLogs(contract, contract.filters.RecordErased(patient), { fromBlock: config.deploymentBlock }),
      queryLogs(contract, contract.filters.PredictionRequested(undefined, patient), { fromBlock: config.deploymentBlock }),
    ]);
    const gone = new Set(erased.map((e) => e.args.recordHash.toLowerCase()));
    const used = new Map<string, Set<Hash>>();
    for (const e of requested) {
      const record = e.args.recordHash.toLowerCase();
      if (!used.has(record)) used.set(record, new Set());
      used.get(record)!.add(e.args.modelId.toLowerCase() as Hash);
    }
    return anchored
      .map((e) => {
        const recordHash = e.args.recordHash.toLowerCase() as Hash;
        return { recordHash, keyVersion: Number(e.args.keyVersion), block: e.blockNumber, usedWith: [...(used.get(recordHash) ?? [])] };
      })
      .filter((r) => !gone.has(r.recordHash))
      .reverse();
  }, [contract, config.deploymentBlock, patient]);
}
