// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHE} from "./interfaces/IPMHE.sol";
import {PredictionJobs} from "./jobs/PredictionJobs.sol";
import {ResultSharing} from "./sharing/ResultSharing.sol";

/**
 * @title PMHE
 * @notice Privacy-preserving medical predictions over homomorphically encrypted data.
 * Patients register hashes of their CKKS key bundles and anchor hashes of their encrypted records in their own
 * namespace, one by one or as Merkle batches; hospitals, registered by governance, publish versioned models in
 * theirs; patients, or hospitals they consented to, request predictions; off-chain coprocessors evaluate the
 * model on the ciphertext and vote on the hash of the encrypted result until a quorum of operators in office
 * agrees; patients may share rounded, re-encrypted results with consented hospitals.
 * All payloads live off-chain in a content-addressed blob store; the chain only holds their hashes, the
 * permissions and the job life cycle.
 */
contract PMHE is IPMHE, ResultSharing {
    /**
     * @notice Deploys the contract and grants `DEFAULT_ADMIN_ROLE` (governance) to `admin`.
     * @param admin The account that administers roles and settings; must be non-zero.
     * @param quorum_ The quorum of new jobs: at least 2 outside development, where 1 lets a single operator decide
     * (and forge) results.
     * @param jobTimeout_ The time from request to deadline of new jobs, in seconds (1 to `MAX_JOB_TIMEOUT`).
     */
    constructor(address admin, uint8 quorum_, uint64 jobTimeout_) PredictionJobs(quorum_, jobTimeout_) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }
}
