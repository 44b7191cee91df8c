// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IHospitalRegistry} from "../interfaces/IHospitalRegistry.sol";

/**
 * @title HospitalRegistry
 * @notice Lets governance register hospitals, and hospitals publish the key under which they receive results.
 * @dev A key exists iff it is non-zero. One slot per hospital.
 */
abstract contract HospitalRegistry is PMHERoles, IHospitalRegistry {
    mapping(address hospital => bytes32 encryptionKey) private _hospitalKeys;

    /// @inheritdoc IHospitalRegistry
    function registerHospital(address hospital, bytes32 encryptionKey, string calldata name)
        external
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _registerHospital(hospital, encryptionKey, name);
    }

    /// @inheritdoc IHospitalRegistry
    function setHospitalKey(bytes32 encryptionKey) external virtual onlyRole(HOSPITAL_ROLE) {
        _setHospitalKey(_msgSender(), encryptionKey);
    }

    /// @inheritdoc IHospitalRegistry
    function hospitalKeyOf(address hospital) external view virtual returns (bytes32 encryptionKey) {
        return _requireHospitalKey(hospital);
    }

    /// @dev Grants `HOSPITAL_ROLE` to `hospital` and stores its key. Authorization is the caller's responsibility.
    function _registerHospital(address hospital, bytes32 encryptionKey, string calldata name) internal virtual {
        if (hospital == address(0)) revert ZeroAddress();
        if (encryptionKey == bytes32(0)) revert ZeroKey();
        _hospitalKeys[hospital] = encryptionKey;
        _grantRole(HOSPITAL_ROLE, hospital);

        emit HospitalRegistered(hospital, encryptionKey, name);
    }

    /// @dev Replaces the key of `hospital`. Authorization is the caller's responsibility.
    function _setHospitalKey(address hospital, bytes32 encryptionKey) internal virtual {
        if (encryptionKey == bytes32(0)) revert ZeroKey();
        _hospitalKeys[hospital] = encryptionKey;

        emit HospitalKeyUpdated(hospital, encryptionKey);
    }

    /// @dev The key of `hospital`; reverts with {UnknownHospital} if it never had one.
    function _requireHospitalKey(address hospital) internal view virtual returns (bytes32 encryptionKey) {
        encryptionKey = _hospitalKeys[hospital];
        if (encryptionKey == bytes32(0)) revert UnknownHospital(hospital);
    }
}
