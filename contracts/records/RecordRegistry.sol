// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {PatientRegistry} from "../patients/PatientRegistry.sol";

/**
 * @title RecordRegistry
 * @notice Anchors hashes of encrypted patient records in each patient's own namespace, one by one or as Merkle
 * batches, each bound to the key version it is encrypted under, and lets their owners erase them.
 * @dev Each record and each batch takes one storage slot, keyed by (patient, hash). A record exists iff its
 * `keyVersion` is non-zero (versions start at 1); a batch leaf erased on its own is a slot with `keyVersion` 0
 * and `erased` set, which no route can request and {anchorRecord} refuses.
 */
abstract contract RecordRegistry is PatientRegistry, IRecordRegistry {
    /// @notice The largest number of records a batch may hold, so that a batch anchor fits in one slot.
    uint32 public constant MAX_BATCH_SIZE = type(uint24).max;

    mapping(address patient => mapping(bytes32 recordHash => RecordAnchor)) private _records;
    mapping(address patient => mapping(bytes32 root => BatchAnchor)) private _batches;

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
    function eraseBatchRecord(bytes32 root, bytes32 recordHash, bytes32[] calldata proof) external virtual {
        _eraseBatchRecord(_msgSender(), root, recordHash, proof);
    }

    /// @inheritdoc IRecordRegistry
    function eraseBatch(bytes32 root) external virtual {
        _eraseBatch(_msgSender(), root);
    }

    /// @inheritdoc IRecordRegistry
    function recordOf(address patient, bytes32 recordHash)
        external
        view
        virtual
        returns (bytes32 keyBundleHash, uint32 keyVersion, uint64 anchoredAt, bool erased)
    {
        RecordAnchor memory record = _requireRecord(patient, recordHash);
        return (_keyBundle(patient, record.keyVersion), record.keyVersion, record.anchoredAt, record.erased);
    }

    /// @inheritdoc IRecordRegistry
    function isErased(address patient, bytes32 recordHash) external view virtual returns (bool erased) {
        return _records[patient][recordHash].erased;
    }

    /// @inheritdoc IRecordRegistry
    function batchOf(address patient, bytes32 root)
        external
        view
        virtual
        returns (bytes32 keyBundleHash, uint32 keyVersion, uint32 count, uint64 anchoredAt, bool erased)
    {
        BatchAnchor memory batch = _requireBatch(patient, root);
        return (_keyBundle(patient, batch.keyVersion), batch.keyVersion, batch.count, batch.anchoredAt, batch.erased);
    }

    /// @inheritdoc IRecordRegistry
    function batchIncludes(address patient, bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        virtual
        returns (bool included)
    {
        _requireBatch(patient, root);
        return _batchIncludes(root, recordHash, proof);
    }

    /// @dev Anchors `recordHash` in the namespace of `patient` under the patient's current key version.
    function _anchorRecord(address patient, bytes32 recordHash) internal virtual {
        uint32 keyVersion = _requirePatient(patient);
        if (recordHash == bytes32(0)) revert ZeroHash();
        RecordAnchor storage record = _records[patient][recordHash];
        if (record.erased) revert RecordIsErased(recordHash);
        if (record.keyVersion != 0) revert RecordAlreadyAnchored(recordHash);

        _records[patient][recordHash] =
            RecordAnchor({keyVersion: keyVersion, anchoredAt: uint40(block.timestamp), erased: false});

        emit RecordAnchored(patient, recordHash, keyVersion, _keyBundle(patient, keyVersion));
    }

    /// @dev Anchors the batch `root` of `count` records for `patient` under the patient's current key version.
    function _anchorBatch(address patient, bytes32 root, uint32 count) internal virtual {
        uint32 keyVersion = _requirePatient(patient);
        if (root == bytes32(0)) revert ZeroHash();
        if (count == 0 || count > MAX_BATCH_SIZE) revert InvalidBatchSize(count);
        if (_batches[patient][root].keyVersion != 0) revert BatchAlreadyAnchored(root);

        _batches[patient][root] = BatchAnchor({
            keyVersion: keyVersion,
            anchoredAt: uint40(block.timestamp),
            count: uint24(count),
            erased: false
        });

        emit BatchAnchored(patient, root, count, keyVersion, _keyBundle(patient, keyVersion));
    }

    /// @dev Flags the record `recordHash` that `patient` anchored on its own as erased.
    function _eraseRecord(address patient, bytes32 recordHash) internal virtual {
        RecordAnchor memory record = _requireRecord(patient, recordHash);
        if (record.erased) revert RecordIsErased(recordHash);

        _records[patient][recordHash].erased = true;

        emit RecordErased(patient, recordHash);
    }

    /// @dev Flags the leaf `recordHash` of the batch `root` of `patient` as erased.
    function _eraseBatchRecord(address patient, bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        internal
        virtual
    {
        _requireBatch(patient, root);
        if (!_batchIncludes(root, recordHash, proof)) revert InvalidProof(root, recordHash);
        RecordAnchor storage record = _records[patient][recordHash];
        if (record.erased) revert RecordIsErased(recordHash);

        record.erased = true;

        emit RecordErased(patient, recordHash);
    }

    /// @dev Flags the batch `root` of `patient` as erased.
    function _eraseBatch(address patient, bytes32 root) internal virtual {
        BatchAnchor memory batch = _requireBatch(patient, root);
        if (batch.erased) revert RecordIsErased(root);

        _batches[patient][root].erased = true;

        emit BatchErased(patient, root);
    }

    /// @dev The anchor of `recordHash` in the namespace of `patient`; reverts with {UnknownRecord} if there is none.
    function _requireRecord(address patient, bytes32 recordHash)
        internal
        view
        virtual
        returns (RecordAnchor memory record)
    {
        record = _records[patient][recordHash];
        if (record.keyVersion == 0) revert UnknownRecord(patient, recordHash);
    }

    /// @dev The anchor of `root` in the namespace of `patient`; reverts with {UnknownBatch} if there is none.
    function _requireBatch(address patient, bytes32 root) internal view virtual returns (BatchAnchor memory batch) {
        batch = _batches[patient][root];
        if (batch.keyVersion == 0) revert UnknownBatch(patient, root);
    }

    /// @dev Whether `patient` erased `recordHash` on its own or as a batch leaf.
    function _isRecordErased(address patient, bytes32 recordHash) internal view virtual returns (bool) {
        return _records[patient][recordHash].erased;
    }

    /// @dev Key version of an anchor known to exist: the batch `root` if non-zero, else the record `recordHash`.
    function _anchorKeyVersion(address patient, bytes32 recordHash, bytes32 root)
        internal
        view
        virtual
        returns (uint32)
    {
        return root == bytes32(0) ? _records[patient][recordHash].keyVersion : _batches[patient][root].keyVersion;
    }

    /// @dev Whether the patient erased the record, or the batch `root` holding it (0 for a record on its own).
    function _anchorErased(address patient, bytes32 recordHash, bytes32 root) internal view virtual returns (bool) {
        return _records[patient][recordHash].erased || (root != bytes32(0) && _batches[patient][root].erased);
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
