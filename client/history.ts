import { JobStatus, type PmheContract } from "../protocol/chain.js";
import { JOB_STATUS_NAMES, namedContractCall } from "../protocol/contract-errors.js";
import { failureReasonName } from "../protocol/failure-reasons.js";
import type { Hash } from "../protocol/hash.js";
import { queryLogs, type LogRange } from "./chain-logs.js";

const ZERO_HASH = `0x${"0".repeat(64)}`;
const lower = (value: string) => value.toLowerCase() as Hash;

export type JobStatusName = (typeof JOB_STATUS_NAMES)[number];

/** One of the patient's jobs as the chain has it: the request, and how it ended (or that it has not yet). */
export interface PastJob {
  jobId: Hash;
  recordHash: Hash;
  /** The batch the record was proven in, when it was requested from one. */
  batchRoot?: Hash;
  modelId: Hash;
  modelHash: Hash;
  keyBundleHash: Hash;
  /** Who asked: the patient, or a hospital the patient consented to. */
  requester: string;
  requestedByPatient: boolean;
  quorum: number;
  /** Unix seconds after which no vote settles the job. */
  deadline: number;
  blockNumber: number;
  txHash: string;
  status: JobStatusName;
  /** Finalized jobs: the committed result. */
  resultHash?: Hash;
  /** Failed jobs: the reason code and its name. */
  failureReason?: number;
  reasonName?: string;
  /** Settled jobs: votes from operators in office for the outcome. */
  votes: number;
  /** The result is under `keyBundleHash` of the open key set, so it can be decrypted here (`predictionsOf`). */
  decryptable: boolean;
}

/**
 * Every prediction job on `patient`'s records, rebuilt from the chain alone (PredictionRequested by patient, then
 * each job's current state), in chain order. Results are not fetched or decrypted here: `predictionsOf(jobId)` does
 * that on demand, for the ones under `openKeyBundle`.
 */
export async function patientHistory(
  contract: PmheContract,
  patient: string,
  options: LogRange & { openKeyBundle?: Hash } = {},
): Promise<PastJob[]> {
  const requests = await queryLogs(contract, contract.filters.PredictionRequested(undefined, patient), options);
  return Promise.all(
    requests.map(async (event): Promise<PastJob> => {
      const jobId = lower(event.args.jobId);
      const job = await namedContractCall("jobOf", () => contract.jobOf(jobId));
      const status = Number(job.status);
      const keyBundleHash = lower(event.args.keyBundleHash);
      const requester = event.args.requester;
      return {
        jobId,
        recordHash: lower(event.args.recordHash),
        ...(job.batchRoot !== ZERO_HASH ? { batchRoot: lower(job.batchRoot) } : {}),
        modelId: lower(event.args.modelId),
        modelHash: lower(job.modelHash),
        keyBundleHash,
        requester,
        requestedByPatient: requester.toLowerCase() === patient.toLowerCase(),
        quorum: Number(event.args.quorum),
        deadline: Number(event.args.deadline),
        blockNumber: event.blockNumber,
        txHash: event.transactionHash,
        status: JOB_STATUS_NAMES[status] ?? "None",
        ...(status === JobStatus.Finalized ? { resultHash: lower(job.resultHash) } : {}),
        ...(status === JobStatus.Failed ? { failureReason: Number(job.failureReason), reasonName: failureReasonName(Number(job.failureReason)) } : {}),
        votes: Number(job.votes),
        decryptable: status === JobStatus.Finalized && options.openKeyBundle === keyBundleHash,
      };
    }),
  );
}
