import { useApp } from "../app/context.js";
import "./common/common.css";
import "./auditor.css";
import AddressText from "./common/AddressText.js";
import JobList from "./JobList.js";
import JobSearch from "./JobSearch.js";
import OpenJob from "./OpenJob.js";
import { useHospitalNames } from "./useHospitalNames.js";
import { useSelectedJob } from "./useSelectedJob.js";

/**
 * The auditor's view: no wallet, only the chain's events and the blob store. A job explorer (job, patient,
 * requester, inputs, model, every vote and whether its voter is in office, outcome, shares), a check of every blob
 * against its on-chain hash, and a re-execution of the evaluation in a worker compared with the committed hash.
 */
export default function AuditorView() {
  const { config } = useApp();
  const [jobId, select] = useSelectedJob();
  const names = useHospitalNames();
  return (
    <div className="av-view" data-testid="auditor-view">
      <header className="av-header">
        <h1>Audit</h1>
        <p className="av-intro">
          Every fact below is read from the events of the PMHE contract <AddressText address={config.contractAddress} short /> on {config.chainName} (chain id{" "}
          {config.chainId}), from block {config.deploymentBlock} on; blobs come from the blob store and are checked against the hashes those events name. No wallet is
          needed.
        </p>
        {config.quorum === 1 ? (
          <p className="av-warning" data-testid="audit-quorum-warning">
            This deployment settles jobs at quorum 1: one operator decides each job and could forge its result. Re-running a job here is how to check it.
          </p>
        ) : null}
      </header>
      <JobSearch key={jobId ?? "none"} initial={jobId ?? ""} onSearch={select} onClear={() => select(undefined)} />
      {jobId ? <OpenJob jobId={jobId} names={names.value} onBack={() => select(undefined)} /> : <JobList onOpen={select} />}
    </div>
  );
}
