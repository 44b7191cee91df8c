// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IPatientRegistry
 * @notice Patients and the history of their public key bundles.
 * @dev A key bundle is the off-chain set of a patient's public CKKS keys (public, relinearization and Galois keys).
 * Only its hash is stored; the bundle itself lives in a content-addressed blob store under that hash.
 * Key versions are numbered from 1 and never reused, so a record anchored under version `v` can always be
 * matched to the exact bundle it was encrypted under, even after the patient rotates keys.
 */
interface IPatientRegistry is IPMHEErrors {
    /**
     * @notice Emitted when a patient registers their first key bundle or rotates to a new one.
     * @dev The locator is only emitted, not stored: the bundle is content-addressed, so the hash is what binds it
     * and the locator is a retrieval hint that readers take from this event.
     * @param patient The patient's address.
     * @param keyVersion The version number of the new bundle (1 for the first registration).
     * @param keyBundleHash The hash of the new key bundle.
     * @param locator Where the bundle can be fetched (for example a blob-store URL).
     */
    event PatientKeysRegistered(
        address indexed patient, uint32 indexed keyVersion, bytes32 keyBundleHash, string locator
    );

    /**
     * @notice The address has never registered a key bundle.
     * @param patient The address that is not a registered patient.
     */
    error PatientNotRegistered(address patient);

    /**
     * @notice A rotation was attempted to the bundle that is already current.
     * @param keyBundleHash The hash that is already the patient's current key bundle.
     */
    error KeyBundleUnchanged(bytes32 keyBundleHash);

    /**
     * @notice The patient has no key bundle with this version.
     * @param patient The patient's address.
     * @param keyVersion The requested version (0, or above the patient's current version).
     */
    error UnknownKeyVersion(address patient, uint32 keyVersion);

    /**
     * @notice Registers the caller as a patient with a key bundle, or rotates the caller to a new key bundle.
     * @dev The first call creates version 1; every later call creates the next version. Earlier versions stay
     * readable through {keyBundleAt}. Rotating back to a bundle used before (but not current) is allowed and
     * creates a new version.
     * @param keyBundleHash The hash of the key bundle; must be non-zero and differ from the current one.
     * @param locator Where the bundle can be fetched (for example a blob-store URL); emitted, not stored.
     */
    function registerKeys(bytes32 keyBundleHash, string calldata locator) external;

    /**
     * @notice Returns a patient's current key bundle.
     * @param patient The patient's address.
     * @return keyBundleHash The hash of the current key bundle.
     * @return keyVersion The version number of the current key bundle.
     */
    function currentKeyBundle(address patient) external view returns (bytes32 keyBundleHash, uint32 keyVersion);

    /**
     * @notice Returns the key bundle a patient registered under a given version.
     * @param patient The patient's address.
     * @param keyVersion The version number, from 1 to the patient's current version.
     * @return keyBundleHash The hash of that version's key bundle.
     */
    function keyBundleAt(address patient, uint32 keyVersion) external view returns (bytes32 keyBundleHash);
}
