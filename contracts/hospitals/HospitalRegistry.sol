// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IHospitalRegistry} from "../interfaces/IHospitalRegistry.sol";

/**
 * @title HospitalRegistry
 * @notice Lets governance register hospitals, and hospitals publish the key under which they receive results.
 * @dev A key exists iff its `encryptionKeyHash` is non-zero.
 */
abstract contract HospitalRegistry is PMHERoles, IHospitalRegistry {
    mapping(address hospital => HospitalKey) private _hospitalKeys;

    /// @inheritdoc IHospitalRegistry
    function registerHospital(address hospital, bytes32 encryptionKeyHash, string calldata keyLocator)
        external
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _registerHospital(hospital, encryptionKeyHash, keyLocator);
    }

    /// @inheritdoc IHospitalRegistry
    function setHospitalKey(bytes32 encryptionKeyHash, string calldata keyLocator)
        external
        virtual
        onlyRole(HOSPITAL_ROLE)
    {
        _setHospitalKey(_msgSender(), encryptionKeyHash, keyLocator);
    }

    /// @inheritdoc IHospitalRegistry
    function hospitalKeyOf(address hospital)
        external
        view
        virtual
        returns (bytes32 encryptionKeyHash, string memory keyLocator)
    {
        HospitalKey storage key = _hospitalKeys[hospital];
        encryptionKeyHash = key.encryptionKeyHash;
        if (encryptionKeyHash == bytes32(0)) revert UnknownHospital(hospital);
        keyLocator = key.keyLocator;
    }

    /// @dev Grants `HOSPITAL_ROLE` to `hospital` and stores its key. Authorization is the caller's responsibility.
    function _registerHospital(address hospital, bytes32 encryptionKeyHash, string calldata keyLocator)
        internal
        virtual
    {
        if (hospital == address(0)) revert ZeroAddress();
        _storeHospitalKey(hospital, encryptionKeyHash, keyLocator);
        _grantRole(HOSPITAL_ROLE, hospital);

        emit HospitalRegistered(hospital, encryptionKeyHash, keyLocator);
    }

    /// @dev Replaces the key of `hospital`. Authorization is the caller's responsibility.
    function _setHospitalKey(address hospital, bytes32 encryptionKeyHash, string calldata keyLocator)
        internal
        virtual
    {
        _storeHospitalKey(hospital, encryptionKeyHash, keyLocator);

        emit HospitalKeyUpdated(hospital, encryptionKeyHash, keyLocator);
    }

    /// @dev Stores a non-zero key hash and its locator for `hospital`.
    function _storeHospitalKey(address hospital, bytes32 encryptionKeyHash, string calldata keyLocator) private {
        if (encryptionKeyHash == bytes32(0)) revert ZeroHash();
        _hospitalKeys[hospital] = HospitalKey({encryptionKeyHash: encryptionKeyHash, keyLocator: keyLocator});
    }
}
