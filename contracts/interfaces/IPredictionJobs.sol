// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IPredictionJobs
 * @notice Prediction jobs: a patient (or a hospital the patient consented to) asks for a model to be evaluated on
 * one of the patient's encrypted records; off-chain coprocessors evaluate it and vote on the outcome, and the job
 * settles once `quorum` of them agree.
 * @dev Votes. Every coprocessor has one vote per job, either a result hash ({commitResult}) or a failure reason
 * ({reportFailure}). Both are recorded as a `bytes32` vote value: the result hash itself, or
 * `bytes32(uint256(reason))` for a failure. Result hashes in `1..0xffff` are therefore refused
 * ({ReservedResultHash}); a real content hash never falls there. While the job is `Requested`, the first value to
 * gather the job's quorum settles it: `Finalized` with that result hash, or `Failed` with that reason.
 * Once `Finalized`, further votes are still accepted and recorded (a dissenting late result stays visible
 * on-chain) but never change the outcome; `Failed` and `Expired` jobs take no more votes. No vote is taken after
 * the job's deadline ({VotingClosed}); a job still `Requested` then can only be expired ({expireJob}).
 *
 * Who counts. A value's votes are those of the accounts that hold `COPROCESSOR_ROLE` when they are counted: a
 * revoked operator's votes stop counting at once, on every job, and a job settles only when enough operators in
 * office agree. With a quorum of 1 a single operator decides a job and could commit a result it forged (it can
 * encrypt any value under the patient's public key): a quorum of 1 is for development only.
 *
 * Conflicts. A vote whose value differs from the job's reference value emits {ResultConflict} and is counted in
 * {conflictCount}. The reference value is the job's final result hash once it is `Finalized`, and the job's first
 * vote before that. A failure report disagreeing with a committed result (or the reverse) is a conflict like any
 * other, with the failure written as `bytes32(uint256(reason))`. Clients present a result with conflicts as
 * disputed, not as final.
 *
 * Audit trail. Each job's history is rebuilt from events alone: {PredictionRequested} (who asked, for which
 * patient, record, model and key bundle, under which quorum and deadline), {PredictionRequestedFromBatch} for
 * batch jobs, every vote ({ResultCommitted}, {FailureReported}, {ResultConflict}), every batch entry that did not
 * count as a vote ({VoteSkipped}), and the final status ({JobFinalized}, {JobFailed} or {JobExpired}).
 * `ModelPublished` gives the model's publisher, content hash, name and version.
 */
interface IPredictionJobs is IPMHEErrors {
    /**
     * @notice Life cycle of a job. `Failed` and `Expired` are terminal; `Finalized` is terminal for the outcome
     * but still records late votes until the deadline.
     * @dev `None` marks a job id that does not exist.
     */
    enum JobStatus {
        None,
        Requested,
        Finalized,
        Failed,
        Expired
    }

    /**
     * @notice Why a batch vote ({commitResults}, {castVotes}) skipped an entry instead of recording its vote;
     * carried by {VoteSkipped}.
     * @dev The ABI encodes it as `uint8`: 1 `AlreadyVoted` (the sender has already voted on the job, possibly
     * earlier in the same batch), 2 `JobNotPending` (the job is `Failed` or `Expired` and takes no more votes),
     * 3 `VotingClosed` (the job's deadline has passed). `None` (0) is never emitted. These are exactly the cases
     * in which {commitResult} reverts with {AlreadyVoted}, {JobNotPending} or {VotingClosed}.
     */
    enum VoteSkipReason {
        None,
        AlreadyVoted,
        JobNotPending,
        VotingClosed
    }

    /**
     * @notice A prediction job, as returned by {jobOf}: everything a coprocessor needs without further lookups.
     * @param patient The patient who owns the record.
     * @param recordHash The encrypted record to evaluate.
     * @param batchRoot The root of the patient's batch holding the record, 0 for a record anchored on its own.
     * @param modelId The model to evaluate it with, see `IModelRegistry`.
     * @param modelHash The content hash of that model (the blob to fetch).
     * @param keyBundleHash The key bundle the record is encrypted under (the one to evaluate with).
     * @param keyVersion The version of that key bundle.
     * @param status The job's status.
     * @param quorum The number of agreeing votes needed to settle the job, fixed at request time.
     * @param deadline The timestamp after which no vote is taken and the job can be expired if still `Requested`.
     * @param resultHash The agreed result hash if `Finalized`, 0 otherwise.
     * @param failureReason The agreed failure reason if `Failed`, 0 otherwise.
     * @param votes For a settled job, the votes its outcome has from operators in office now; 0 otherwise.
     * @param recordErased Whether the patient has erased the record since (or the batch holding it): no operator may
     * evaluate it any more. Read with the job, so a coprocessor checks it without a second call.
     */
    // solhint-disable-next-line gas-struct-packing
    struct Job {
        address patient;
        bytes32 recordHash;
        bytes32 batchRoot;
        bytes32 modelId;
        bytes32 modelHash;
        bytes32 keyBundleHash;
        uint32 keyVersion;
        JobStatus status;
        uint8 quorum;
        uint64 deadline;
        bytes32 resultHash;
        uint16 failureReason;
        uint8 votes;
        bool recordErased;
    }

    /**
     * @notice Emitted when governance changes the quorum of future jobs (and once at deployment).
     * @param previous The previous quorum.
     * @param current The new quorum.
     */
    event QuorumChanged(uint8 previous, uint8 current);

    /**
     * @notice Emitted when governance changes the timeout of future jobs (and once at deployment).
     * @param previous The previous timeout, in seconds.
     * @param current The new timeout, in seconds.
     */
    event JobTimeoutChanged(uint64 previous, uint64 current);

    /**
     * @notice Emitted when a prediction is requested.
     * @param jobId The job id, see {computeJobId}.
     * @param patient The patient who owns the record.
     * @param recordHash The encrypted record to evaluate.
     * @param modelId The model to evaluate it with.
     * @param keyBundleHash The key bundle the record is encrypted under (the one to evaluate with).
     * @param requester The account that requested the job (the patient or a consented hospital).
     * @param quorum The number of agreeing votes needed to settle the job.
     * @param deadline The timestamp after which no vote is taken and the job can be expired if still `Requested`.
     */
    event PredictionRequested(
        bytes32 indexed jobId,
        address indexed patient,
        bytes32 indexed recordHash,
        bytes32 modelId,
        bytes32 keyBundleHash,
        address requester,
        uint8 quorum,
        uint64 deadline
    );

    /**
     * @notice Emitted right after {PredictionRequested} when the record was proven to belong to a batch.
     * @param jobId The job id.
     * @param root The root of the batch holding the record.
     */
    event PredictionRequestedFromBatch(bytes32 indexed jobId, bytes32 indexed root);

    /**
     * @notice Emitted for every result a coprocessor commits.
     * @param jobId The job id.
     * @param coprocessor The coprocessor account that committed the result.
     * @param resultHash The hash of the encrypted result in the blob store.
     * @param votes The votes this result hash has so far from operators in office, this one included.
     */
    event ResultCommitted(bytes32 indexed jobId, address indexed coprocessor, bytes32 resultHash, uint8 votes);

    /**
     * @notice Emitted for every failure a coprocessor reports.
     * @param jobId The job id.
     * @param coprocessor The coprocessor account that reported the failure.
     * @param reason The failure reason code, see {reportFailure}.
     * @param votes The votes this reason has so far from operators in office, this one included.
     */
    event FailureReported(bytes32 indexed jobId, address indexed coprocessor, uint16 reason, uint8 votes);

    /**
     * @notice Emitted when a vote disagrees with the job's reference value (see the contract-level documentation).
     * @param jobId The job id.
     * @param coprocessor The coprocessor account that cast the disagreeing vote.
     * @param resultHash The vote's value: a result hash, or `bytes32(uint256(reason))` for a failure.
     * @param conflictingWith The reference value it disagrees with, in the same encoding.
     */
    event ResultConflict(
        bytes32 indexed jobId, address indexed coprocessor, bytes32 resultHash, bytes32 conflictingWith
    );

    /**
     * @notice Emitted when a result hash reaches the job's quorum: the job is `Finalized` with it.
     * @param jobId The job id.
     * @param resultHash The final result hash.
     * @param votes The votes for it from operators in office (at least the job's quorum).
     */
    event JobFinalized(bytes32 indexed jobId, bytes32 resultHash, uint8 votes);

    /**
     * @notice Emitted when a failure reason reaches the job's quorum: the job is `Failed` with it.
     * @param jobId The job id.
     * @param reason The agreed failure reason code.
     * @param votes The votes for it from operators in office (at least the job's quorum).
     */
    event JobFailed(bytes32 indexed jobId, uint16 reason, uint8 votes);

    /**
     * @notice Emitted when a job past its deadline is expired.
     * @param jobId The job id.
     * @param caller The account that expired it.
     */
    event JobExpired(bytes32 indexed jobId, address indexed caller);

    /**
     * @notice Emitted when a batch vote skips an entry: its vote was not recorded and nothing changed for it.
     * @param jobId The job id of the skipped entry.
     * @param coprocessor The coprocessor account that sent the batch.
     * @param why Why the entry was skipped, see {VoteSkipReason}.
     */
    event VoteSkipped(bytes32 indexed jobId, address indexed coprocessor, VoteSkipReason why);

    /**
     * @notice A quorum of 0.
     * @param quorum The invalid quorum.
     */
    error InvalidQuorum(uint8 quorum);

    /**
     * @notice A job timeout of 0 or above `MAX_JOB_TIMEOUT`.
     * @param timeout The invalid timeout, in seconds.
     */
    error InvalidJobTimeout(uint64 timeout);

    /**
     * @notice The caller may not request predictions on this patient's record: it is neither the patient nor a
     * hospital holding an active consent from that patient.
     * @param patient The patient who owns the record.
     * @param recordHash The record hash, or the batch root for a batch request.
     * @param caller The caller.
     */
    error NotAuthorizedRequester(address patient, bytes32 recordHash, address caller);

    /**
     * @notice No job exists with this id.
     * @param jobId The job id.
     */
    error UnknownJob(bytes32 jobId);

    /**
     * @notice The job does not accept this operation in its current status.
     * @param jobId The job id.
     * @param status The job's current status.
     */
    error JobNotPending(bytes32 jobId, JobStatus status);

    /**
     * @notice The job's deadline has not passed yet.
     * @param jobId The job id.
     * @param deadline The job's deadline.
     */
    error JobNotExpirable(bytes32 jobId, uint64 deadline);

    /**
     * @notice The job's deadline has passed: it takes no more votes.
     * @param jobId The job id.
     * @param deadline The job's deadline.
     */
    error VotingClosed(bytes32 jobId, uint64 deadline);

    /**
     * @notice The coprocessor has already voted on this job (a result or a failure).
     * @param jobId The job id.
     * @param coprocessor The coprocessor account.
     */
    error AlreadyVoted(bytes32 jobId, address coprocessor);

    /**
     * @notice A failure was reported with reason code 0, which means "no failure".
     * @param reason The invalid reason code.
     */
    error InvalidFailureReason(uint16 reason);

    /**
     * @notice A result hash in `1..0xffff`, the range that encodes failure votes.
     * @param resultHash The refused result hash.
     */
    error ReservedResultHash(bytes32 resultHash);

    /// @notice A batch vote was called with no entries.
    error EmptyCommitBatch();

    /**
     * @notice A batch vote was called with arrays of different lengths.
     * @param jobIds The number of job ids.
     * @param values The number of result hashes (or reasons).
     */
    error CommitBatchLengthMismatch(uint256 jobIds, uint256 values);

    /**
     * @notice A batch vote was called with more entries than `MAX_COMMIT_BATCH`.
     * @param size The number of entries.
     * @param max The largest number of entries accepted.
     */
    error CommitBatchTooLarge(uint256 size, uint256 max);

    /**
     * @notice Sets the quorum of jobs requested from now on. Restricted to `DEFAULT_ADMIN_ROLE`.
     * @dev Jobs keep the quorum in force when they were requested. Keep it at most the number of accounts holding
     * `COPROCESSOR_ROLE`: a job that cannot gather its quorum can only expire. Use at least 2 outside development.
     * @param k The number of agreeing coprocessor votes that settles a job; at least 1.
     */
    function setQuorum(uint8 k) external;

    /**
     * @notice Sets the timeout of jobs requested from now on. Restricted to `DEFAULT_ADMIN_ROLE`.
     * @dev Jobs keep the deadline computed when they were requested.
     * @param seconds_ The time from request to deadline; from 1 to `MAX_JOB_TIMEOUT` (365 days).
     */
    function setJobTimeout(uint64 seconds_) external;

    /**
     * @notice Returns the quorum of jobs requested from now on.
     * @return k The number of agreeing coprocessor votes that settles a job.
     */
    function quorum() external view returns (uint8 k);

    /**
     * @notice Returns the timeout of jobs requested from now on.
     * @return seconds_ The time from request to deadline.
     */
    function jobTimeout() external view returns (uint64 seconds_);

    /**
     * @notice Requests a prediction of a published model on a record a patient anchored on its own.
     * @dev The caller must be `patient`, or hold `HOSPITAL_ROLE` and an active consent from `patient`. The record
     * must not be erased; the model must not be deprecated and its publisher must still be a hospital. The job
     * takes the current quorum and a deadline of `block.timestamp + jobTimeout()`. Its id is `nextJobId(patient)`
     * read before the call, see {computeJobId}.
     * @param patient The patient whose record it is.
     * @param recordHash The hash of a record `patient` anchored with `anchorRecord`.
     * @param modelId The id of a published model.
     * @return jobId The id of the new job.
     */
    function requestPrediction(address patient, bytes32 recordHash, bytes32 modelId) external returns (bytes32 jobId);

    /**
     * @notice Anchors a record in the caller's namespace and requests a prediction on it, in one transaction: one
     * wallet confirmation per prediction.
     * @dev As `anchorRecord(recordHash)` followed by `requestPrediction(msg.sender, recordHash, modelId)`.
     * @param recordHash The hash of the caller's encrypted record.
     * @param modelId The id of a published model.
     * @return jobId The id of the new job.
     */
    function anchorAndRequest(bytes32 recordHash, bytes32 modelId) external returns (bytes32 jobId);

    /**
     * @notice Requests a prediction of a published model on a record that belongs to a patient's anchored batch.
     * @dev As {requestPrediction}, with the batch's key bundle. Refused if the batch or the record was erased.
     * Emits {PredictionRequested} then {PredictionRequestedFromBatch}.
     * @param patient The patient whose batch it is.
     * @param root The root of a batch anchored by `patient`.
     * @param recordHash The hash of a record of that batch.
     * @param proof The Merkle proof of `recordHash` under `root`, see `IRecordRegistry`.
     * @param modelId The id of a published model.
     * @return jobId The id of the new job.
     */
    function requestBatchPrediction(
        address patient,
        bytes32 root,
        bytes32 recordHash,
        bytes32[] calldata proof,
        bytes32 modelId
    ) external returns (bytes32 jobId);

    /**
     * @notice Votes for a job's result. Restricted to accounts with `COPROCESSOR_ROLE`.
     * @dev One vote per coprocessor per job, until the job's deadline. Accepted while the job is `Requested` or
     * `Finalized` (recorded as a late vote). Reaching the quorum of operators in office while `Requested`
     * finalizes the job with `resultHash`.
     * @param jobId The job id.
     * @param resultHash The hash of the encrypted result in the blob store; must be above `0xffff`.
     */
    function commitResult(bytes32 jobId, bytes32 resultHash) external;

    /**
     * @notice Votes for the results of several jobs in one transaction. Restricted to accounts with
     * `COPROCESSOR_ROLE`.
     * @dev Entry `i` is the vote {commitResult}`(jobIds[i], resultHashes[i])`, cast in order, with the same events,
     * tallies and conflicts, except that an entry on which {commitResult} would revert with {AlreadyVoted},
     * {JobNotPending} or {VotingClosed} is skipped: it emits {VoteSkipped} and changes nothing, and the other
     * entries still count. A job id listed twice is therefore voted once, with the first entry's value. An unknown
     * job id, a zero or reserved result hash, or a malformed batch is a caller error and reverts the whole call.
     * @param jobIds The job ids, from 1 to `MAX_COMMIT_BATCH` (32) of them.
     * @param resultHashes The result hash voted for each job, in the same order; each must be above `0xffff`.
     */
    function commitResults(bytes32[] calldata jobIds, bytes32[] calldata resultHashes) external;

    /**
     * @notice Votes on several jobs in one transaction: results first, then failures. Restricted to accounts with
     * `COPROCESSOR_ROLE`.
     * @dev The result entries are cast as by {commitResults}, then the failure entries as {reportFailure} would,
     * with the same skips. Results go first so that a flood of failing jobs never delays another job's result.
     * Together the entries number from 1 to `MAX_COMMIT_BATCH`; either list may be empty.
     * @param commitJobIds The job ids voted a result.
     * @param resultHashes The result hash of each, in the same order; each must be above `0xffff`.
     * @param failedJobIds The job ids voted a failure.
     * @param reasons The failure reason of each, in the same order; each must be non-zero.
     */
    function castVotes(
        bytes32[] calldata commitJobIds,
        bytes32[] calldata resultHashes,
        bytes32[] calldata failedJobIds,
        uint16[] calldata reasons
    ) external;

    /**
     * @notice Votes for a job's failure with a reason code. Restricted to accounts with `COPROCESSOR_ROLE`.
     * @dev Same rules as {commitResult}; reaching the quorum while `Requested` fails the job with `reason`.
     * Reason codes, defined by the off-chain protocol (`protocol/failure-reasons.ts`; all permanent: retrying the
     * same job with the same anchored inputs cannot succeed):
     *  1 RecordBlobMissing, 2 RecordHashMismatch, 3 KeyBundleBlobMissing, 4 KeyBundleHashMismatch,
     *  5 ModelBlobMissing, 6 ModelHashMismatch, 7 MalformedRecord, 8 MalformedKeyBundle, 9 MalformedModel,
     *  10 ParameterMismatch, 11 EvaluationError, 12 RecordOwnerMismatch (the record blob names another patient or
     *  key bundle than the job's), 13 KeyBundleOwnerMismatch (the key bundle names another patient),
     *  14 EvaluationCrashed (evaluating the job killed the evaluation thread twice), 15 RecordErased (the patient
     *  erased the record after the request).
     * Only 0 is rejected on-chain, so new codes can be introduced off-chain without a contract change.
     * @param jobId The job id.
     * @param reason The failure reason code; must be non-zero.
     */
    function reportFailure(bytes32 jobId, uint16 reason) external;

    /**
     * @notice Expires a job still `Requested` after its deadline. Callable by anyone; coprocessors do it for
     * the jobs they see overdue.
     * @param jobId The job id.
     */
    function expireJob(bytes32 jobId) external;

    /**
     * @notice Returns a job.
     * @param jobId The job id.
     * @return job The job.
     */
    function jobOf(bytes32 jobId) external view returns (Job memory job);

    /**
     * @notice Returns a coprocessor's vote on a job.
     * @param jobId The job id.
     * @param coprocessor The coprocessor account.
     * @return value The result hash voted for, `bytes32(uint256(reason))` for a failure, 0 if it has not voted.
     */
    function voteOf(bytes32 jobId, address coprocessor) external view returns (bytes32 value);

    /**
     * @notice Returns the number of votes a value has on a job from the operators in office now.
     * @param jobId The job id.
     * @param value A result hash, or `bytes32(uint256(reason))` for a failure.
     * @return votes The number of votes for `value` from accounts holding `COPROCESSOR_ROLE`.
     */
    function voteCount(bytes32 jobId, bytes32 value) external view returns (uint8 votes);

    /**
     * @notice Returns the number of votes on a job that disagreed with its reference value.
     * @param jobId The job id.
     * @return conflicts The number of {ResultConflict} events the job has emitted.
     */
    function conflictCount(bytes32 jobId) external view returns (uint8 conflicts);

    /**
     * @notice Computes a job id.
     * @dev `keccak256(abi.encode(block.chainid, address(this), patient, nonce))`. Job ids are numbered per
     * patient (the owner of the record or batch), whoever requests: the n-th job on a patient's records uses
     * nonce n, counting from 0. Every id is used once, since each request consumes its patient's nonce.
     * @param patient The patient who owns the record.
     * @param nonce The patient's job nonce at the time of the request, see {jobNonce}.
     * @return jobId The job id.
     */
    function computeJobId(address patient, uint64 nonce) external view returns (bytes32 jobId);

    /**
     * @notice Returns the nonce the next job on a patient's records will use.
     * @dev The nonce is kept per patient rather than per requester because it lives in the patient's registry
     * slot, next to their key version: that slot is non-zero from registration on, so consuming a nonce is a
     * non-zero to non-zero write (~5k gas) even on an account's first request. Only the patient and the hospitals
     * they consented to can advance it, so no third party can make a predicted id stale; the id returned by the
     * request and emitted in {PredictionRequested} is authoritative.
     * @param patient The patient.
     * @return nonce The number of jobs requested so far on the patient's records.
     */
    function jobNonce(address patient) external view returns (uint64 nonce);

    /**
     * @notice Returns the id the next job on a patient's records will get.
     * @param patient The patient.
     * @return jobId `computeJobId(patient, jobNonce(patient))`.
     */
    function nextJobId(address patient) external view returns (bytes32 jobId);
}
