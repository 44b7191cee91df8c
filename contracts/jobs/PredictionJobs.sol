// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IPredictionJobs} from "../interfaces/IPredictionJobs.sol";
import {ModelRegistry} from "../models/ModelRegistry.sol";
import {RecordRegistry} from "../records/RecordRegistry.sol";

/**
 * @title PredictionJobs
 * @notice Prediction requests on anchored records, and their completion by a coprocessor.
 * @dev A job exists iff its status is not `None`. Job ids are unique by construction: every request consumes a
 * fresh per-requester nonce that is part of the hashed preimage.
 */
abstract contract PredictionJobs is PMHERoles, RecordRegistry, ModelRegistry, IPredictionJobs {
    mapping(bytes32 jobId => Job) private _jobs;
    mapping(address requester => uint256) private _requestNonces;

    /// @inheritdoc IPredictionJobs
    function requestPrediction(bytes32 recordHash, bytes32 modelHash) public virtual returns (bytes32 jobId) {
        return _requestPrediction(_msgSender(), recordHash, modelHash);
    }

    /// @inheritdoc IPredictionJobs
    function commitResult(bytes32 jobId, bytes32 resultHash) public virtual onlyRole(COPROCESSOR_ROLE) {
        _commitResult(_msgSender(), jobId, resultHash);
    }

    /// @inheritdoc IPredictionJobs
    function reportFailure(bytes32 jobId, uint16 reason) public virtual onlyRole(COPROCESSOR_ROLE) {
        _reportFailure(_msgSender(), jobId, reason);
    }

    /// @inheritdoc IPredictionJobs
    function jobOf(bytes32 jobId) public view virtual returns (Job memory job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
    }

    /// @inheritdoc IPredictionJobs
    function computeJobId(address requester, bytes32 recordHash, bytes32 modelHash, uint256 nonce)
        public
        view
        virtual
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), requester, recordHash, modelHash, nonce));
    }

    /// @inheritdoc IPredictionJobs
    function requestNonce(address requester) public view virtual returns (uint256) {
        return _requestNonces[requester];
    }

    /// @dev Creates a job for `requester`. Checks the record, the requester's right to use it, and the model.
    function _requestPrediction(address requester, bytes32 recordHash, bytes32 modelHash)
        internal
        virtual
        returns (bytes32 jobId)
    {
        RecordAnchor memory record = _requireRecord(recordHash);
        _authorizeRequest(requester, recordHash, record);
        _requireModel(modelHash);

        uint256 nonce = _requestNonces[requester]++;
        jobId = computeJobId(requester, recordHash, modelHash, nonce);

        // Field by field so the still-empty `resultHash` slot is not touched.
        Job storage job = _jobs[jobId];
        job.recordHash = recordHash;
        job.modelHash = modelHash;
        job.requester = requester;
        job.status = JobStatus.Requested;
        job.requestedAt = uint64(block.timestamp);

        emit PredictionRequested(
            jobId, record.patient, recordHash, modelHash, _keyBundle(record.patient, record.keyVersion), requester
        );
    }

    /**
     * @dev Reverts unless `requester` may request predictions on the record. Only the record's patient may.
     * Override to widen access (for example, to accounts the patient has authorized).
     */
    function _authorizeRequest(address requester, bytes32 recordHash, RecordAnchor memory record)
        internal
        view
        virtual
    {
        if (record.patient != requester) revert NotRecordOwner(recordHash, requester);
    }

    /// @dev Finalizes a pending job with `resultHash`. Authorization is the caller's responsibility.
    function _commitResult(address coprocessor, bytes32 jobId, bytes32 resultHash) internal virtual {
        Job storage job = _requirePendingJob(jobId);
        if (resultHash == bytes32(0)) revert ZeroHash();

        job.status = JobStatus.Finalized;
        job.resultHash = resultHash;

        emit ResultCommitted(jobId, coprocessor, resultHash);
    }

    /// @dev Marks a pending job as failed with `reason`. Authorization is the caller's responsibility.
    function _reportFailure(address coprocessor, bytes32 jobId, uint16 reason) internal virtual {
        Job storage job = _requirePendingJob(jobId);
        if (reason == 0) revert InvalidFailureReason(reason);

        job.status = JobStatus.Failed;
        job.failureReason = reason;

        emit JobFailed(jobId, coprocessor, reason);
    }

    /// @dev Returns the job `jobId`; reverts with {UnknownJob} or {JobNotPending} unless it is `Requested`.
    function _requirePendingJob(bytes32 jobId) internal view virtual returns (Job storage job) {
        job = _jobs[jobId];
        JobStatus status = job.status;
        if (status == JobStatus.None) revert UnknownJob(jobId);
        if (status != JobStatus.Requested) revert JobNotPending(jobId, status);
    }
}
