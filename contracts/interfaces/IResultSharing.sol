// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IResultSharing
 * @notice Patients sharing a finalized prediction result with a hospital.
 * @dev The patient decrypts the result on their device and shares only a rounded value, re-encrypted to the
 * hospital's registered X25519 key (see `IHospitalRegistry`); only the hash of that shared copy and where to fetch
 * it go on-chain. Sharing again with the same hospital replaces the previous shared hash.
 *
 * What a share holds (`protocol/result-share.ts`): a PMHE envelope of kind `result-share` whose header names the
 * job, patient, hospital, the scheme and the ephemeral X25519 public key, and whose one section is AES-256-GCM
 * (key from HKDF-SHA256 over the X25519 shared secret, salted with both public keys and bound to the header) of
 * the canonical JSON `{jobId, modelId, probability, predictedClass}`, the probability rounded to two decimals.
 * Never a raw CKKS decryption: the full decrypted polynomial of a ciphertext, together with that public ciphertext,
 * gives away the secret key (Li and Micciancio, "On the security of homomorphic encryption on approximate numbers",
 * EUROCRYPT 2021), and the rounding removes the noise bits that attack needs.
 */
interface IResultSharing is IPMHEErrors {
    /**
     * @notice Emitted when a patient shares a job's result with a hospital.
     * @param jobId The job id.
     * @param patient The patient who owns the job's record.
     * @param hospital The hospital receiving the result.
     * @param sharedHash The hash of the copy of the result encrypted for the hospital.
     * @param locator Where that copy can be fetched.
     */
    event ResultShared(
        bytes32 indexed jobId, address indexed patient, address indexed hospital, bytes32 sharedHash, string locator
    );

    /**
     * @notice The caller is not the patient who owns the job's record.
     * @param jobId The job id.
     * @param caller The caller.
     */
    error NotJobPatient(bytes32 jobId, address caller);

    /**
     * @notice The job has no final result.
     * @param jobId The job id.
     */
    error JobNotFinalized(bytes32 jobId);

    /**
     * @notice The patient has no active consent for the hospital that allows receiving results.
     * @param patient The patient.
     * @param hospital The hospital.
     */
    error ConsentDoesNotCoverResults(address patient, address hospital);

    /**
     * @notice Shares a finalized job's result with a hospital. Restricted to the job's patient.
     * @dev The hospital must still hold `HOSPITAL_ROLE`, have a registered key, and an active consent from the
     * patient with `mayReceiveResults`. See the contract-level documentation for what the shared copy must be.
     * @param jobId The id of a `Finalized` job.
     * @param hospital The hospital.
     * @param sharedHash The hash of the copy of the result encrypted for the hospital; must be non-zero.
     * @param locator Where that copy can be fetched; emitted, not stored.
     */
    function shareResult(bytes32 jobId, address hospital, bytes32 sharedHash, string calldata locator) external;

    /**
     * @notice Returns the hash of the copy of a job's result last shared with a hospital.
     * @param jobId The job id.
     * @param hospital The hospital.
     * @return sharedHash The shared hash, 0 if the result was never shared with `hospital`.
     */
    function sharedResultOf(bytes32 jobId, address hospital) external view returns (bytes32 sharedHash);
}
