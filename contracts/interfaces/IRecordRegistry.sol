// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IRecordRegistry
 * @notice Anchors of encrypted patient records, one by one or in batches, and their erasure.
 * @dev A record is a CKKS ciphertext of a patient's features, stored off-chain in a content-addressed blob store.
 * Anchoring it pins its hash on-chain together with the key version it was encrypted under.
 *
 * Ownership. Anchors live in the anchoring patient's own namespace: a record is identified by (patient, hash) and
 * a batch by (patient, root). Nobody can anchor a hash in another patient's namespace, so anchoring a victim's
 * hash first blocks nothing, and a copy anchored elsewhere belongs to whoever anchored it, whose consents alone
 * govern it. The record blob itself names its patient and key bundle in its header (`protocol/fhe`), which the
 * blob store checks against the uploader and the coprocessor against the job, so a ciphertext re-wrapped under
 * another patient's name is refused off-chain as well.
 *
 * A batch anchors many records at a fixed cost: its root is the root of a Merkle tree over the record hashes
 * (the shared implementation is `protocol/merkle.ts`):
 *  - leaf = `keccak256(bytes.concat(keccak256(abi.encode(recordHash))))`; hashing twice makes a leaf a hash of 32
 *    bytes while inner nodes are hashes of 64 bytes, so an inner node can never be passed off as a record;
 *  - inner node = `keccak256` of its two children in ascending order (sorted pairs), so a proof is just the list
 *    of sibling hashes from the leaf up, checked with {MerkleProof-verify}.
 *
 * Erasure: the patient flags the record (or batch, or one record of a batch) as erased; coprocessors delete the
 * blob when they see the event. The hash stays, so past jobs and results remain auditable, but no new prediction
 * can be requested on it by any route: an erased record is refused whether it is requested on its own or as a
 * leaf of a batch, and an erased batch refuses all its leaves.
 */
interface IRecordRegistry is IPMHEErrors {
    /**
     * @notice On-chain data of a record in a patient's namespace; fits in a single storage slot.
     * @param keyVersion The patient's key version when the record was anchored (the keys it is encrypted under);
     * 0 for a batch leaf that was erased without being anchored on its own.
     * @param anchoredAt The block timestamp of the anchoring (0 for such an erased leaf).
     * @param erased Whether the patient has erased the record.
     */
    struct RecordAnchor {
        uint32 keyVersion;
        uint40 anchoredAt;
        bool erased;
    }

    /**
     * @notice On-chain data of a batch in a patient's namespace; fits in a single storage slot.
     * @param keyVersion The patient's key version when the batch was anchored (the keys all its records use).
     * @param anchoredAt The block timestamp of the anchoring.
     * @param count The number of record hashes under the root, at most `MAX_BATCH_SIZE` (`2**24 - 1`).
     * @param erased Whether the patient has erased the batch.
     */
    struct BatchAnchor {
        uint32 keyVersion;
        uint40 anchoredAt;
        uint24 count;
        bool erased;
    }

    /**
     * @notice Emitted when a patient anchors a record.
     * @param patient The patient who owns the record.
     * @param recordHash The hash of the encrypted record.
     * @param keyVersion The patient's key version the record is encrypted under.
     * @param keyBundleHash The hash of that key bundle.
     */
    event RecordAnchored(address indexed patient, bytes32 indexed recordHash, uint32 keyVersion, bytes32 keyBundleHash);

    /**
     * @notice Emitted when a patient anchors a batch of records.
     * @param patient The patient who owns the batch.
     * @param root The Merkle root over the batch's record hashes.
     * @param count The number of record hashes under the root.
     * @param keyVersion The patient's key version all the batch's records are encrypted under.
     * @param keyBundleHash The hash of that key bundle.
     */
    event BatchAnchored(
        address indexed patient, bytes32 indexed root, uint32 count, uint32 keyVersion, bytes32 keyBundleHash
    );

    /**
     * @notice Emitted when a patient erases one of their records, anchored on its own or as a leaf of a batch.
     * Coprocessors delete the record's blob when they see it.
     * @param patient The patient who owns the record.
     * @param recordHash The hash of the erased record.
     */
    event RecordErased(address indexed patient, bytes32 indexed recordHash);

    /**
     * @notice Emitted when a patient erases one of their batches (all its records).
     * @param patient The patient who owns the batch.
     * @param root The root of the erased batch.
     */
    event BatchErased(address indexed patient, bytes32 indexed root);

    /**
     * @notice The caller has already anchored this record hash.
     * @param recordHash The record hash.
     */
    error RecordAlreadyAnchored(bytes32 recordHash);

    /**
     * @notice The patient has not anchored a record under this hash.
     * @param patient The patient.
     * @param recordHash The record hash.
     */
    error UnknownRecord(address patient, bytes32 recordHash);

    /**
     * @notice The caller has already anchored this batch root.
     * @param root The batch root.
     */
    error BatchAlreadyAnchored(bytes32 root);

    /**
     * @notice The patient has not anchored a batch under this root.
     * @param patient The patient.
     * @param root The batch root.
     */
    error UnknownBatch(address patient, bytes32 root);

    /**
     * @notice A batch size outside `1..MAX_BATCH_SIZE`.
     * @param count The invalid size.
     */
    error InvalidBatchSize(uint32 count);

    /**
     * @notice The Merkle proof does not show that the record belongs to the batch.
     * @param root The batch root.
     * @param recordHash The record hash.
     */
    error InvalidProof(bytes32 root, bytes32 recordHash);

    /**
     * @notice The record or batch has been erased.
     * @param recordHash The record hash, or the batch root.
     */
    error RecordIsErased(bytes32 recordHash);

    /**
     * @notice Anchors the hash of an encrypted record in the caller's namespace.
     * @dev The caller must be a registered patient. The record is bound to the caller's current key version.
     * @param recordHash The hash of the encrypted record; must be non-zero, not anchored by the caller yet and
     * not erased by the caller.
     */
    function anchorRecord(bytes32 recordHash) external;

    /**
     * @notice Anchors a batch of the caller's encrypted records by the Merkle root over their hashes.
     * @dev The caller must be a registered patient; every record of the batch is bound to the caller's current key
     * version. Costs the same whatever `count` is. `count` is informational (the tree cannot prove it) and lets
     * readers size the batch; a record is proven to belong to the batch with {batchIncludes}.
     * @param root The Merkle root over the record hashes, see the contract-level documentation; must be non-zero
     * and not anchored by the caller yet.
     * @param count The number of record hashes under the root, from 1 to `MAX_BATCH_SIZE` (`2**24 - 1`).
     */
    function anchorBatch(bytes32 root, uint32 count) external;

    /**
     * @notice Flags one of the caller's records, anchored on its own, as erased.
     * @dev The anchor stays readable through {recordOf}; no new job can be requested on it by any route. Jobs
     * requested before are failed by the coprocessors with the reason `RecordErased` if still pending.
     * @param recordHash The hash of a record anchored by the caller and not erased yet.
     */
    function eraseRecord(bytes32 recordHash) external;

    /**
     * @notice Flags one record of one of the caller's batches as erased, leaving the batch's other records usable.
     * @param root The root of a batch anchored by the caller.
     * @param recordHash The hash of a record of that batch, not erased yet.
     * @param proof The Merkle proof of `recordHash` under `root`.
     */
    function eraseBatchRecord(bytes32 root, bytes32 recordHash, bytes32[] calldata proof) external;

    /**
     * @notice Flags one of the caller's batches as erased: none of its records can be requested any more.
     * @param root The root of a batch anchored by the caller and not erased yet.
     */
    function eraseBatch(bytes32 root) external;

    /**
     * @notice Returns a record anchored by a patient on its own, erased or not.
     * @param patient The patient.
     * @param recordHash The record hash.
     * @return keyBundleHash The hash of the key bundle the record is encrypted under.
     * @return keyVersion The version of that key bundle.
     * @return anchoredAt The block timestamp of the anchoring.
     * @return erased Whether the patient has erased the record.
     */
    function recordOf(address patient, bytes32 recordHash)
        external
        view
        returns (bytes32 keyBundleHash, uint32 keyVersion, uint64 anchoredAt, bool erased);

    /**
     * @notice Returns whether a patient has erased a record, anchored on its own or as a leaf of a batch.
     * @param patient The patient.
     * @param recordHash The record hash.
     * @return erased True if erased with {eraseRecord} or {eraseBatchRecord}; false otherwise, including for
     * hashes never anchored. A record of an erased batch is refused through the batch's own flag, see {batchOf}.
     */
    function isErased(address patient, bytes32 recordHash) external view returns (bool erased);

    /**
     * @notice Returns a batch anchored by a patient.
     * @param patient The patient.
     * @param root The batch root.
     * @return keyBundleHash The hash of the key bundle the batch's records are encrypted under.
     * @return keyVersion The version of that key bundle.
     * @return count The number of record hashes under the root.
     * @return anchoredAt The block timestamp of the anchoring.
     * @return erased Whether the patient has erased the batch.
     */
    function batchOf(address patient, bytes32 root)
        external
        view
        returns (bytes32 keyBundleHash, uint32 keyVersion, uint32 count, uint64 anchoredAt, bool erased);

    /**
     * @notice Checks a Merkle proof that `recordHash` belongs to a patient's anchored batch `root`.
     * @dev Reverts with {UnknownBatch} if the patient never anchored `root`. Erased batches still answer, so past
     * jobs stay verifiable.
     * @param patient The patient.
     * @param root The root of a batch anchored by `patient`.
     * @param recordHash The record hash.
     * @param proof The sibling hashes from the record's leaf up to the root.
     * @return included True if the proof is valid.
     */
    function batchIncludes(address patient, bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool included);
}
