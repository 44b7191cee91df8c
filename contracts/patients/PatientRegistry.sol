// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IPatientRegistry} from "../interfaces/IPatientRegistry.sol";

/**
 * @title PatientRegistry
 * @notice Registers patients and keeps the full history of their key bundle hashes.
 * @dev A patient is registered once their current version is non-zero. Stored bundle hashes are never zero, so a
 * zero entry in the history means "no such version".
 *
 * The patient's slot also holds the nonce of the jobs requested on their records (see
 * `IPredictionJobs-jobNonce`): the slot is non-zero from registration on, so consuming a nonce never pays for a
 * zero to non-zero write.
 */
abstract contract PatientRegistry is Context, IPatientRegistry {
    /**
     * @dev A patient's state, in one slot.
     * @param keyVersion Current key version; 0 when not registered.
     * @param jobNonce Number of jobs requested so far on the patient's records.
     */
    struct PatientState {
        uint32 keyVersion;
        uint64 jobNonce;
    }

    mapping(address patient => PatientState) private _patients;

    /// @dev Key bundle hash of each (patient, version), versions numbered from 1.
    mapping(address patient => mapping(uint32 keyVersion => bytes32)) private _keyBundles;

    /// @inheritdoc IPatientRegistry
    function registerKeys(bytes32 keyBundleHash, string calldata locator) external virtual {
        _registerKeys(_msgSender(), keyBundleHash, locator);
    }

    /// @inheritdoc IPatientRegistry
    function currentKeyBundle(address patient)
        external
        view
        virtual
        returns (bytes32 keyBundleHash, uint32 keyVersion)
    {
        keyVersion = _requirePatient(patient);
        keyBundleHash = _keyBundles[patient][keyVersion];
    }

    /// @inheritdoc IPatientRegistry
    function keyBundleAt(address patient, uint32 keyVersion) external view virtual returns (bytes32 keyBundleHash) {
        keyBundleHash = _keyBundles[patient][keyVersion];
        if (keyBundleHash == bytes32(0)) revert UnknownKeyVersion(patient, keyVersion);
    }

    /**
     * @notice Registers `patient` or rotates them to `keyBundleHash`, creating the next key version.
     * @param patient The patient.
     * @param keyBundleHash The hash of the new key bundle.
     * @param locator Where the bundle can be fetched; emitted only.
     * @return keyVersion The new key version.
     */
    function _registerKeys(address patient, bytes32 keyBundleHash, string calldata locator)
        internal
        virtual
        returns (uint32 keyVersion)
    {
        if (keyBundleHash == bytes32(0)) revert ZeroHash();
        PatientState storage state = _patients[patient];
        uint32 current = state.keyVersion;
        if (current != 0 && _keyBundles[patient][current] == keyBundleHash) revert KeyBundleUnchanged(keyBundleHash);

        keyVersion = current + 1;
        state.keyVersion = keyVersion;
        _keyBundles[patient][keyVersion] = keyBundleHash;

        emit PatientKeysRegistered(patient, keyVersion, keyBundleHash, locator);
    }

    /**
     * @dev Returns the current job nonce of `patient` and increments it. Only called for registered patients
     * (the owners of anchored records), whose slot is already non-zero.
     */
    function _useJobNonce(address patient) internal virtual returns (uint64 nonce) {
        PatientState storage state = _patients[patient];
        nonce = state.jobNonce;
        state.jobNonce = nonce + 1;
    }

    /// @dev The nonce the next job on the records of `patient` will use.
    function _jobNonce(address patient) internal view virtual returns (uint64) {
        return _patients[patient].jobNonce;
    }

    /// @dev Returns the current key version of `patient`; reverts with {PatientNotRegistered} if there is none.
    function _requirePatient(address patient) internal view virtual returns (uint32 keyVersion) {
        keyVersion = _patients[patient].keyVersion;
        if (keyVersion == 0) revert PatientNotRegistered(patient);
    }

    /// @dev Key bundle hash of a version known to exist (0 if it does not).
    function _keyBundle(address patient, uint32 keyVersion) internal view virtual returns (bytes32) {
        return _keyBundles[patient][keyVersion];
    }
}
