import { Router, type Request } from "express";
import { JobStatus, revertErrorName, type JobStatusCode, type PmheContract } from "../../protocol/chain.js";
import { failureReasonName } from "../../protocol/failure-reasons.js";
import { isHash, type Hash } from "../../protocol/hash.js";
import { HttpError } from "./errors.js";

/** What the status endpoint needs of a job, as the chain has it. */
export interface JobView {
  status: JobStatusCode;
  /** Unix time in seconds after which anyone may expire a job still Requested. */
  deadline: number;
  resultHash: Hash;
  failureReason: number;
}

/** Reads a job from the chain; undefined if the contract does not know it. Throws if the chain cannot be read. */
export type JobReader = (jobId: Hash) => Promise<JobView | undefined>;

export function contractJobReader(contract: PmheContract): JobReader {
  return async (jobId) => {
    try {
      const job = await contract.jobOf(jobId);
      return {
        status: Number(job.status) as JobStatusCode,
        deadline: Number(job.deadline),
        resultHash: job.resultHash.toLowerCase() as Hash,
        failureReason: Number(job.failureReason),
      };
    } catch (err) {
      if (revertErrorName(err) === "UnknownJob") return undefined;
      throw err;
    }
  };
}

export interface JobRouteOptions {
  jobs: JobReader;
  /** Seconds a client should wait before asking again about a pending job. */
  retryAfterSeconds: number;
  /** Base URL of this API as clients reach it; by default the URL of the request. */
  publicUrl?: string;
}

function baseUrl(req: Request, publicUrl: string | undefined): string {
  return (publicUrl ?? `${req.protocol}://${req.get("host")}`).replace(/\/+$/, "");
}

/**
 * GET /jobs/:jobId: a job's state, read from the chain (the only authority; nothing is cached here).
 * 202 + Retry-After while Requested; 200 once Finalized, Failed or Expired; 404 for a job the contract does not know.
 */
export function jobRoutes({ jobs, retryAfterSeconds, publicUrl }: JobRouteOptions): Router {
  const router = Router();
  router.get("/jobs/:jobId", async (req, res) => {
    const jobId = String(req.params.jobId).toLowerCase();
    if (!isHash(jobId)) throw new HttpError(400, "invalid_job_id", "a job id is 0x followed by 64 hex digits");
    let job: JobView | undefined;
    try {
      job = await jobs(jobId);
    } catch {
      throw new HttpError(503, "chain_unavailable", "could not read the job from the chain; retry later");
    }
    if (!job) throw new HttpError(404, "unknown_job", `the contract has no job ${jobId}`);
    res.setHeader("Cache-Control", "no-store");
    switch (job.status) {
      case JobStatus.Requested:
        res.status(202).setHeader("Retry-After", String(retryAfterSeconds));
        res.json({ jobId, status: "Requested", deadline: job.deadline });
        return;
      case JobStatus.Finalized:
        res.json({ jobId, status: "Finalized", resultHash: job.resultHash, resultUrl: `${baseUrl(req, publicUrl)}/blobs/${job.resultHash}` });
        return;
      case JobStatus.Failed:
        res.json({ jobId, status: "Failed", reason: job.failureReason, reasonName: failureReasonName(job.failureReason) });
        return;
      case JobStatus.Expired:
        res.json({ jobId, status: "Expired" });
        return;
      default:
        throw new HttpError(502, "unexpected_status", `the contract reports status ${String(job.status)} for ${jobId}`);
    }
  });
  return router;
}
