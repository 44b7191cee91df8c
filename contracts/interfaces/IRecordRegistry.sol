// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IRecordRegistry
 * @notice Anchors of encrypted patient records, one by one or in batches, and their erasure.
 * @dev A record is a CKKS ciphertext of a patient's features, stored off-chain in a content-addressed blob store.
 * Anchoring it pins its hash on-chain together with the key version it was encrypted under.
 *
 * A batch anchors many records at a fixed cost: its root is the root of a Merkle tree over the record hashes,
 * with OpenZeppelin's `StandardMerkleTree` conventions (the shared implementation is `protocol/merkle.ts`):
 *  - leaf = `keccak256(bytes.concat(keccak256(abi.encode(recordHash))))`; hashing twice makes a leaf a hash of 32
 *    bytes while inner nodes are hashes of 64 bytes, so an inner node can never be passed off as a record;
 *  - inner node = `keccak256` of its two children in ascending order (sorted pairs), so a proof is just the list
 *    of sibling hashes from the leaf up, checked with {MerkleProof-verify}.
 *
 * Erasure: the patient deletes the blob off-chain and flags the anchor as erased. The hash stays, so past jobs
 * and results remain auditable, but no new prediction can be requested on it.
 */
interface IRecordRegistry is IPMHEErrors {
    /**
     * @notice On-chain data of an anchored record; fits in a single storage slot.
     * @param patient The patient who anchored the record.
     * @param keyVersion The patient's key version when the record was anchored (the keys it is encrypted under).
     * @param anchoredAt The block timestamp of the anchoring.
     * @param erased Whether the patient has erased the record.
     */
    struct RecordAnchor {
        address patient;
        uint32 keyVersion;
        uint40 anchoredAt;
        bool erased;
    }

    /**
     * @notice On-chain data of an anchored batch; fits in a single storage slot (its erased flag is kept apart).
     * @param patient The patient who anchored the batch.
     * @param keyVersion The patient's key version when the batch was anchored (the keys all its records use).
     * @param anchoredAt The block timestamp of the anchoring.
     * @param count The number of record hashes under the root, at most `MAX_BATCH_SIZE` (`2**24 - 1`).
     */
    struct BatchAnchor {
        address patient;
        uint32 keyVersion;
        uint40 anchoredAt;
        uint24 count;
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
     * @notice Emitted when a patient erases one of their records.
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
     * @notice The record hash has already been anchored (by this or another patient).
     * @param recordHash The record hash.
     */
    error RecordAlreadyAnchored(bytes32 recordHash);

    /**
     * @notice No record has been anchored under this hash.
     * @param recordHash The record hash.
     */
    error UnknownRecord(bytes32 recordHash);

    /**
     * @notice The batch root has already been anchored (by this or another patient).
     * @param root The batch root.
     */
    error BatchAlreadyAnchored(bytes32 root);

    /**
     * @notice No batch has been anchored under this root.
     * @param root The batch root.
     */
    error UnknownBatch(bytes32 root);

    /**
     * @notice A batch size outside `1..MAX_BATCH_SIZE`.
     * @param count The invalid size.
     */
    error InvalidBatchSize(uint32 count);

    /**
     * @notice The caller does not own the record or batch.
     * @param recordHash The record hash, or the batch root.
     * @param caller The caller.
     */
    error NotRecordOwner(bytes32 recordHash, address caller);

    /**
     * @notice The record or batch has been erased.
     * @param recordHash The record hash, or the batch root.
     */
    error RecordIsErased(bytes32 recordHash);

    /**
     * @notice Anchors the hash of an encrypted record owned by the caller.
     * @dev The caller must be a registered patient. The record is bound to the caller's current key version.
     * @param recordHash The hash of the encrypted record; must be non-zero and not anchored yet.
     */
    function anchorRecord(bytes32 recordHash) external;

    /**
     * @notice Anchors a batch of the caller's encrypted records by the Merkle root over their hashes.
     * @dev The caller must be a registered patient; every record of the batch is bound to the caller's current key
     * version. Costs the same whatever `count` is. `count` is informational (the tree cannot prove it) and lets
     * readers size the batch; a record is proven to belong to the batch with {batchIncludes}.
     * @param root The Merkle root over the record hashes, see the contract-level documentation; must be non-zero
     * and not anchored yet.
     * @param count The number of record hashes under the root, from 1 to `MAX_BATCH_SIZE` (`2**24 - 1`).
     */
    function anchorBatch(bytes32 root, uint32 count) external;

    /**
     * @notice Flags one of the caller's records as erased, after its blob has been deleted off-chain.
     * @dev The hash and its anchor data stay readable through {recordOf}; no new job can be requested on it.
     * Jobs requested before are unaffected on-chain.
     * @param recordHash The hash of a record anchored by the caller and not erased yet.
     */
    function eraseRecord(bytes32 recordHash) external;

    /**
     * @notice Flags one of the caller's batches as erased, after its blobs have been deleted off-chain.
     * @dev As {eraseRecord}, for every record of the batch.
     * @param root The root of a batch anchored by the caller and not erased yet.
     */
    function eraseBatch(bytes32 root) external;

    /**
     * @notice Returns an anchored record, erased or not.
     * @param recordHash The record hash.
     * @return patient The patient who owns the record.
     * @return keyBundleHash The hash of the key bundle the record is encrypted under.
     * @return keyVersion The version of that key bundle.
     * @return anchoredAt The block timestamp of the anchoring.
     */
    function recordOf(bytes32 recordHash)
        external
        view
        returns (address patient, bytes32 keyBundleHash, uint32 keyVersion, uint64 anchoredAt);

    /**
     * @notice Returns whether a record anchored on its own has been erased.
     * @param recordHash The record hash.
     * @return erased True if the record was anchored with {anchorRecord} and then erased; false otherwise,
     * including for hashes never anchored.
     */
    function isErased(bytes32 recordHash) external view returns (bool erased);

    /**
     * @notice Returns an anchored batch.
     * @param root The batch root.
     * @return patient The patient who owns the batch.
     * @return keyBundleHash The hash of the key bundle the batch's records are encrypted under.
     * @return keyVersion The version of that key bundle.
     * @return count The number of record hashes under the root.
     * @return anchoredAt The block timestamp of the anchoring.
     * @return erased Whether the patient has erased the batch.
     */
    function batchOf(bytes32 root)
        external
        view
        returns (
            address patient,
            bytes32 keyBundleHash,
            uint32 keyVersion,
            uint32 count,
            uint64 anchoredAt,
            bool erased
        );

    /**
     * @notice Checks a Merkle proof that `recordHash` belongs to the anchored batch `root`.
     * @dev Reverts with {UnknownBatch} if `root` was never anchored. Erased batches still answer, so past jobs
     * stay verifiable.
     * @param root The root of an anchored batch.
     * @param recordHash The record hash.
     * @param proof The sibling hashes from the record's leaf up to the root.
     * @return included True if the proof is valid.
     */
    function batchIncludes(bytes32 root, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool included);
}
