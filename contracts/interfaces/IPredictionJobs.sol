// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IPredictionJobs
 * @notice Prediction jobs: a patient asks for a model to be evaluated on one of their encrypted records, and an
 * off-chain coprocessor commits the hash of the encrypted result or reports a failure.
 */
interface IPredictionJobs is IPMHEErrors {
    /**
     * @notice Life cycle of a job. `Finalized` and `Failed` are terminal.
     * @dev `None` marks a job id that does not exist.
     */
    enum JobStatus {
        None,
        Requested,
        Finalized,
        Failed
    }

    /**
     * @notice A prediction job. Stored in four slots; the last one (`resultHash`) is only written on commit.
     * @param recordHash The encrypted record to evaluate.
     * @param modelHash The model to evaluate it with.
     * @param requester The account that requested the job.
     * @param status The job's status.
     * @param requestedAt The block timestamp of the request.
     * @param failureReason The reason code reported on failure, 0 otherwise.
     * @param resultHash The hash of the encrypted result once finalized, 0 otherwise.
     */
    struct Job {
        bytes32 recordHash;
        bytes32 modelHash;
        address requester;
        JobStatus status;
        uint64 requestedAt;
        uint16 failureReason;
        bytes32 resultHash;
    }

    /**
     * @notice Emitted when a prediction is requested.
     * @param jobId The job id, see {computeJobId}.
     * @param patient The patient who owns the record.
     * @param recordHash The encrypted record to evaluate.
     * @param modelHash The model to evaluate it with.
     * @param keyBundleHash The key bundle the record is encrypted under (the one to evaluate with).
     * @param requester The account that requested the job.
     */
    event PredictionRequested(
        bytes32 indexed jobId,
        address indexed patient,
        bytes32 indexed recordHash,
        bytes32 modelHash,
        bytes32 keyBundleHash,
        address requester
    );

    /**
     * @notice Emitted when a coprocessor commits the result of a job.
     * @param jobId The job id.
     * @param coprocessor The coprocessor account that committed the result.
     * @param resultHash The hash of the encrypted result in the blob store.
     */
    event ResultCommitted(bytes32 indexed jobId, address indexed coprocessor, bytes32 resultHash);

    /**
     * @notice Emitted when a coprocessor reports that a job cannot be completed.
     * @param jobId The job id.
     * @param coprocessor The coprocessor account that reported the failure.
     * @param reason The failure reason code, see {reportFailure}.
     */
    event JobFailed(bytes32 indexed jobId, address indexed coprocessor, uint16 reason);

    /**
     * @notice The caller is not allowed to request predictions on this record.
     * @param recordHash The record hash.
     * @param caller The caller.
     */
    error NotRecordOwner(bytes32 recordHash, address caller);

    /**
     * @notice No job exists with this id.
     * @param jobId The job id.
     */
    error UnknownJob(bytes32 jobId);

    /**
     * @notice The job is no longer waiting for a result.
     * @param jobId The job id.
     * @param status The job's current status.
     */
    error JobNotPending(bytes32 jobId, JobStatus status);

    /**
     * @notice A failure was reported with reason code 0, which means "no failure".
     * @param reason The invalid reason code.
     */
    error InvalidFailureReason(uint16 reason);

    /**
     * @notice Requests a prediction of a published model on one of the caller's anchored records.
     * @dev The caller must be the record's patient. The job id is deterministic: it equals
     * `computeJobId(msg.sender, recordHash, modelHash, requestNonce(msg.sender))` read before the call, and the
     * caller's nonce is then incremented.
     * @param recordHash The hash of an anchored record owned by the caller.
     * @param modelHash The hash of a published model.
     * @return jobId The id of the new job.
     */
    function requestPrediction(bytes32 recordHash, bytes32 modelHash) external returns (bytes32 jobId);

    /**
     * @notice Commits the hash of a job's encrypted result and finalizes the job.
     * Restricted to accounts with `COPROCESSOR_ROLE`.
     * @dev The job must be in `Requested` status, so a job is finalized at most once.
     * @param jobId The job id.
     * @param resultHash The hash of the encrypted result in the blob store; must be non-zero.
     */
    function commitResult(bytes32 jobId, bytes32 resultHash) external;

    /**
     * @notice Marks a job as failed with a reason code. Restricted to accounts with `COPROCESSOR_ROLE`.
     * @dev The job must be in `Requested` status. Reason codes, defined by the off-chain protocol (all permanent:
     * retrying the same job with the same anchored inputs cannot succeed):
     *  1 RecordBlobMissing, 2 RecordHashMismatch, 3 KeyBundleBlobMissing, 4 KeyBundleHashMismatch,
     *  5 ModelBlobMissing, 6 ModelHashMismatch, 7 MalformedRecord, 8 MalformedKeyBundle, 9 MalformedModel,
     *  10 ParameterMismatch, 11 EvaluationError.
     * Only 0 is rejected on-chain, so new codes can be introduced off-chain without a contract change.
     * @param jobId The job id.
     * @param reason The failure reason code; must be non-zero.
     */
    function reportFailure(bytes32 jobId, uint16 reason) external;

    /**
     * @notice Returns a job.
     * @param jobId The job id.
     * @return job The job.
     */
    function jobOf(bytes32 jobId) external view returns (Job memory job);

    /**
     * @notice Computes the id a request would get.
     * @dev `keccak256(abi.encode(block.chainid, address(this), requester, recordHash, modelHash, nonce))`.
     * @param requester The requesting account.
     * @param recordHash The record hash.
     * @param modelHash The model hash.
     * @param nonce The requester's nonce at the time of the request, see {requestNonce}.
     * @return jobId The job id.
     */
    function computeJobId(address requester, bytes32 recordHash, bytes32 modelHash, uint256 nonce)
        external
        view
        returns (bytes32 jobId);

    /**
     * @notice Returns the nonce the next request of `requester` will use.
     * @param requester The requesting account.
     * @return nonce The number of predictions `requester` has requested so far.
     */
    function requestNonce(address requester) external view returns (uint256 nonce);
}
