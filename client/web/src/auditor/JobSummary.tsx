import type { JobHistory } from "../../../../protocol/job-history.js";
import AddressText from "./common/AddressText.js";
import ChainPointText from "./common/ChainPointText.js";
import { formatRelative, formatTime, plural } from "./common/format.js";
import HashText from "./common/HashText.js";
import StatusBadge from "./common/StatusBadge.js";

/** Who asked for the job, for what, under which quorum, and how it ended: the job's PredictionRequested and outcome events. */
export default function JobSummary(props: { job: JobHistory; hospitalName: (address: string) => string | undefined }) {
  const { job, hospitalName } = props;
  const byPatient = job.requester.toLowerCase() === job.patient.toLowerCase();
  const disputed = (job.support?.dissenters.length ?? 0) > 0 || job.conflicts.length > 0;
  const now = Date.now() / 1000;
  const publisherName = job.model.publisher ? hospitalName(job.model.publisher) : undefined;
  const requesterName = byPatient ? "the patient" : hospitalName(job.requester) ?? "not a registered hospital";
  return (
    <section className="av-section" aria-labelledby="audit-summary-heading" data-testid="audit-job-summary">
      <div className="av-section-head">
        <h3 id="audit-summary-heading">Job</h3>
        <span className="av-status-line">
          <StatusBadge status={job.status} testId="audit-job-status" />
          {disputed ? <StatusBadge status="Disputed" tone="bad" testId="audit-job-disputed" /> : null}
        </span>
      </div>
      <dl className="av-facts">
        <dt>Job id</dt>
        <dd>
          <HashText value={job.jobId} testId="audit-job-id" />
        </dd>
        <dt>Requested</dt>
        <dd>
          <ChainPointText block={job.requested.block} tx={job.requested.tx} testId="audit-job-requested" />
        </dd>
        <dt>Patient</dt>
        <dd>
          <AddressText address={job.patient} testId="audit-job-patient" />
        </dd>
        <dt>Requester</dt>
        <dd>
          <AddressText address={job.requester} label={requesterName} testId="audit-job-requester" />
        </dd>
        <dt>Record</dt>
        <dd>
          <HashText value={job.recordHash} testId="audit-job-record" />
          {job.batchRoot ? (
            <span className="av-subfact">
              in batch <HashText value={job.batchRoot} short />
            </span>
          ) : null}
          {job.recordErased ? <span className="av-subfact pc-tone-neutral"> erased by the patient since</span> : null}
        </dd>
        <dt>Key bundle</dt>
        <dd>
          <HashText value={job.keyBundleHash} testId="audit-job-key-bundle" />
        </dd>
        <dt>Model</dt>
        <dd data-testid="audit-job-model" data-model-id={job.model.id}>
          {job.model.name ? (
            <strong>
              {job.model.name} v{job.model.version}
            </strong>
          ) : (
            <strong className="pc-tone-warn">unknown model (no ModelPublished event)</strong>
          )}
          <span className="av-subfact">
            id <HashText value={job.model.id} short />
          </span>
          {job.model.hash ? (
            <span className="av-subfact">
              content <HashText value={job.model.hash} short />
            </span>
          ) : null}
          {job.model.publisher ? (
            <span className="av-subfact">
              published by <AddressText address={job.model.publisher} short label={publisherName ?? "no longer registered"} />
            </span>
          ) : null}
        </dd>
        <dt>Quorum</dt>
        <dd data-testid="audit-job-quorum">
          {plural(job.quorum, "agreeing vote")}
          {job.quorum === 1 ? <span className="av-subfact pc-tone-warn">one operator decides, and could forge: re-execution is the check</span> : null}
        </dd>
        <dt>Deadline</dt>
        <dd className="pc-number">
          {formatTime(job.deadline)} ({formatRelative(job.deadline, now)})
        </dd>
        <dt>Outcome</dt>
        <dd data-testid="audit-job-outcome">
          {job.finalized ? (
            <>
              final result <HashText value={job.finalized.resultHash} />
              <span className="av-subfact">
                {job.support ? `${job.support.votes} of ${job.quorum} votes from operators in office now` : plural(job.finalized.votes, "vote")} ·{" "}
                <ChainPointText block={job.finalized.block} tx={job.finalized.tx} />
              </span>
            </>
          ) : job.failed ? (
            <>
              failed: <strong>{job.failed.reasonName}</strong> (reason {job.failed.reason})
              <span className="av-subfact">
                {plural(job.failed.votes, "vote")} · <ChainPointText block={job.failed.block} tx={job.failed.tx} />
              </span>
            </>
          ) : job.expired ? (
            <>
              expired without a quorum
              <span className="av-subfact">
                by <AddressText address={job.expired.caller} short /> · <ChainPointText block={job.expired.block} tx={job.expired.tx} />
              </span>
            </>
          ) : (
            "waiting for votes"
          )}
        </dd>
      </dl>
    </section>
  );
}
