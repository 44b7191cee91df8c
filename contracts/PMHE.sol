// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHE} from "./interfaces/IPMHE.sol";
import {PredictionJobs} from "./jobs/PredictionJobs.sol";

/**
 * @title PMHE
 * @notice Privacy-preserving medical predictions over homomorphically encrypted data.
 * Patients register hashes of their CKKS key bundles and anchor hashes of their encrypted records; hospitals
 * publish model hashes; patients request predictions; an off-chain coprocessor evaluates the model on the
 * ciphertext and commits the hash of the encrypted result. All payloads live off-chain in a content-addressed
 * blob store; the chain only holds their hashes and the job life cycle.
 */
contract PMHE is IPMHE, PredictionJobs {
    /**
     * @notice Deploys the contract and grants `DEFAULT_ADMIN_ROLE` to `admin`.
     * @param admin The account that administers roles; must be non-zero.
     */
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }
}
