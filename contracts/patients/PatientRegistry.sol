// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IPatientRegistry} from "../interfaces/IPatientRegistry.sol";

/**
 * @title PatientRegistry
 * @notice Registers patients and keeps the full history of their key bundle hashes.
 * @dev A patient is registered once their current version is non-zero. Stored bundle hashes are never zero, so a
 * zero entry in the history means "no such version".
 */
abstract contract PatientRegistry is Context, IPatientRegistry {
    /// @dev Current key version of each patient; 0 when not registered.
    mapping(address patient => uint32) private _currentKeyVersion;

    /// @dev Key bundle hash of each (patient, version), versions numbered from 1.
    mapping(address patient => mapping(uint32 keyVersion => bytes32)) private _keyBundles;

    /// @inheritdoc IPatientRegistry
    function registerKeys(bytes32 keyBundleHash) public virtual {
        _registerKeys(_msgSender(), keyBundleHash);
    }

    /// @inheritdoc IPatientRegistry
    function currentKeyBundle(address patient) public view virtual returns (bytes32 keyBundleHash, uint32 keyVersion) {
        keyVersion = _requirePatient(patient);
        keyBundleHash = _keyBundles[patient][keyVersion];
    }

    /// @inheritdoc IPatientRegistry
    function keyBundleAt(address patient, uint32 keyVersion) public view virtual returns (bytes32 keyBundleHash) {
        keyBundleHash = _keyBundles[patient][keyVersion];
        if (keyBundleHash == bytes32(0)) revert UnknownKeyVersion(patient, keyVersion);
    }

    /**
     * @dev Registers `patient` or rotates them to `keyBundleHash`, creating the next key version.
     * @return keyVersion The new key version.
     */
    function _registerKeys(address patient, bytes32 keyBundleHash) internal virtual returns (uint32 keyVersion) {
        if (keyBundleHash == bytes32(0)) revert ZeroHash();
        uint32 current = _currentKeyVersion[patient];
        if (current != 0 && _keyBundles[patient][current] == keyBundleHash) revert KeyBundleUnchanged(keyBundleHash);

        keyVersion = current + 1;
        _currentKeyVersion[patient] = keyVersion;
        _keyBundles[patient][keyVersion] = keyBundleHash;

        emit PatientKeysRegistered(patient, keyVersion, keyBundleHash);
    }

    /// @dev Returns the current key version of `patient`; reverts with {PatientNotRegistered} if there is none.
    function _requirePatient(address patient) internal view virtual returns (uint32 keyVersion) {
        keyVersion = _currentKeyVersion[patient];
        if (keyVersion == 0) revert PatientNotRegistered(patient);
    }

    /// @dev Key bundle hash of a version known to exist (0 if it does not).
    function _keyBundle(address patient, uint32 keyVersion) internal view virtual returns (bytes32) {
        return _keyBundles[patient][keyVersion];
    }
}
