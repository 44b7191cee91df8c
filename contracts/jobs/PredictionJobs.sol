// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {ConsentRegistry} from "../consents/ConsentRegistry.sol";
import {IPredictionJobs} from "../interfaces/IPredictionJobs.sol";
import {ModelRegistry} from "../models/ModelRegistry.sol";
import {RecordRegistry} from "../records/RecordRegistry.sol";

/**
 * @title PredictionJobs
 * @notice Prediction requests on anchored records, and their settlement by a quorum of coprocessor votes.
 * @dev Storage per job: `recordHash`, `modelHash` and a packed header are written at request time (three slots,
 * which keeps a request under 120k gas); the first vote's value takes a fourth slot, and a fifth is only used
 * when the final value differs from the first vote. The patient, key version and key bundle are not stored:
 * they are read from the job's record (or batch) anchor, which never changes. A job exists iff its status is
 * not `None`.
 *
 * Vote counts: the first vote of a job is not added to the per-value tally, so that a quorum-1 commit writes
 * only the voter's ballot and the first-vote slot. The count of a value is its tally, plus one if it is the
 * first vote's value. Counts are `uint8`, like the quorum: each coprocessor votes once per job, so they hold as long
 * as fewer than 256 coprocessors vote on the same job.
 */
abstract contract PredictionJobs is PMHERoles, RecordRegistry, ModelRegistry, ConsentRegistry, IPredictionJobs {
    /// @notice The longest job timeout governance can set.
    uint64 public constant MAX_JOB_TIMEOUT = 365 days;

    /// @notice The most entries {commitResults} accepts in one call, which bounds its loop and its gas.
    uint256 public constant MAX_COMMIT_BATCH = 32;

    /**
     * @dev The header of a job, in one slot.
     * @param requester The requesting account.
     * @param status The job's status.
     * @param quorum The number of agreeing votes that settles the job.
     * @param requestedAt The block timestamp of the request.
     * @param deadline The timestamp after which the job can be expired.
     */
    // solhint-disable-next-line gas-struct-packing
    struct JobHeader {
        address requester;
        JobStatus status;
        uint8 quorum;
        uint40 requestedAt;
        uint40 deadline;
    }

    /**
     * @dev A job as stored.
     * @param recordHash The encrypted record to evaluate.
     * @param modelHash The model to evaluate it with.
     * @param header The packed header.
     * @param firstVote The value of the job's first vote, 0 before any vote.
     * @param outcome The final value when it differs from `firstVote`, 0 otherwise.
     */
    struct JobData {
        bytes32 recordHash;
        bytes32 modelHash;
        JobHeader header;
        bytes32 firstVote;
        bytes32 outcome;
    }

    /**
     * @dev Settings applied to new jobs, in one slot.
     * @param quorum The quorum of new jobs.
     * @param timeout The timeout of new jobs, in seconds.
     */
    struct JobSettings {
        uint8 quorum;
        uint64 timeout;
    }

    JobSettings private _settings;
    mapping(bytes32 jobId => JobData) private _jobs;
    /// @dev Batch root of batch jobs; absent for single-record jobs.
    mapping(bytes32 jobId => bytes32 root) private _jobBatchRoots;
    mapping(bytes32 jobId => mapping(address coprocessor => bytes32 value)) private _ballots;
    /// @dev Votes per value, not counting the job's first vote.
    mapping(bytes32 jobId => mapping(bytes32 value => uint8)) private _tallies;
    mapping(bytes32 jobId => uint8) private _conflicts;

    /// @dev Starts with a quorum of 1 and a timeout of one hour, and emits both so the history starts at deployment.
    constructor() {
        _settings = JobSettings({quorum: 1, timeout: 1 hours});
        emit QuorumChanged(0, 1);
        emit JobTimeoutChanged(0, 1 hours);
    }

    /// @inheritdoc IPredictionJobs
    function setQuorum(uint8 k) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setQuorum(k);
    }

    /// @inheritdoc IPredictionJobs
    function setJobTimeout(uint64 seconds_) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setJobTimeout(seconds_);
    }

    /// @inheritdoc IPredictionJobs
    function requestPrediction(bytes32 recordHash, bytes32 modelHash) external virtual returns (bytes32 jobId) {
        return _requestPrediction(_msgSender(), recordHash, modelHash);
    }

    /// @inheritdoc IPredictionJobs
    function requestBatchPrediction(bytes32 root, bytes32 recordHash, bytes32[] calldata proof, bytes32 modelHash)
        external
        virtual
        returns (bytes32 jobId)
    {
        return _requestBatchPrediction(_msgSender(), root, recordHash, proof, modelHash);
    }

    /// @inheritdoc IPredictionJobs
    function commitResult(bytes32 jobId, bytes32 resultHash) external virtual onlyRole(COPROCESSOR_ROLE) {
        _commitResult(_msgSender(), jobId, resultHash);
    }

    /// @inheritdoc IPredictionJobs
    function commitResults(bytes32[] calldata jobIds, bytes32[] calldata resultHashes)
        external
        virtual
        onlyRole(COPROCESSOR_ROLE)
    {
        _commitResults(_msgSender(), jobIds, resultHashes);
    }

    /// @inheritdoc IPredictionJobs
    function reportFailure(bytes32 jobId, uint16 reason) external virtual onlyRole(COPROCESSOR_ROLE) {
        _reportFailure(_msgSender(), jobId, reason);
    }

    /// @inheritdoc IPredictionJobs
    function expireJob(bytes32 jobId) external virtual {
        _expireJob(_msgSender(), jobId);
    }

    /// @inheritdoc IPredictionJobs
    function quorum() external view virtual returns (uint8) {
        return _settings.quorum;
    }

    /// @inheritdoc IPredictionJobs
    function jobTimeout() external view virtual returns (uint64) {
        return _settings.timeout;
    }

    /// @inheritdoc IPredictionJobs
    function jobOf(bytes32 jobId) external view virtual returns (Job memory job) {
        JobData storage data = _jobs[jobId];
        JobHeader memory header = data.header;
        if (header.status == JobStatus.None) revert UnknownJob(jobId);

        job.recordHash = data.recordHash;
        job.modelHash = data.modelHash;
        job.requester = header.requester;
        job.status = header.status;
        job.requestedAt = header.requestedAt;
        job.quorum = header.quorum;
        job.deadline = header.deadline;
        if (header.status == JobStatus.Finalized) {
            job.resultHash = _finalValue(data);
        } else if (header.status == JobStatus.Failed) {
            job.failureReason = uint16(uint256(_finalValue(data)));
        }
        job.batchRoot = _jobBatchRoots[jobId];
        (job.patient, job.keyVersion) = _anchorOwner(job.recordHash, job.batchRoot);
        job.keyBundleHash = _keyBundle(job.patient, job.keyVersion);
    }

    /// @inheritdoc IPredictionJobs
    function voteOf(bytes32 jobId, address coprocessor) external view virtual returns (bytes32) {
        return _ballots[jobId][coprocessor];
    }

    /// @inheritdoc IPredictionJobs
    function voteCount(bytes32 jobId, bytes32 value) external view virtual returns (uint8) {
        return _votesFor(_jobs[jobId], jobId, value);
    }

    /// @inheritdoc IPredictionJobs
    function conflictCount(bytes32 jobId) external view virtual returns (uint8) {
        return _conflicts[jobId];
    }

    /// @inheritdoc IPredictionJobs
    function computeJobId(address patient, uint64 nonce) external view virtual returns (bytes32) {
        return _computeJobId(patient, nonce);
    }

    /// @inheritdoc IPredictionJobs
    function jobNonce(address patient) external view virtual returns (uint64) {
        return _jobNonce(patient);
    }

    /// @inheritdoc IPredictionJobs
    function nextJobId(address patient) external view virtual returns (bytes32) {
        return _computeJobId(patient, _jobNonce(patient));
    }

    /// @dev Sets the quorum of new jobs. Authorization is the caller's responsibility.
    function _setQuorum(uint8 k) internal virtual {
        if (k == 0) revert InvalidQuorum(k);
        uint8 previous = _settings.quorum;
        _settings.quorum = k;
        emit QuorumChanged(previous, k);
    }

    /// @dev Sets the timeout of new jobs. Authorization is the caller's responsibility.
    function _setJobTimeout(uint64 seconds_) internal virtual {
        if (seconds_ == 0 || seconds_ > MAX_JOB_TIMEOUT) revert InvalidJobTimeout(seconds_);
        uint64 previous = _settings.timeout;
        _settings.timeout = seconds_;
        emit JobTimeoutChanged(previous, seconds_);
    }

    /// @dev Creates a job on the record `recordHash` for `requester`.
    function _requestPrediction(address requester, bytes32 recordHash, bytes32 modelHash)
        internal
        virtual
        returns (bytes32 jobId)
    {
        RecordAnchor memory record = _requireRecord(recordHash);
        _authorizeRequest(requester, recordHash, record.patient);
        if (record.erased) revert RecordIsErased(recordHash);
        _requireUsableModel(modelHash);

        jobId = _createJob(requester, record.patient, record.keyVersion, recordHash, modelHash);
    }

    /// @dev Creates a job on the record `recordHash` of the batch `root` for `requester`.
    function _requestBatchPrediction(
        address requester,
        bytes32 root,
        bytes32 recordHash,
        bytes32[] calldata proof,
        bytes32 modelHash
    ) internal virtual returns (bytes32 jobId) {
        BatchAnchor memory batch = _requireBatch(root);
        _authorizeRequest(requester, root, batch.patient);
        if (_isBatchErased(root)) revert RecordIsErased(root);
        if (!_batchIncludes(root, recordHash, proof)) revert InvalidProof(root, recordHash);
        _requireUsableModel(modelHash);

        jobId = _createJob(requester, batch.patient, batch.keyVersion, recordHash, modelHash);
        _jobBatchRoots[jobId] = root;

        emit PredictionRequestedFromBatch(jobId, root);
    }

    /**
     * @dev Reverts with {NotAuthorizedRequester} unless `requester` is `patient`, or a hospital holding an active
     * consent from `patient`. `anchorId` is the record hash or batch root, for the error.
     */
    function _authorizeRequest(address requester, bytes32 anchorId, address patient) internal view virtual {
        if (requester == patient) return;
        if (hasRole(HOSPITAL_ROLE, requester) && _isActive(_consent(patient, requester))) return;
        revert NotAuthorizedRequester(anchorId, requester);
    }

    /// @dev Records a result vote, and finalizes the job if it reaches the quorum while `Requested`.
    function _commitResult(address coprocessor, bytes32 jobId, bytes32 resultHash) internal virtual {
        _requireResultHash(resultHash);

        (uint8 votes, bool settles) = _castVote(coprocessor, jobId, resultHash, JobStatus.Finalized);

        _emitCommitted(coprocessor, jobId, resultHash, votes, settles);
    }

    /**
     * @dev Records the result votes of a batch in order, skipping (with {VoteSkipped}) the entries that
     * {_commitResult} would revert on for being already voted or no longer pending. Any other invalid entry
     * reverts the whole batch, so a batch is applied entirely or not at all apart from its skips. Nothing here
     * calls out of the contract.
     */
    function _commitResults(address coprocessor, bytes32[] calldata jobIds, bytes32[] calldata resultHashes)
        internal
        virtual
    {
        uint256 size = jobIds.length;
        if (size == 0) revert EmptyCommitBatch();
        if (size != resultHashes.length) revert CommitBatchLengthMismatch(size, resultHashes.length);
        if (size > MAX_COMMIT_BATCH) revert CommitBatchTooLarge(size, MAX_COMMIT_BATCH);

        for (uint256 i = 0; i < size; ++i) {
            bytes32 jobId = jobIds[i];
            bytes32 resultHash = resultHashes[i];
            _requireResultHash(resultHash);

            (VoteSkipReason skipped, uint8 votes, bool settles) =
                _tryCastVote(coprocessor, jobId, resultHash, JobStatus.Finalized);

            if (skipped == VoteSkipReason.None) _emitCommitted(coprocessor, jobId, resultHash, votes, settles);
            else emit VoteSkipped(jobId, coprocessor, skipped);
        }
    }

    /// @dev Records a failure vote, and fails the job if it reaches the quorum while `Requested`.
    function _reportFailure(address coprocessor, bytes32 jobId, uint16 reason) internal virtual {
        if (reason == 0) revert InvalidFailureReason(reason);

        (uint8 votes, bool settles) = _castVote(coprocessor, jobId, bytes32(uint256(reason)), JobStatus.Failed);

        emit FailureReported(jobId, coprocessor, reason, votes);
        if (settles) emit JobFailed(jobId, reason, votes);
    }

    /// @dev Expires a `Requested` job past its deadline.
    function _expireJob(address caller, bytes32 jobId) internal virtual {
        JobHeader storage header = _jobs[jobId].header;
        JobStatus status = header.status;
        if (status == JobStatus.None) revert UnknownJob(jobId);
        if (status != JobStatus.Requested) revert JobNotPending(jobId, status);
        uint40 deadline = header.deadline;
        if (block.timestamp <= deadline) revert JobNotExpirable(jobId, deadline);

        header.status = JobStatus.Expired;

        emit JobExpired(jobId, caller);
    }

    /// @dev The patient who owns the record of job `jobId` and the job's status (`None` if it does not exist).
    function _jobPatient(bytes32 jobId) internal view virtual returns (address patient, JobStatus status) {
        JobData storage job = _jobs[jobId];
        status = job.header.status;
        if (status != JobStatus.None) (patient,) = _anchorOwner(job.recordHash, _jobBatchRoots[jobId]);
    }

    /// @dev `keccak256(abi.encode(block.chainid, address(this), patient, nonce))`.
    function _computeJobId(address patient, uint64 nonce) internal view virtual returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), patient, nonce));
    }

    /// @dev Stores a new `Requested` job under the next id of `patient` and emits {PredictionRequested}.
    function _createJob(address requester, address patient, uint32 keyVersion, bytes32 recordHash, bytes32 modelHash)
        private
        returns (bytes32 jobId)
    {
        JobSettings memory settings = _settings;
        jobId = _computeJobId(patient, _useJobNonce(patient));
        uint40 requestedAt = uint40(block.timestamp);
        uint40 deadline = requestedAt + uint40(settings.timeout);

        JobData storage job = _jobs[jobId];
        job.recordHash = recordHash;
        job.modelHash = modelHash;
        job.header = JobHeader({
            requester: requester,
            status: JobStatus.Requested,
            quorum: settings.quorum,
            requestedAt: requestedAt,
            deadline: deadline
        });

        emit PredictionRequested(
            jobId,
            patient,
            recordHash,
            modelHash,
            _keyBundle(patient, keyVersion),
            requester,
            settings.quorum,
            deadline
        );
    }

    /// @dev Reverts with {ZeroHash} or {ReservedResultHash} unless `resultHash` can be a result vote.
    function _requireResultHash(bytes32 resultHash) private pure {
        if (resultHash == bytes32(0)) revert ZeroHash();
        if (uint256(resultHash) <= type(uint16).max) revert ReservedResultHash(resultHash);
    }

    /// @dev Emits {ResultCommitted}, then {JobFinalized} if the vote settled the job.
    function _emitCommitted(address coprocessor, bytes32 jobId, bytes32 resultHash, uint8 votes, bool settles)
        private
    {
        emit ResultCommitted(jobId, coprocessor, resultHash, votes);
        if (settles) emit JobFinalized(jobId, resultHash, votes);
    }

    /**
     * @notice Records the vote of `coprocessor` for `value` on job `jobId`, see {_tryCastVote}, and reverts with
     * {JobNotPending} or {AlreadyVoted} where that skips it.
     * @param coprocessor The voting coprocessor.
     * @param jobId The job id.
     * @param value The vote's value: a result hash, or `bytes32(uint256(reason))` for a failure.
     * @param settledStatus The status the job takes if this vote settles it.
     * @return votes The number of votes for `value`, this one included.
     * @return settles Whether this vote settled the job.
     */
    function _castVote(address coprocessor, bytes32 jobId, bytes32 value, JobStatus settledStatus)
        private
        returns (uint8 votes, bool settles)
    {
        VoteSkipReason skipped;
        (skipped, votes, settles) = _tryCastVote(coprocessor, jobId, value, settledStatus);
        if (skipped == VoteSkipReason.JobNotPending) revert JobNotPending(jobId, _jobs[jobId].header.status);
        if (skipped == VoteSkipReason.AlreadyVoted) revert AlreadyVoted(jobId, coprocessor);
    }

    /**
     * @notice Records the vote of `coprocessor` for `value` on job `jobId`, emits {ResultConflict} if it disagrees
     * with the job's reference value, and settles the job with `settledStatus` if `value` reaches the quorum while
     * the job is `Requested`. A vote the job no longer takes, or a second vote of `coprocessor`, is skipped:
     * nothing is written. Reverts with {UnknownJob} if the job does not exist, which unlike a skip can never be
     * caused by another transaction landing first.
     * @param coprocessor The voting coprocessor.
     * @param jobId The job id.
     * @param value The vote's value: a result hash, or `bytes32(uint256(reason))` for a failure.
     * @param settledStatus The status the job takes if this vote settles it.
     * @return skipped `None` if the vote was recorded, else why it was not.
     * @return votes The number of votes for `value`, this one included; 0 if skipped.
     * @return settles Whether this vote settled the job.
     */
    function _tryCastVote(address coprocessor, bytes32 jobId, bytes32 value, JobStatus settledStatus)
        private
        returns (VoteSkipReason skipped, uint8 votes, bool settles)
    {
        JobData storage job = _jobs[jobId];
        JobStatus status = job.header.status;
        if (status != JobStatus.Requested && status != JobStatus.Finalized) {
            if (status == JobStatus.None) revert UnknownJob(jobId);
            return (VoteSkipReason.JobNotPending, 0, false);
        }
        mapping(address => bytes32) storage ballots = _ballots[jobId];
        if (ballots[coprocessor] != bytes32(0)) return (VoteSkipReason.AlreadyVoted, 0, false);

        ballots[coprocessor] = value;
        bytes32 first = job.firstVote;
        if (first == bytes32(0)) {
            job.firstVote = value;
            votes = 1;
        } else {
            uint8 tally = _tallies[jobId][value] + 1;
            _tallies[jobId][value] = tally;
            votes = value == first ? tally + 1 : tally;

            bytes32 referenceValue = status == JobStatus.Finalized ? _finalValue(job) : first;
            if (value != referenceValue) {
                ++_conflicts[jobId];
                emit ResultConflict(jobId, coprocessor, value, referenceValue);
            }
        }

        if (status == JobStatus.Requested && votes >= job.header.quorum) {
            settles = true;
            if (first != bytes32(0) && value != first) job.outcome = value;
            job.header.status = settledStatus;
        }
    }

    /// @dev The final value of a settled job: `outcome` if set, else the first vote.
    function _finalValue(JobData storage job) private view returns (bytes32) {
        bytes32 outcome = job.outcome;
        return outcome != bytes32(0) ? outcome : job.firstVote;
    }

    /// @dev The number of votes for `value` on `job`.
    function _votesFor(JobData storage job, bytes32 jobId, bytes32 value) private view returns (uint8) {
        uint8 tally = _tallies[jobId][value];
        return value != bytes32(0) && value == job.firstVote ? tally + 1 : tally;
    }
}
