import { useCallback } from "react";
import type { JobHistory } from "../../../../protocol/job-history.js";
import BlobChecks from "./BlobChecks.js";
import JobSummary from "./JobSummary.js";
import Reexecution from "./Reexecution.js";
import ShareList from "./ShareList.js";
import { useBlobChecks } from "./useBlobChecks.js";
import VoteList from "./VoteList.js";

/** One job, as its events tell it, with its blobs checked against the chain and its evaluation re-run on demand. */
export default function JobDetail(props: { job: JobHistory; hospitalNames: ReadonlyMap<string, string> | undefined }) {
  const { job, hospitalNames } = props;
  const hospitalName = useCallback((address: string) => hospitalNames?.get(address.toLowerCase()), [hospitalNames]);
  const { checks, recheck, bytesOf } = useBlobChecks(job);
  return (
    <article className="av-job" data-testid="audit-job" data-job-id={job.jobId} data-status={job.status}>
      <JobSummary job={job} hospitalName={hospitalName} />
      <VoteList job={job} />
      <BlobChecks checks={checks} onRecheck={recheck} hospitalName={hospitalName} />
      <Reexecution job={job} checks={checks} bytesOf={bytesOf} />
      <ShareList job={job} hospitalName={hospitalName} />
    </article>
  );
}
