// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IRecordRegistry
 * @notice Anchors of encrypted patient records.
 * @dev A record is a CKKS ciphertext of a patient's features, stored off-chain in a content-addressed blob store.
 * Anchoring it pins its hash on-chain together with the key version it was encrypted under.
 */
interface IRecordRegistry is IPMHEErrors {
    /**
     * @notice On-chain data of an anchored record; fits in a single storage slot.
     * @param patient The patient who anchored the record.
     * @param keyVersion The patient's key version when the record was anchored (the keys it is encrypted under).
     * @param anchoredAt The block timestamp of the anchoring.
     */
    struct RecordAnchor {
        address patient;
        uint32 keyVersion;
        uint64 anchoredAt;
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
     * @notice Anchors the hash of an encrypted record owned by the caller.
     * @dev The caller must be a registered patient. The record is bound to the caller's current key version.
     * @param recordHash The hash of the encrypted record; must be non-zero and not anchored yet.
     */
    function anchorRecord(bytes32 recordHash) external;

    /**
     * @notice Returns an anchored record.
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
}
