import type { AppConfig } from "../../../../../protocol/app-config.js";
import type { PastJob } from "../../../../history.js";
import type { PatientClient } from "../../../../patient-client.js";
import type { HistoryEntry } from "./history-cache.js";

/** One past job decrypted again (verified against the chain by the patient core), as history entries. */
export async function decryptPastJob(client: PatientClient, job: PastJob, config: AppConfig, requestedAt: number, options: { acceptDisputed?: boolean } = {}): Promise<HistoryEntry[]> {
  const opened = await client.predictionsOf(job.jobId, options);
  const meta = config.models.find((m) => m.id === job.modelId);
  return opened.predictions.map((p, index) => ({
    jobId: job.jobId,
    index,
    modelId: job.modelId,
    modelName: meta?.name ?? `model ${job.modelId.slice(0, 10)}`,
    modelVersion: meta?.version ?? 0,
    probability: p.probability,
    predictedClass: p.predictedClass,
    requestedAt,
    recordHash: job.recordHash,
    votes: opened.votes,
    quorum: opened.quorum,
    disputed: opened.disputed,
  }));
}
