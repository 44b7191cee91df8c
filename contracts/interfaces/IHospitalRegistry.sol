// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IHospitalRegistry
 * @notice Hospitals and the public encryption keys under which patients share prediction results with them.
 * @dev Registering a hospital grants it `HOSPITAL_ROLE`. Removing a hospital is the standard
 * {IAccessControl-revokeRole} of `HOSPITAL_ROLE`; its last key stays readable so past shares remain auditable.
 * As for patients, only the key's hash is stored; the key itself is fetched from `keyLocator` and checked
 * against the hash by whoever uses it.
 */
interface IHospitalRegistry is IPMHEErrors {
    /**
     * @notice A hospital's public key for receiving shared results.
     * @param encryptionKeyHash The hash of the hospital's public encryption key.
     * @param keyLocator Where the key can be fetched (for example a blob-store URL).
     */
    struct HospitalKey {
        bytes32 encryptionKeyHash;
        string keyLocator;
    }

    /**
     * @notice Emitted when governance registers (or re-registers) a hospital.
     * @param hospital The hospital account, now holding `HOSPITAL_ROLE`.
     * @param encryptionKeyHash The hash of the hospital's public encryption key.
     * @param keyLocator Where the key can be fetched.
     */
    event HospitalRegistered(address indexed hospital, bytes32 encryptionKeyHash, string keyLocator);

    /**
     * @notice Emitted when a hospital replaces its own public key.
     * @param hospital The hospital account.
     * @param encryptionKeyHash The hash of the new public encryption key.
     * @param keyLocator Where the new key can be fetched.
     */
    event HospitalKeyUpdated(address indexed hospital, bytes32 encryptionKeyHash, string keyLocator);

    /**
     * @notice No key was ever stored for this account.
     * @param hospital The account.
     */
    error UnknownHospital(address hospital);

    /**
     * @notice Grants `HOSPITAL_ROLE` to `hospital` and stores its public key. Restricted to `DEFAULT_ADMIN_ROLE`.
     * @dev Registering an already registered hospital replaces its key.
     * @param hospital The hospital account; must be non-zero.
     * @param encryptionKeyHash The hash of the hospital's public encryption key; must be non-zero.
     * @param keyLocator Where the key can be fetched.
     */
    function registerHospital(address hospital, bytes32 encryptionKeyHash, string calldata keyLocator) external;

    /**
     * @notice Replaces the caller's public key. Restricted to accounts with `HOSPITAL_ROLE`.
     * @param encryptionKeyHash The hash of the new public encryption key; must be non-zero.
     * @param keyLocator Where the new key can be fetched.
     */
    function setHospitalKey(bytes32 encryptionKeyHash, string calldata keyLocator) external;

    /**
     * @notice Returns a hospital's current public key.
     * @param hospital The hospital account.
     * @return encryptionKeyHash The hash of the hospital's public encryption key.
     * @return keyLocator Where the key can be fetched.
     */
    function hospitalKeyOf(address hospital)
        external
        view
        returns (bytes32 encryptionKeyHash, string memory keyLocator);
}
