// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IModelRegistry
 * @notice Prediction models published by hospitals.
 * @dev The model content (weights, encoding parameters) lives off-chain in a content-addressed blob store.
 * Its hash is the model's identity: it pins one exact version of the model, and a changed model is a new model
 * with a new hash.
 */
interface IModelRegistry is IPMHEErrors {
    /**
     * @notice On-chain data of a published model; fits in a single storage slot.
     * @param publisher The hospital account that published the model.
     * @param publishedAt The block timestamp of the publication.
     */
    struct ModelInfo {
        address publisher;
        uint64 publishedAt;
    }

    /**
     * @notice Emitted when a hospital publishes a model.
     * @param modelHash The hash of the model content.
     * @param publisher The hospital account that published it.
     */
    event ModelPublished(bytes32 indexed modelHash, address indexed publisher);

    /**
     * @notice A model with this hash has already been published.
     * @param modelHash The model hash.
     */
    error ModelAlreadyPublished(bytes32 modelHash);

    /**
     * @notice No model has been published under this hash.
     * @param modelHash The model hash.
     */
    error UnknownModel(bytes32 modelHash);

    /**
     * @notice Publishes a model by the hash of its content. Restricted to accounts with `HOSPITAL_ROLE`.
     * @param modelHash The hash of the model content in the blob store; must be non-zero and not published yet.
     */
    function publishModel(bytes32 modelHash) external;

    /**
     * @notice Returns a published model.
     * @param modelHash The model hash.
     * @return publisher The hospital account that published the model.
     * @return publishedAt The block timestamp of the publication.
     */
    function modelOf(bytes32 modelHash) external view returns (address publisher, uint64 publishedAt);
}
