// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {HospitalRegistry} from "../hospitals/HospitalRegistry.sol";
import {IResultSharing} from "../interfaces/IResultSharing.sol";
import {PredictionJobs} from "../jobs/PredictionJobs.sol";

/**
 * @title ResultSharing
 * @notice Lets a patient share a finalized result with a hospital they consented to.
 * @dev One slot per (job, hospital) for the last shared hash; the locator is emitted, not stored.
 */
abstract contract ResultSharing is HospitalRegistry, PredictionJobs, IResultSharing {
    mapping(bytes32 jobId => mapping(address hospital => bytes32 sharedHash)) private _sharedResults;

    /// @inheritdoc IResultSharing
    function shareResult(bytes32 jobId, address hospital, bytes32 sharedHash, string calldata locator)
        external
        virtual
    {
        _shareResult(_msgSender(), jobId, hospital, sharedHash, locator);
    }

    /// @inheritdoc IResultSharing
    function sharedResultOf(bytes32 jobId, address hospital) external view virtual returns (bytes32) {
        return _sharedResults[jobId][hospital];
    }

    /// @dev Shares the result of `jobId`, whose patient must be `patient`, with `hospital`.
    function _shareResult(
        address patient,
        bytes32 jobId,
        address hospital,
        bytes32 sharedHash,
        string calldata locator
    ) internal virtual {
        (address owner, JobStatus status) = _jobPatient(jobId);
        if (status == JobStatus.None) revert UnknownJob(jobId);
        if (owner != patient) revert NotJobPatient(jobId, patient);
        if (status != JobStatus.Finalized) revert JobNotFinalized(jobId);
        if (sharedHash == bytes32(0)) revert ZeroHash();
        if (!hasRole(HOSPITAL_ROLE, hospital)) revert NotAHospital(hospital);
        _requireHospitalKey(hospital);
        Consent memory consent = _consent(patient, hospital);
        if (!_isActive(consent) || !consent.mayReceiveResults) revert ConsentDoesNotCoverResults(patient, hospital);

        _sharedResults[jobId][hospital] = sharedHash;

        emit ResultShared(jobId, patient, hospital, sharedHash, locator);
    }
}
