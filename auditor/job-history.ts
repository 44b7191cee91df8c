import type { EventLog, Log } from "ethers";
import type { PmheContract } from "../protocol/chain.js";
import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";

/** Where and when something happened on-chain: enough to find it in any block explorer. */
export interface ChainPoint {
  block: number;
  /** Position of the log in its block: orders events of one block. */
  logIndex: number;
  tx: string;
}

export interface Vote extends ChainPoint {
  coprocessor: string;
  /** A result hash, or for a failure report, null with the reason set. */
  resultHash: Hash | null;
  reason: number | null;
  reasonName: string | null;
  votes: number;
}

export interface Conflict extends ChainPoint {
  coprocessor: string;
  resultHash: Hash;
  conflictingWith: Hash;
}

export interface Share extends ChainPoint {
  hospital: string;
  sharedHash: Hash;
  locator: string;
}

export type AuditedStatus = "Requested" | "Finalized" | "Failed" | "Expired";

/** Everything the chain says about one job, rebuilt from events alone. */
export interface JobHistory {
  jobId: Hash;
  requested: ChainPoint;
  requester: string;
  patient: string;
  recordHash: Hash;
  keyBundleHash: Hash;
  model: { hash: Hash; publisher: string | null; name: string | null; version: number | null; locator: string | null };
  quorum: number;
  deadline: number;
  votes: Vote[];
  conflicts: Conflict[];
  status: AuditedStatus;
  finalized: (ChainPoint & { resultHash: Hash; votes: number }) | null;
  failed: (ChainPoint & { reason: number; reasonName: string; votes: number }) | null;
  expired: (ChainPoint & { caller: string }) | null;
  recordErased: boolean;
  shares: Share[];
}

const lower = (value: string) => value.toLowerCase() as Hash;
const at = (log: Log): ChainPoint => ({ block: log.blockNumber, logIndex: log.index, tx: log.transactionHash });
const asEvents = (logs: Array<EventLog | Log>) => logs.filter((l): l is EventLog => "args" in l);

/**
 * Rebuilds job histories from the contract's events, without reading contract state: what an auditor with only
 * a block explorer (or any archive of logs) can check. `jobId` restricts the query to one job's topics.
 */
export async function auditJobs(contract: PmheContract, options: { fromBlock?: number; jobId?: Hash } = {}): Promise<JobHistory[]> {
  const from = options.fromBlock ?? 0;
  const id = options.jobId;
  const f = contract.filters;
  const [requested, committed, conflicts, failures, finalized, failed, expired, shared, models, erased] = await Promise.all([
    contract.queryFilter(f.PredictionRequested(id), from),
    contract.queryFilter(f.ResultCommitted(id), from),
    contract.queryFilter(f.ResultConflict(id), from),
    contract.queryFilter(f.FailureReported(id), from),
    contract.queryFilter(f.JobFinalized(id), from),
    contract.queryFilter(f.JobFailed(id), from),
    contract.queryFilter(f.JobExpired(id), from),
    contract.queryFilter(f.ResultShared(id), from),
    contract.queryFilter(f.ModelPublished(), from),
    contract.queryFilter(f.RecordErased(), from),
  ]);

  const modelInfo = new Map(
    asEvents(models).map((e) => [lower(e.args.modelHash), { publisher: e.args.publisher as string, name: e.args.name as string, version: Number(e.args.version), locator: e.args.locator as string }]),
  );
  const erasedRecords = new Set(asEvents(erased).map((e) => lower(e.args.recordHash)));

  const histories = new Map<Hash, JobHistory>();
  for (const e of asEvents(requested)) {
    const jobId = lower(e.args.jobId);
    const modelHash = lower(e.args.modelHash);
    const model = modelInfo.get(modelHash);
    histories.set(jobId, {
      jobId,
      requested: at(e),
      requester: e.args.requester,
      patient: e.args.patient,
      recordHash: lower(e.args.recordHash),
      keyBundleHash: lower(e.args.keyBundleHash),
      model: { hash: modelHash, publisher: model?.publisher ?? null, name: model?.name ?? null, version: model?.version ?? null, locator: model?.locator ?? null },
      quorum: Number(e.args.quorum),
      deadline: Number(e.args.deadline),
      votes: [],
      conflicts: [],
      status: "Requested",
      finalized: null,
      failed: null,
      expired: null,
      recordErased: erasedRecords.has(lower(e.args.recordHash)),
      shares: [],
    });
  }
  const job = (jobId: string) => histories.get(lower(jobId));

  for (const e of asEvents(committed)) {
    job(e.args.jobId)?.votes.push({ ...at(e), coprocessor: e.args.coprocessor, resultHash: lower(e.args.resultHash), reason: null, reasonName: null, votes: Number(e.args.votes) });
  }
  for (const e of asEvents(failures)) {
    const reason = Number(e.args.reason);
    job(e.args.jobId)?.votes.push({ ...at(e), coprocessor: e.args.coprocessor, resultHash: null, reason, reasonName: failureReasonName(reason), votes: Number(e.args.votes) });
  }
  for (const e of asEvents(conflicts)) {
    job(e.args.jobId)?.conflicts.push({ ...at(e), coprocessor: e.args.coprocessor, resultHash: lower(e.args.resultHash), conflictingWith: lower(e.args.conflictingWith) });
  }
  for (const e of asEvents(finalized)) {
    const h = job(e.args.jobId);
    if (h) {
      h.status = "Finalized";
      h.finalized = { ...at(e), resultHash: lower(e.args.resultHash), votes: Number(e.args.votes) };
    }
  }
  for (const e of asEvents(failed)) {
    const h = job(e.args.jobId);
    if (h) {
      const reason = Number(e.args.reason);
      h.status = "Failed";
      h.failed = { ...at(e), reason, reasonName: failureReasonName(reason), votes: Number(e.args.votes) };
    }
  }
  for (const e of asEvents(expired)) {
    const h = job(e.args.jobId);
    if (h) {
      h.status = "Expired";
      h.expired = { ...at(e), caller: e.args.caller };
    }
  }
  for (const e of asEvents(shared)) {
    job(e.args.jobId)?.shares.push({ ...at(e), hospital: e.args.hospital, sharedHash: lower(e.args.sharedHash), locator: e.args.locator });
  }
  const byPosition = (a: ChainPoint, b: ChainPoint) => a.block - b.block || a.logIndex - b.logIndex;
  for (const h of histories.values()) h.votes.sort(byPosition);
  return [...histories.values()].sort((a, b) => byPosition(a.requested, b.requested));
}
