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
 * @dev Storage per job: `recordHash`, `modelId` and a packed header are written at request time (three slots);
 * the first vote's value takes a fourth slot, and a fifth is only used when the final value differs from the first
 * vote. The requester is not stored (it is in {PredictionRequested}); the key version and key bundle are read from
 * the job's record (or batch) anchor, which never changes. A job exists iff its status is not `None`.
 *
 * Vote counts: each value's voters are a bitmap of operator indexes (see {PMHERoles}), except the first vote,
 * whose voter index sits in the job header, so that a quorum-1 commit writes only the voter's ballot, the
 * first-vote slot and the header. A value's count is the number of its voters holding `COPROCESSOR_ROLE` now.
 */
abstract contract PredictionJobs is PMHERoles, RecordRegistry, ModelRegistry, ConsentRegistry, IPredictionJobs {
    /// @notice The longest job timeout governance can set.
    uint64 public constant MAX_JOB_TIMEOUT = 365 days;

    /// @notice The most entries a batch vote ({commitResults}, {castVotes}) accepts, which bounds its loop and gas.
    uint256 public constant MAX_COMMIT_BATCH = 32;

    /**
     * @dev The header of a job, in one slot.
     * @param patient The patient who owns the record.
     * @param status The job's status.
     * @param quorum The number of agreeing votes that settles the job.
     * @param deadline The timestamp after which no vote is taken and the job can be expired.
     * @param firstVoter The operator index of the first vote's voter (meaningful once `firstVote` is set).
     */
    // solhint-disable-next-line gas-struct-packing
    struct JobHeader {
        address patient;
        JobStatus status;
        uint8 quorum;
        uint40 deadline;
        uint8 firstVoter;
    }

    /**
     * @dev A job as stored.
     * @param recordHash The encrypted record to evaluate.
     * @param modelId The model to evaluate it with.
     * @param header The packed header.
     * @param firstVote The value of the job's first vote, 0 before any vote.
     * @param outcome The final value when it differs from `firstVote`, 0 otherwise.
     */
    struct JobData {
        bytes32 recordHash;
        bytes32 modelId;
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
    /// @dev Operator bits of each value's voters, the job's first voter excepted (it is in the header).
    mapping(bytes32 jobId => mapping(bytes32 value => uint256 voterBits)) private _voterBits;
    mapping(bytes32 jobId => uint8) private _conflicts;

    /**
     * @notice Sets the quorum and timeout of the first jobs, and emits both so the history starts at deployment.
     * @param quorum_ The quorum of new jobs; at least 1 (1 is for development only, see the interface).
     * @param timeout_ The timeout of new jobs, in seconds; from 1 to `MAX_JOB_TIMEOUT`.
     */
    constructor(uint8 quorum_, uint64 timeout_) {
        _setQuorum(quorum_);
        _setJobTimeout(timeout_);
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
    function requestPrediction(address patient, bytes32 recordHash, bytes32 modelId)
        external
        virtual
        returns (bytes32 jobId)
    {
        return _requestPrediction(_msgSender(), patient, recordHash, modelId);
    }

    /// @inheritdoc IPredictionJobs
    function anchorAndRequest(bytes32 recordHash, bytes32 modelId) external virtual returns (bytes32 jobId) {
        address patient = _msgSender();
        _anchorRecord(patient, recordHash);
        return _requestPrediction(patient, patient, recordHash, modelId);
    }

    /// @inheritdoc IPredictionJobs
    function requestBatchPrediction(
        address patient,
        bytes32 root,
        bytes32 recordHash,
        bytes32[] calldata proof,
        bytes32 modelId
    ) external virtual returns (bytes32 jobId) {
        return _requestBatchPrediction(_msgSender(), patient, root, recordHash, proof, modelId);
    }

    /// @inheritdoc IPredictionJobs
    function commitResult(bytes32 jobId, bytes32 resultHash) external virtual onlyRole(COPROCESSOR_ROLE) {
        _requireResultHash(resultHash);
        (uint8 votes, bool settles) = _castVote(_msgSender(), jobId, resultHash, JobStatus.Finalized);
        _emitCommitted(_msgSender(), jobId, resultHash, votes, settles);
    }

    /// @inheritdoc IPredictionJobs
    function commitResults(bytes32[] calldata jobIds, bytes32[] calldata resultHashes)
        external
        virtual
        onlyRole(COPROCESSOR_ROLE)
    {
        uint256 size = jobIds.length;
        if (size != resultHashes.length) revert CommitBatchLengthMismatch(size, resultHashes.length);
        _requireBatchSize(size);
        _commitEntries(_msgSender(), jobIds, resultHashes);
    }

    /// @inheritdoc IPredictionJobs
    function castVotes(
        bytes32[] calldata commitJobIds,
        bytes32[] calldata resultHashes,
        bytes32[] calldata failedJobIds,
        uint16[] calldata reasons
    ) external virtual onlyRole(COPROCESSOR_ROLE) {
        if (commitJobIds.length != resultHashes.length) {
            revert CommitBatchLengthMismatch(commitJobIds.length, resultHashes.length);
        }
        if (failedJobIds.length != reasons.length) revert CommitBatchLengthMismatch(failedJobIds.length, reasons.length);
        _requireBatchSize(commitJobIds.length + failedJobIds.length);
        _commitEntries(_msgSender(), commitJobIds, resultHashes);
        _failureEntries(_msgSender(), failedJobIds, reasons);
    }

    /// @inheritdoc IPredictionJobs
    function reportFailure(bytes32 jobId, uint16 reason) external virtual onlyRole(COPROCESSOR_ROLE) {
        if (reason == 0) revert InvalidFailureReason(reason);
        (uint8 votes, bool settles) = _castVote(_msgSender(), jobId, bytes32(uint256(reason)), JobStatus.Failed);
        _emitFailure(_msgSender(), jobId, reason, votes, settles);
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

        job.patient = header.patient;
        job.recordHash = data.recordHash;
        job.batchRoot = _jobBatchRoots[jobId];
        job.modelId = data.modelId;
        job.modelHash = _modelHash(data.modelId);
        job.keyVersion = _anchorKeyVersion(header.patient, data.recordHash, job.batchRoot);
        job.keyBundleHash = _keyBundle(header.patient, job.keyVersion);
        job.recordErased = _anchorErased(header.patient, data.recordHash, job.batchRoot);
        job.status = header.status;
        job.quorum = header.quorum;
        job.deadline = header.deadline;
        if (header.status == JobStatus.Finalized || header.status == JobStatus.Failed) {
            bytes32 outcome = _finalValue(data);
            if (header.status == JobStatus.Finalized) job.resultHash = outcome;
            else job.failureReason = uint16(uint256(outcome));
            job.votes = _votesFor(data, jobId, outcome);
        }
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

    /// @dev Creates a job on the record `recordHash` that `patient` anchored, for `requester`.
    function _requestPrediction(address requester, address patient, bytes32 recordHash, bytes32 modelId)
        internal
        virtual
        returns (bytes32 jobId)
    {
        // Erasure first: a batch leaf erased on its own has no anchor of its own, and must read as erased too.
        if (_isRecordErased(patient, recordHash)) revert RecordIsErased(recordHash);
        RecordAnchor memory record = _requireRecord(patient, recordHash);
        _authorizeRequest(requester, patient, recordHash);
        _requireUsableModel(modelId);

        jobId = _createJob(requester, patient, record.keyVersion, recordHash, modelId);
    }

    /// @dev Creates a job on the record `recordHash` of the batch `root` of `patient`, for `requester`.
    function _requestBatchPrediction(
        address requester,
        address patient,
        bytes32 root,
        bytes32 recordHash,
        bytes32[] calldata proof,
        bytes32 modelId
    ) internal virtual returns (bytes32 jobId) {
        BatchAnchor memory batch = _requireBatch(patient, root);
        _authorizeRequest(requester, patient, root);
        if (batch.erased) revert RecordIsErased(root);
        if (_isRecordErased(patient, recordHash)) revert RecordIsErased(recordHash);
        if (!_batchIncludes(root, recordHash, proof)) revert InvalidProof(root, recordHash);
        _requireUsableModel(modelId);

        jobId = _createJob(requester, patient, batch.keyVersion, recordHash, modelId);
        _jobBatchRoots[jobId] = root;

        emit PredictionRequestedFromBatch(jobId, root);
    }

    /**
     * @dev Reverts with {NotAuthorizedRequester} unless `requester` is `patient`, or a hospital holding an active
     * consent from `patient`. `anchorId` is the record hash or batch root, for the error.
     */
    function _authorizeRequest(address requester, address patient, bytes32 anchorId) internal view virtual {
        if (requester == patient) return;
        if (hasRole(HOSPITAL_ROLE, requester) && _isActive(_consent(patient, requester))) return;
        revert NotAuthorizedRequester(patient, anchorId, requester);
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
        JobHeader storage header = _jobs[jobId].header;
        return (header.patient, header.status);
    }

    /// @dev `keccak256(abi.encode(block.chainid, address(this), patient, nonce))`.
    function _computeJobId(address patient, uint64 nonce) internal view virtual returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), patient, nonce));
    }

    /// @dev Stores a new `Requested` job under the next id of `patient` and emits {PredictionRequested}.
    function _createJob(address requester, address patient, uint32 keyVersion, bytes32 recordHash, bytes32 modelId)
        private
        returns (bytes32 jobId)
    {
        JobSettings memory settings = _settings;
        jobId = _computeJobId(patient, _useJobNonce(patient));
        uint40 deadline = uint40(block.timestamp) + uint40(settings.timeout);

        JobData storage job = _jobs[jobId];
        job.recordHash = recordHash;
        job.modelId = modelId;
        job.header = JobHeader({
            patient: patient,
            status: JobStatus.Requested,
            quorum: settings.quorum,
            deadline: deadline,
            firstVoter: 0
        });

        emit PredictionRequested(
            jobId,
            patient,
            recordHash,
            modelId,
            _keyBundle(patient, keyVersion),
            requester,
            settings.quorum,
            deadline
        );
    }

    /// @dev Reverts with {EmptyCommitBatch} or {CommitBatchTooLarge} unless a batch of `size` entries is accepted.
    function _requireBatchSize(uint256 size) private pure {
        if (size == 0) revert EmptyCommitBatch();
        if (size > MAX_COMMIT_BATCH) revert CommitBatchTooLarge(size, MAX_COMMIT_BATCH);
    }

    /**
     * @dev Records result votes in order, skipping (with {VoteSkipped}) the entries that {commitResult} would revert
     * on for being already voted, no longer pending or past the deadline. Any other invalid entry reverts the whole
     * call. Nothing here calls out of the contract.
     */
    function _commitEntries(address coprocessor, bytes32[] calldata jobIds, bytes32[] calldata resultHashes) private {
        uint256 size = jobIds.length;
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

    /// @dev Records failure votes in order, with the skips of {_commitEntries}.
    function _failureEntries(address coprocessor, bytes32[] calldata jobIds, uint16[] calldata reasons) private {
        uint256 size = jobIds.length;
        for (uint256 i = 0; i < size; ++i) {
            bytes32 jobId = jobIds[i];
            uint16 reason = reasons[i];
            if (reason == 0) revert InvalidFailureReason(reason);

            (VoteSkipReason skipped, uint8 votes, bool settles) =
                _tryCastVote(coprocessor, jobId, bytes32(uint256(reason)), JobStatus.Failed);

            if (skipped == VoteSkipReason.None) _emitFailure(coprocessor, jobId, reason, votes, settles);
            else emit VoteSkipped(jobId, coprocessor, skipped);
        }
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

    /// @dev Emits {FailureReported}, then {JobFailed} if the vote settled the job.
    function _emitFailure(address coprocessor, bytes32 jobId, uint16 reason, uint8 votes, bool settles) private {
        emit FailureReported(jobId, coprocessor, reason, votes);
        if (settles) emit JobFailed(jobId, reason, votes);
    }

    /**
     * @notice Records the vote of `coprocessor` for `value` on job `jobId`, see {_tryCastVote}, and reverts with
     * {JobNotPending}, {VotingClosed} or {AlreadyVoted} where that skips it.
     * @param coprocessor The voting coprocessor.
     * @param jobId The job id.
     * @param value The vote's value: a result hash, or `bytes32(uint256(reason))` for a failure.
     * @param settledStatus The status the job takes if this vote settles it.
     * @return votes The votes for `value` from operators in office, this one included.
     * @return settles Whether this vote settled the job.
     */
    function _castVote(address coprocessor, bytes32 jobId, bytes32 value, JobStatus settledStatus)
        private
        returns (uint8 votes, bool settles)
    {
        VoteSkipReason skipped;
        (skipped, votes, settles) = _tryCastVote(coprocessor, jobId, value, settledStatus);
        if (skipped == VoteSkipReason.JobNotPending) revert JobNotPending(jobId, _jobs[jobId].header.status);
        if (skipped == VoteSkipReason.VotingClosed) revert VotingClosed(jobId, _jobs[jobId].header.deadline);
        if (skipped == VoteSkipReason.AlreadyVoted) revert AlreadyVoted(jobId, coprocessor);
    }

    /**
     * @notice Records the vote of `coprocessor` for `value` on job `jobId`, emits {ResultConflict} if it disagrees
     * with the job's reference value, and settles the job with `settledStatus` if `value` has the quorum among the
     * operators in office while the job is `Requested`. A vote the job no longer takes (settled other than
     * `Finalized`, or past its deadline), or a second vote of `coprocessor`, is skipped: nothing is written.
     * Reverts with {UnknownJob} if the job does not exist, which unlike a skip can never be caused by another
     * transaction landing first. `coprocessor` holds `COPROCESSOR_ROLE` (the callers check it).
     * @param coprocessor The voting coprocessor.
     * @param jobId The job id.
     * @param value The vote's value: a result hash, or `bytes32(uint256(reason))` for a failure.
     * @param settledStatus The status the job takes if this vote settles it.
     * @return skipped `None` if the vote was recorded, else why it was not.
     * @return votes The votes for `value` from operators in office, this one included; 0 if skipped.
     * @return settles Whether this vote settled the job.
     */
    function _tryCastVote(address coprocessor, bytes32 jobId, bytes32 value, JobStatus settledStatus)
        private
        returns (VoteSkipReason skipped, uint8 votes, bool settles)
    {
        JobData storage job = _jobs[jobId];
        JobHeader memory header = job.header;
        JobStatus status = header.status;
        if (status != JobStatus.Requested && status != JobStatus.Finalized) {
            if (status == JobStatus.None) revert UnknownJob(jobId);
            return (VoteSkipReason.JobNotPending, 0, false);
        }
        if (block.timestamp > header.deadline) return (VoteSkipReason.VotingClosed, 0, false);
        mapping(address => bytes32) storage ballots = _ballots[jobId];
        if (ballots[coprocessor] != bytes32(0)) return (VoteSkipReason.AlreadyVoted, 0, false);

        ballots[coprocessor] = value;
        bytes32 first = job.firstVote;
        bool headerChanged;
        if (first == bytes32(0)) {
            // The voter holds the role, so the first vote counts as one without reading the active set.
            job.firstVote = value;
            header.firstVoter = _operatorIndex(coprocessor);
            headerChanged = true;
            votes = 1;
        } else {
            _voterBits[jobId][value] |= 1 << _operatorIndex(coprocessor);
            votes = _votesFor(job, jobId, value);

            bytes32 referenceValue = status == JobStatus.Finalized ? _finalValue(job) : first;
            if (value != referenceValue) {
                ++_conflicts[jobId];
                emit ResultConflict(jobId, coprocessor, value, referenceValue);
            }
        }

        if (status == JobStatus.Requested && votes >= header.quorum) {
            settles = true;
            if (first != bytes32(0) && value != first) job.outcome = value;
            header.status = settledStatus;
            headerChanged = true;
        }
        if (headerChanged) job.header = header;
    }

    /// @dev The final value of a settled job: `outcome` if set, else the first vote.
    function _finalValue(JobData storage job) private view returns (bytes32) {
        bytes32 outcome = job.outcome;
        return outcome != bytes32(0) ? outcome : job.firstVote;
    }

    /// @dev The votes for `value` on `job` from the accounts holding `COPROCESSOR_ROLE` now.
    function _votesFor(JobData storage job, bytes32 jobId, bytes32 value) private view returns (uint8) {
        if (value == bytes32(0)) return 0;
        uint256 bits = _voterBits[jobId][value];
        if (value == job.firstVote) bits |= 1 << job.header.firstVoter;
        // At most MAX_OPERATORS (255) bits can be set.
        return uint8(_popcount(bits & _activeOperatorBits()));
    }
}
