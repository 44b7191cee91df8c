// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IModelRegistry
 * @notice Prediction models published by hospitals, versioned per (publisher, name).
 * @dev Only a model's content hash and a locator are put on-chain; its content (weights, standardisation, feature
 * schema, encoding parameters) stays off-chain. That content is kilobytes of floats, and storing it would cost
 * about 20k gas per 32 bytes, while nothing on-chain computes with it. The content hash pins the exact bytes:
 * every reader (coprocessor, patient, auditor) verifies the fetched bytes against it, and a changed model is a new
 * model with a new hash. The locator only says where to fetch the bytes, so it is emitted rather than stored.
 *
 * Identity. A model is identified by its publisher and its content: `modelId = keccak256(abi.encode(publisher,
 * modelHash))` ({computeModelId}). Two hospitals publishing the same bytes get two models, so no hospital can
 * squat another's model (publish its hash first) or deprecate it. Jobs name the model id.
 *
 * Name and version make the history readable: {ModelPublished} maps each id to them, and versions of a
 * (publisher, name) pair go 1, 2, 3... without gaps. A model can serve new jobs while it is not deprecated and its
 * publisher still holds `HOSPITAL_ROLE`: revoking a hospital retires all its models at once.
 */
interface IModelRegistry is IPMHEErrors {
    /**
     * @notice On-chain data of a published model; fits in a single storage slot (the content hash is kept apart).
     * @param publisher The hospital account that published the model.
     * @param version The model's version within its (publisher, name) series.
     * @param publishedAt The block timestamp of the publication.
     * @param deprecated Whether the publisher has deprecated the model.
     */
    struct ModelInfo {
        address publisher;
        uint32 version;
        uint40 publishedAt;
        bool deprecated;
    }

    /**
     * @notice Emitted when a hospital publishes a model.
     * @param modelId The model's id, `keccak256(abi.encode(publisher, modelHash))`.
     * @param publisher The hospital account that published it.
     * @param modelHash The hash of the model content.
     * @param name The model's name; versions are numbered per (publisher, name).
     * @param version The model's version.
     * @param locator Where the model content can be fetched (for example a blob-store URL).
     */
    event ModelPublished(
        bytes32 indexed modelId,
        address indexed publisher,
        bytes32 indexed modelHash,
        string name,
        uint32 version,
        string locator
    );

    /**
     * @notice Emitted when a publisher deprecates one of its models.
     * @param modelId The id of the deprecated model.
     * @param publisher The hospital account that published it.
     */
    event ModelDeprecated(bytes32 indexed modelId, address indexed publisher);

    /**
     * @notice The caller has already published a model with this content.
     * @param modelId The id of that model.
     */
    error ModelAlreadyPublished(bytes32 modelId);

    /**
     * @notice No model has been published under this id.
     * @param modelId The model id.
     */
    error UnknownModel(bytes32 modelId);

    /**
     * @notice The version is not the next one of the publisher's series for this name.
     * @param name The model name.
     * @param expected The only version that can be published next (latest + 1).
     * @param given The version that was given.
     */
    error ModelVersionNotNext(string name, uint32 expected, uint32 given);

    /**
     * @notice The caller did not publish this model.
     * @param modelId The model id.
     * @param caller The caller.
     */
    error NotModelPublisher(bytes32 modelId, address caller);

    /**
     * @notice The model has been deprecated.
     * @param modelId The model id.
     */
    error ModelIsDeprecated(bytes32 modelId);

    /**
     * @notice The model's publisher no longer holds `HOSPITAL_ROLE`, so its models take no new jobs.
     * @param modelId The model id.
     * @param publisher The revoked publisher.
     */
    error ModelPublisherRevoked(bytes32 modelId, address publisher);

    /**
     * @notice Publishes a model by the hash of its content. Restricted to accounts with `HOSPITAL_ROLE`.
     * @param modelHash The hash of the model content in the blob store; must be non-zero and not yet published by
     * the caller.
     * @param name The model's name; versions are numbered per (caller, name).
     * @param version Must be exactly `latestModelVersion(caller, name) + 1` (so 1 for a new name).
     * @param locator Where the model content can be fetched; emitted, not stored.
     * @return modelId The new model's id, `computeModelId(caller, modelHash)`.
     */
    function publishModel(bytes32 modelHash, string calldata name, uint32 version, string calldata locator)
        external
        returns (bytes32 modelId);

    /**
     * @notice Deprecates a model: no new job can be requested with it. Restricted to the model's publisher.
     * @dev Jobs already requested are unaffected. Deprecation is final; publish a new version instead.
     * @param modelId The id of a model published by the caller and not deprecated yet.
     */
    function deprecateModel(bytes32 modelId) external;

    /**
     * @notice Returns a published model.
     * @param modelId The model id.
     * @return publisher The hospital account that published the model.
     * @return modelHash The hash of the model content.
     * @return version The model's version within its (publisher, name) series.
     * @return deprecated Whether the model has been deprecated.
     * @return publishedAt The block timestamp of the publication.
     */
    function modelOf(bytes32 modelId)
        external
        view
        returns (address publisher, bytes32 modelHash, uint32 version, bool deprecated, uint64 publishedAt);

    /**
     * @notice Returns the id a model of `publisher` with content hash `modelHash` has (or would have).
     * @param publisher The hospital account.
     * @param modelHash The hash of the model content.
     * @return modelId `keccak256(abi.encode(publisher, modelHash))`.
     */
    function computeModelId(address publisher, bytes32 modelHash) external pure returns (bytes32 modelId);

    /**
     * @notice Returns the latest version a publisher has published under a name.
     * @param publisher The hospital account.
     * @param name The model name.
     * @return version The latest version, 0 if none.
     */
    function latestModelVersion(address publisher, string calldata name) external view returns (uint32 version);
}
