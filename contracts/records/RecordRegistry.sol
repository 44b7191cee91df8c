// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {PatientRegistry} from "../patients/PatientRegistry.sol";

/**
 * @title RecordRegistry
 * @notice Anchors hashes of encrypted patient records, one by one or as Merkle batches, each bound to the key
 * version it is encrypted under, and lets their owners flag them as erased.
 * @dev Each record and each batch takes one storage slot; a record or batch exists iff its `patient` is non-zero.
 * A batch's erased flag lives in a separate mapping because the batch slot is full; it is only written on
 * erasure and only read when a prediction is requested on the batch.
 */
abstract contract RecordRegistry is PatientRegistry, IRecordRegistry {
    /// @notice The largest number of records a batch may hold, so that a batch anchor fits in one slot.
    uint32 public constant MAX_BATCH_SIZE = type(uint24).max;

    mapping(bytes32 recordHash => RecordAnchor) private _records;
    mapping(bytes32 root => BatchAnchor) private _batches;
    mapping(bytes32 root => bool) private _erasedBatches;

    /// @inheritdoc IRecordRegistry
    function anchorRecord(bytes32 recordHash) external virtual {
        _anchorRecord(_msgSender(), recordHash);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatch(bytes32 root, uint32 count) external virtual {
        _anchorBatch(_msgSender(), root, count);
    }

    /// @inheritdoc IRecordRegistry
    function eraseRecord(bytes32 recordHash) external virtual {
        _eraseRecord(_msgSender(), recordHash);
    }

    /// @inheritdoc IRecordRegistry
    function eraseBatch(bytes32 root) external virtual {
        _eraseBatch(_msgSender(), root);
    }

    /// @inheritdoc IRecordRegistry
    function recordOf(bytes32 recordHash)
        external
        view
        virtual
        returns (address patient, bytes32 keyBundleHash, uint32 keyVersion, uint64 anchoredAt)
    {
        RecordAnchor memory record = _requireRecord(recordHash);
        return (record.patient, _keyBundle(record.patient, record.keyVersion), record.keyVersion, record.anchoredAt);
    }

    /// @inheritdoc IRecordRegistry
    function isErased(bytes32 recordHash) external view virtual returns (bool erased) {
        return _records[recordHash].erased;
    }

    /// @inheritdoc IRecordRegistry
    function batchOf(bytes32 root)
        external
        view
        virtual
        returns (
            address patient,
            bytes32 keyBundleHash,
            uint32 keyVersion,
            uint32 count,
            uint64 anchoredAt,
            bool erased
        )
    {
        BatchAnchor memory batch = _requireBatch(root);
        return (
            batch.patient,
            _keyBundle(batch.patient, batch.keyVersion),
            batch.keyVersion,
            batch.count,
            batch.anchoredAt,
            _erasedBatches[root]
        );
    }

    /// @inheritdoc IRecordRegistry
    function batchIncludes(bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        virtual
        returns (bool included)
    {
        _requireBatch(root);
        return _batchIncludes(root, recordHash, proof);
    }

    /// @dev Anchors `recordHash` for `patient` under the patient's current key version.
    function _anchorRecord(address patient, bytes32 recordHash) internal virtual {
        uint32 keyVersion = _requirePatient(patient);
        if (recordHash == bytes32(0)) revert ZeroHash();
        if (_records[recordHash].patient != address(0)) revert RecordAlreadyAnchored(recordHash);

        _records[recordHash] = RecordAnchor({
            patient: patient,
            keyVersion: keyVersion,
            anchoredAt: uint40(block.timestamp),
            erased: false
        });

        emit RecordAnchored(patient, recordHash, keyVersion, _keyBundle(patient, keyVersion));
    }

    /// @dev Anchors the batch `root` of `count` records for `patient` under the patient's current key version.
    function _anchorBatch(address patient, bytes32 root, uint32 count) internal virtual {
        uint32 keyVersion = _requirePatient(patient);
        if (root == bytes32(0)) revert ZeroHash();
        if (count == 0 || count > MAX_BATCH_SIZE) revert InvalidBatchSize(count);
        if (_batches[root].patient != address(0)) revert BatchAlreadyAnchored(root);

        _batches[root] = BatchAnchor({
            patient: patient,
            keyVersion: keyVersion,
            anchoredAt: uint40(block.timestamp),
            count: uint24(count)
        });

        emit BatchAnchored(patient, root, count, keyVersion, _keyBundle(patient, keyVersion));
    }

    /// @dev Flags the record `recordHash` of `patient` as erased.
    function _eraseRecord(address patient, bytes32 recordHash) internal virtual {
        RecordAnchor memory record = _requireRecord(recordHash);
        if (record.patient != patient) revert NotRecordOwner(recordHash, patient);
        if (record.erased) revert RecordIsErased(recordHash);

        _records[recordHash].erased = true;

        emit RecordErased(patient, recordHash);
    }

    /// @dev Flags the batch `root` of `patient` as erased.
    function _eraseBatch(address patient, bytes32 root) internal virtual {
        BatchAnchor memory batch = _requireBatch(root);
        if (batch.patient != patient) revert NotRecordOwner(root, patient);
        if (_erasedBatches[root]) revert RecordIsErased(root);

        _erasedBatches[root] = true;

        emit BatchErased(patient, root);
    }

    /// @dev Returns the anchor of `recordHash`; reverts with {UnknownRecord} if it was never anchored.
    function _requireRecord(bytes32 recordHash) internal view virtual returns (RecordAnchor memory record) {
        record = _records[recordHash];
        if (record.patient == address(0)) revert UnknownRecord(recordHash);
    }

    /// @dev Returns the anchor of `root`; reverts with {UnknownBatch} if it was never anchored.
    function _requireBatch(bytes32 root) internal view virtual returns (BatchAnchor memory batch) {
        batch = _batches[root];
        if (batch.patient == address(0)) revert UnknownBatch(root);
    }

    /// @dev Whether the batch `root` has been erased.
    function _isBatchErased(bytes32 root) internal view virtual returns (bool) {
        return _erasedBatches[root];
    }

    /// @dev Owner and key version of an anchor known to exist: the batch `root` if non-zero, else `recordHash`.
    function _anchorOwner(bytes32 recordHash, bytes32 root)
        internal
        view
        virtual
        returns (address patient, uint32 keyVersion)
    {
        if (root == bytes32(0)) {
            RecordAnchor storage record = _records[recordHash];
            return (record.patient, record.keyVersion);
        }
        BatchAnchor storage batch = _batches[root];
        return (batch.patient, batch.keyVersion);
    }

    /// @dev Checks `proof` for the leaf of `recordHash` under `root` (see the interface for the tree format).
    function _batchIncludes(bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        internal
        pure
        virtual
        returns (bool)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(recordHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
