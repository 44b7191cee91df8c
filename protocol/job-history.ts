import { id, type EventLog, type Log } from "ethers";
import type { TypedContractEvent, TypedDeferredTopicFilter } from "../types/ethers-contracts/common.js";
import type { PmheContract } from "./chain.js";
import { failureReasonName } from "./failure-reasons.js";
import type { Hash } from "./hash.js";

/**
 * An auditor's view of the jobs of a PMHE deployment, rebuilt from the contract's events alone. One definition for
 * `npm run audit` and the web app's auditor view. Browser-safe: ethers and the protocol's tables, nothing of Node.
 */

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
  /** The votes the value had when this one was cast (operators in office then, this one included). */
  votes: number;
  /** Whether the voter still holds COPROCESSOR_ROLE at the last block read: a revoked operator's vote no longer counts. */
  inOffice: boolean;
}

export interface Conflict extends ChainPoint {
  coprocessor: string;
  resultHash: Hash;
  conflictingWith: Hash;
}

/** A batch vote entry that was not recorded (VoteSkipped). */
export interface SkippedVote extends ChainPoint {
  coprocessor: string;
  why: number;
  whyName: string;
}

export interface Share extends ChainPoint {
  hospital: string;
  sharedHash: Hash;
  locator: string;
}

export type AuditedStatus = "Requested" | "Finalized" | "Failed" | "Expired";

/** The contract's VoteSkipReason, by code. */
export const VOTE_SKIP_REASONS = ["None", "AlreadyVoted", "JobNotPending", "VotingClosed"] as const;

/** Everything the chain says about one job, rebuilt from events alone. */
export interface JobHistory {
  jobId: Hash;
  requested: ChainPoint;
  requester: string;
  patient: string;
  recordHash: Hash;
  /** The batch the record was proven to belong to, null for a record anchored on its own. */
  batchRoot: Hash | null;
  keyBundleHash: Hash;
  model: { id: Hash; hash: Hash | null; publisher: string | null; name: string | null; version: number | null; locator: string | null };
  quorum: number;
  deadline: number;
  votes: Vote[];
  conflicts: Conflict[];
  skipped: SkippedVote[];
  status: AuditedStatus;
  finalized: (ChainPoint & { resultHash: Hash; votes: number }) | null;
  failed: (ChainPoint & { reason: number; reasonName: string; votes: number }) | null;
  expired: (ChainPoint & { caller: string }) | null;
  /**
   * For a settled job: the votes its outcome has now from operators in office (the count `jobOf` reports), and the
   * operators in office who voted otherwise. A revoked operator counts in neither.
   */
  support: { votes: number; dissenters: string[] } | null;
  /** The patient erased the record (on its own or as a batch leaf), or its batch, after or before the request. */
  recordErased: boolean;
  shares: Share[];
}

const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");
const lower = (value: string) => value.toLowerCase() as Hash;
const at = (log: Log): ChainPoint => ({ block: log.blockNumber, logIndex: log.index, tx: log.transactionHash });
const asEvents = (logs: Array<EventLog | Log>) => logs.filter((l): l is EventLog => "args" in l);
const byPosition = (a: ChainPoint, b: ChainPoint) => a.block - b.block || a.logIndex - b.logIndex;
/** A failure vote's value as the contract records it: `bytes32(uint256(reason))`. */
const failureValue = (reason: number) => `0x${reason.toString(16).padStart(64, "0")}` as Hash;

/** Who holds COPROCESSOR_ROLE after replaying every grant and revocation in chain order. */
function operatorsInOffice(granted: EventLog[], revoked: EventLog[]): Set<string> {
  const changes = [...granted.map((e) => ({ e, on: true })), ...revoked.map((e) => ({ e, on: false }))];
  changes.sort((a, b) => byPosition(at(a.e), at(b.e)));
  const office = new Set<string>();
  for (const { e, on } of changes) {
    const account = (e.args.account as string).toLowerCase();
    if (on) office.add(account);
    else office.delete(account);
  }
  return office;
}

export interface AuditOptions {
  /** First block to read: the deployment block (or earlier), so that who is in office is replayed in full. 0 by default. */
  fromBlock?: number;
  /** Last block to read; the chain head when the audit starts by default. Every query reads the same range. */
  toBlock?: number;
  /** Only this job (its events are filtered by topic); every job by default. */
  jobId?: Hash;
  /** Blocks per log query, for providers that cap eth_getLogs ranges (public RPCs do); one query per event by default. */
  maxRange?: number;
}

/**
 * Rebuilds job histories from the contract's events, without reading contract state: what an auditor with only
 * a block explorer (or any archive of logs) can check. `jobId` restricts the job queries to that job's topics.
 * Who is in office comes from RoleGranted/RoleRevoked, so `fromBlock` should be the deployment block (or earlier)
 * for `inOffice` and `support` to be right.
 */
export async function auditJobs(contract: PmheContract, options: AuditOptions = {}): Promise<JobHistory[]> {
  const from = options.fromBlock ?? 0;
  const jobId = options.jobId;
  const provider = contract.runner?.provider;
  if (!provider) throw new Error("auditing needs a contract connected to a provider");
  // One block range for every query, so the events read are one consistent view of the chain.
  const to = options.toBlock ?? (await provider.getBlockNumber());
  const step = options.maxRange !== undefined ? Math.max(1, Math.floor(options.maxRange)) : Number.POSITIVE_INFINITY;
  const query = async <E extends TypedContractEvent>(filter: TypedDeferredTopicFilter<E>): Promise<Array<EventLog | Log>> => {
    const logs: Array<EventLog | Log> = [];
    for (let start = from; start <= to; start += step) logs.push(...(await contract.queryFilter(filter, start, Math.min(to, start + step - 1))));
    return logs;
  };
  const f = contract.filters;
  const [requested, fromBatch, committed, conflicts, failures, skipped, finalized, failed, expired, shared, models, erased, batchesErased, granted, revoked] =
    await Promise.all([
      query(f.PredictionRequested(jobId)),
      query(f.PredictionRequestedFromBatch(jobId)),
      query(f.ResultCommitted(jobId)),
      query(f.ResultConflict(jobId)),
      query(f.FailureReported(jobId)),
      query(f.VoteSkipped(jobId)),
      query(f.JobFinalized(jobId)),
      query(f.JobFailed(jobId)),
      query(f.JobExpired(jobId)),
      query(f.ResultShared(jobId)),
      query(f.ModelPublished()),
      query(f.RecordErased()),
      query(f.BatchErased()),
      query(f.RoleGranted(COPROCESSOR_ROLE)),
      query(f.RoleRevoked(COPROCESSOR_ROLE)),
    ]);

  const modelInfo = new Map(
    asEvents(models).map((e) => [
      lower(e.args.modelId),
      { hash: lower(e.args.modelHash), publisher: e.args.publisher as string, name: e.args.name as string, version: Number(e.args.version), locator: e.args.locator as string },
    ]),
  );
  // Erasures live in each patient's namespace: the same hash erased by another patient says nothing about this job.
  const key = (patient: string, hash: string) => `${patient.toLowerCase()}:${hash.toLowerCase()}`;
  const erasedRecords = new Set(asEvents(erased).map((e) => key(e.args.patient, e.args.recordHash)));
  const erasedBatches = new Set(asEvents(batchesErased).map((e) => key(e.args.patient, e.args.root)));
  const batchOf = new Map(asEvents(fromBatch).map((e) => [lower(e.args.jobId), lower(e.args.root)]));
  const office = operatorsInOffice(asEvents(granted), asEvents(revoked));

  const histories = new Map<Hash, JobHistory>();
  for (const e of asEvents(requested)) {
    const id = lower(e.args.jobId);
    const modelId = lower(e.args.modelId);
    const model = modelInfo.get(modelId);
    const batchRoot = batchOf.get(id) ?? null;
    const patient = e.args.patient as string;
    histories.set(id, {
      jobId: id,
      requested: at(e),
      requester: e.args.requester,
      patient,
      recordHash: lower(e.args.recordHash),
      batchRoot,
      keyBundleHash: lower(e.args.keyBundleHash),
      model: { id: modelId, hash: model?.hash ?? null, publisher: model?.publisher ?? null, name: model?.name ?? null, version: model?.version ?? null, locator: model?.locator ?? null },
      quorum: Number(e.args.quorum),
      deadline: Number(e.args.deadline),
      votes: [],
      conflicts: [],
      skipped: [],
      status: "Requested",
      finalized: null,
      failed: null,
      expired: null,
      support: null,
      recordErased: erasedRecords.has(key(patient, e.args.recordHash)) || (batchRoot !== null && erasedBatches.has(key(patient, batchRoot))),
      shares: [],
    });
  }
  const job = (jobId: string) => histories.get(lower(jobId));
  const inOffice = (account: string) => office.has(account.toLowerCase());

  for (const e of asEvents(committed)) {
    job(e.args.jobId)?.votes.push({
      ...at(e), coprocessor: e.args.coprocessor, resultHash: lower(e.args.resultHash), reason: null, reasonName: null, votes: Number(e.args.votes), inOffice: inOffice(e.args.coprocessor),
    });
  }
  for (const e of asEvents(failures)) {
    const reason = Number(e.args.reason);
    job(e.args.jobId)?.votes.push({
      ...at(e), coprocessor: e.args.coprocessor, resultHash: null, reason, reasonName: failureReasonName(reason), votes: Number(e.args.votes), inOffice: inOffice(e.args.coprocessor),
    });
  }
  for (const e of asEvents(conflicts)) {
    job(e.args.jobId)?.conflicts.push({ ...at(e), coprocessor: e.args.coprocessor, resultHash: lower(e.args.resultHash), conflictingWith: lower(e.args.conflictingWith) });
  }
  for (const e of asEvents(skipped)) {
    const why = Number(e.args.why);
    job(e.args.jobId)?.skipped.push({ ...at(e), coprocessor: e.args.coprocessor, why, whyName: VOTE_SKIP_REASONS[why] ?? `Unknown(${why})` });
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
  for (const h of histories.values()) {
    h.votes.sort(byPosition);
    h.skipped.sort(byPosition);
    const outcome = h.finalized ? h.finalized.resultHash : h.failed ? failureValue(h.failed.reason) : null;
    if (outcome === null) continue;
    const valueOf = (v: Vote) => v.resultHash ?? failureValue(v.reason!);
    const current = h.votes.filter((v) => v.inOffice);
    h.support = {
      votes: current.filter((v) => valueOf(v) === outcome).length,
      dissenters: current.filter((v) => valueOf(v) !== outcome).map((v) => v.coprocessor),
    };
  }
  return [...histories.values()].sort((a, b) => byPosition(a.requested, b.requested));
}
