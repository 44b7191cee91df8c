// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IHospitalRegistry
 * @notice Hospitals and the public keys under which patients share prediction results with them.
 * @dev Registering a hospital grants it `HOSPITAL_ROLE`. Removing a hospital is the standard
 * {IAccessControl-revokeRole} of `HOSPITAL_ROLE`: its models then take no new jobs, its consents stop
 * authorizing requests and shares, and its last key stays readable so past shares remain auditable.
 *
 * The key is an X25519 public key (32 bytes), stored as is: a share is sealed to it (ephemeral X25519, HKDF-SHA256,
 * AES-256-GCM, see {IResultSharing}), so the patient's device needs nothing but the chain to encrypt for a hospital.
 */
interface IHospitalRegistry is IPMHEErrors {
    /**
     * @notice Emitted when governance registers (or re-registers) a hospital.
     * @param hospital The hospital account, now holding `HOSPITAL_ROLE`.
     * @param encryptionKey The hospital's X25519 public key for shared results.
     * @param name The hospital's name as patients see it; emitted, not stored.
     */
    event HospitalRegistered(address indexed hospital, bytes32 encryptionKey, string name);

    /**
     * @notice Emitted when a hospital replaces its own public key.
     * @param hospital The hospital account.
     * @param encryptionKey The new X25519 public key.
     */
    event HospitalKeyUpdated(address indexed hospital, bytes32 encryptionKey);

    /**
     * @notice No key was ever stored for this account.
     * @param hospital The account.
     */
    error UnknownHospital(address hospital);

    /// @notice An encryption key of 32 zero bytes, which is no X25519 public key anyone can decrypt for.
    error ZeroKey();

    /**
     * @notice Grants `HOSPITAL_ROLE` to `hospital` and stores its public key. Restricted to `DEFAULT_ADMIN_ROLE`.
     * @dev Registering an already registered hospital replaces its key.
     * @param hospital The hospital account; must be non-zero.
     * @param encryptionKey The hospital's X25519 public key; must be non-zero.
     * @param name The hospital's name as patients see it; emitted, not stored.
     */
    function registerHospital(address hospital, bytes32 encryptionKey, string calldata name) external;

    /**
     * @notice Replaces the caller's public key. Restricted to accounts with `HOSPITAL_ROLE`.
     * @param encryptionKey The new X25519 public key; must be non-zero.
     */
    function setHospitalKey(bytes32 encryptionKey) external;

    /**
     * @notice Returns a hospital's current public key.
     * @param hospital The hospital account.
     * @return encryptionKey The hospital's X25519 public key.
     */
    function hospitalKeyOf(address hospital) external view returns (bytes32 encryptionKey);
}
