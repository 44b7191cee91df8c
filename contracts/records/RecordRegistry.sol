// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {PatientRegistry} from "../patients/PatientRegistry.sol";

/**
 * @title RecordRegistry
 * @notice Anchors hashes of encrypted patient records, each bound to the key version it is encrypted under.
 * @dev Each record takes one storage slot. A record exists iff its `patient` is non-zero.
 */
abstract contract RecordRegistry is PatientRegistry, IRecordRegistry {
    mapping(bytes32 recordHash => RecordAnchor) private _records;

    /// @inheritdoc IRecordRegistry
    function anchorRecord(bytes32 recordHash) public virtual {
        _anchorRecord(_msgSender(), recordHash);
    }

    /// @inheritdoc IRecordRegistry
    function recordOf(bytes32 recordHash)
        public
        view
        virtual
        returns (address patient, bytes32 keyBundleHash, uint32 keyVersion, uint64 anchoredAt)
    {
        RecordAnchor memory record = _requireRecord(recordHash);
        return (record.patient, _keyBundle(record.patient, record.keyVersion), record.keyVersion, record.anchoredAt);
    }

    /// @dev Anchors `recordHash` for `patient` under the patient's current key version.
    function _anchorRecord(address patient, bytes32 recordHash) internal virtual {
        uint32 keyVersion = _requirePatient(patient);
        if (recordHash == bytes32(0)) revert ZeroHash();
        if (_records[recordHash].patient != address(0)) revert RecordAlreadyAnchored(recordHash);

        _records[recordHash] =
            RecordAnchor({patient: patient, keyVersion: keyVersion, anchoredAt: uint64(block.timestamp)});

        emit RecordAnchored(patient, recordHash, keyVersion, _keyBundle(patient, keyVersion));
    }

    /// @dev Returns the anchor of `recordHash`; reverts with {UnknownRecord} if it was never anchored.
    function _requireRecord(bytes32 recordHash) internal view virtual returns (RecordAnchor memory record) {
        record = _records[recordHash];
        if (record.patient == address(0)) revert UnknownRecord(recordHash);
    }
}
