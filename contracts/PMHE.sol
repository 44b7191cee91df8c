// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {HospitalRegistry} from "./hospitals/HospitalRegistry.sol";
import {IPMHE} from "./interfaces/IPMHE.sol";
import {ResultSharing} from "./sharing/ResultSharing.sol";

/**
 * @title PMHE
 * @notice Privacy-preserving medical predictions over homomorphically encrypted data.
 * Patients register hashes of their CKKS key bundles and anchor hashes of their encrypted records, one by one or
 * as Merkle batches; hospitals, registered by governance, publish versioned model hashes; patients, or hospitals
 * they consented to, request predictions; off-chain coprocessors evaluate the model on the ciphertext and vote on
 * the hash of the encrypted result until a quorum agrees; patients may share results with consented hospitals.
 * All payloads live off-chain in a content-addressed blob store; the chain only holds their hashes, the
 * permissions and the job life cycle.
 */
contract PMHE is IPMHE, HospitalRegistry, ResultSharing {
    /**
     * @notice Deploys the contract and grants `DEFAULT_ADMIN_ROLE` (governance) to `admin`.
     * @dev New jobs start with a quorum of 1 and a timeout of one hour.
     * @param admin The account that administers roles and settings; must be non-zero.
     */
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }
}
