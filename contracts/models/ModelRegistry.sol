// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/**
 * @title ModelRegistry
 * @notice Lets hospitals publish prediction models by content hash, in numbered versions, and deprecate them.
 * @dev Models are keyed by id, `keccak256(abi.encode(publisher, modelHash))`, so each publisher has its own
 * namespace. Name and locator are emitted (see {IModelRegistry} for why the content stays off-chain). Each model
 * takes two storage slots: its info, and its content hash for the coprocessors that fetch it.
 */
abstract contract ModelRegistry is PMHERoles, IModelRegistry {
    mapping(bytes32 modelId => ModelInfo) private _models;
    mapping(bytes32 modelId => bytes32 modelHash) private _modelHashes;

    /// @dev Latest version per publisher and `keccak256(bytes(name))`.
    mapping(address publisher => mapping(bytes32 nameHash => uint32)) private _latestVersions;

    /// @inheritdoc IModelRegistry
    function publishModel(bytes32 modelHash, string calldata name, uint32 version, string calldata locator)
        external
        virtual
        onlyRole(HOSPITAL_ROLE)
        returns (bytes32 modelId)
    {
        return _publishModel(_msgSender(), modelHash, name, version, locator);
    }

    /// @inheritdoc IModelRegistry
    function deprecateModel(bytes32 modelId) external virtual {
        _deprecateModel(_msgSender(), modelId);
    }

    /// @inheritdoc IModelRegistry
    function modelOf(bytes32 modelId)
        external
        view
        virtual
        returns (address publisher, bytes32 modelHash, uint32 version, bool deprecated, uint64 publishedAt)
    {
        ModelInfo memory model = _requireModel(modelId);
        return (model.publisher, _modelHashes[modelId], model.version, model.deprecated, model.publishedAt);
    }

    /// @inheritdoc IModelRegistry
    function computeModelId(address publisher, bytes32 modelHash) external pure virtual returns (bytes32) {
        return _computeModelId(publisher, modelHash);
    }

    /// @inheritdoc IModelRegistry
    function latestModelVersion(address publisher, string calldata name) external view virtual returns (uint32) {
        return _latestVersions[publisher][keccak256(bytes(name))];
    }

    /// @dev Records `modelHash` as version `version` of `name` by `publisher`. Authorization is the caller's
    /// responsibility.
    function _publishModel(
        address publisher,
        bytes32 modelHash,
        string calldata name,
        uint32 version,
        string calldata locator
    ) internal virtual returns (bytes32 modelId) {
        if (modelHash == bytes32(0)) revert ZeroHash();
        modelId = _computeModelId(publisher, modelHash);
        if (_models[modelId].publisher != address(0)) revert ModelAlreadyPublished(modelId);
        bytes32 nameHash = keccak256(bytes(name));
        uint32 expected = _latestVersions[publisher][nameHash] + 1;
        if (version != expected) revert ModelVersionNotNext(name, expected, version);

        _latestVersions[publisher][nameHash] = version;
        _models[modelId] = ModelInfo({
            publisher: publisher,
            version: version,
            publishedAt: uint40(block.timestamp),
            deprecated: false
        });
        _modelHashes[modelId] = modelHash;

        emit ModelPublished(modelId, publisher, modelHash, name, version, locator);
    }

    /// @dev Deprecates `modelId`, which `publisher` must have published.
    function _deprecateModel(address publisher, bytes32 modelId) internal virtual {
        ModelInfo memory model = _requireModel(modelId);
        if (model.publisher != publisher) revert NotModelPublisher(modelId, publisher);
        if (model.deprecated) revert ModelIsDeprecated(modelId);

        _models[modelId].deprecated = true;

        emit ModelDeprecated(modelId, publisher);
    }

    /// @dev Returns the model `modelId`; reverts with {UnknownModel} if it was never published.
    function _requireModel(bytes32 modelId) internal view virtual returns (ModelInfo memory model) {
        model = _models[modelId];
        if (model.publisher == address(0)) revert UnknownModel(modelId);
    }

    /**
     * @dev Reverts with {UnknownModel}, {ModelIsDeprecated} or {ModelPublisherRevoked} unless `modelId` can be used
     * for a new job.
     */
    function _requireUsableModel(bytes32 modelId) internal view virtual {
        ModelInfo memory model = _requireModel(modelId);
        if (model.deprecated) revert ModelIsDeprecated(modelId);
        if (!hasRole(HOSPITAL_ROLE, model.publisher)) revert ModelPublisherRevoked(modelId, model.publisher);
    }

    /// @dev The content hash of a model known to exist.
    function _modelHash(bytes32 modelId) internal view virtual returns (bytes32) {
        return _modelHashes[modelId];
    }

    /// @dev `keccak256(abi.encode(publisher, modelHash))`.
    function _computeModelId(address publisher, bytes32 modelHash) internal pure virtual returns (bytes32) {
        return keccak256(abi.encode(publisher, modelHash));
    }
}
