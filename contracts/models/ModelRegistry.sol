// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/**
 * @title ModelRegistry
 * @notice Lets hospitals publish prediction models by content hash, in numbered versions, and deprecate them.
 * @dev Only the hash and the version data are stored; name and locator are emitted (see {IModelRegistry} for why
 * the content stays off-chain). Each model takes one storage slot; a model exists iff its `publisher` is non-zero.
 */
abstract contract ModelRegistry is PMHERoles, IModelRegistry {
    mapping(bytes32 modelHash => ModelInfo) private _models;

    /// @dev Latest version per publisher and `keccak256(bytes(name))`.
    mapping(address publisher => mapping(bytes32 nameHash => uint32)) private _latestVersions;

    /// @inheritdoc IModelRegistry
    function publishModel(bytes32 modelHash, string calldata name, uint32 version, string calldata locator)
        external
        virtual
        onlyRole(HOSPITAL_ROLE)
    {
        _publishModel(_msgSender(), modelHash, name, version, locator);
    }

    /// @inheritdoc IModelRegistry
    function deprecateModel(bytes32 modelHash) external virtual {
        _deprecateModel(_msgSender(), modelHash);
    }

    /// @inheritdoc IModelRegistry
    function modelOf(bytes32 modelHash)
        external
        view
        virtual
        returns (address publisher, uint32 version, bool deprecated, uint64 publishedAt)
    {
        ModelInfo memory model = _requireModel(modelHash);
        return (model.publisher, model.version, model.deprecated, model.publishedAt);
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
    ) internal virtual {
        if (modelHash == bytes32(0)) revert ZeroHash();
        if (_models[modelHash].publisher != address(0)) revert ModelAlreadyPublished(modelHash);
        bytes32 nameHash = keccak256(bytes(name));
        uint32 expected = _latestVersions[publisher][nameHash] + 1;
        if (version != expected) revert ModelVersionNotNext(name, expected, version);

        _latestVersions[publisher][nameHash] = version;
        _models[modelHash] = ModelInfo({
            publisher: publisher,
            version: version,
            publishedAt: uint40(block.timestamp),
            deprecated: false
        });

        emit ModelPublished(modelHash, publisher, name, version, locator);
    }

    /// @dev Deprecates `modelHash`, which `publisher` must have published.
    function _deprecateModel(address publisher, bytes32 modelHash) internal virtual {
        ModelInfo memory model = _requireModel(modelHash);
        if (model.publisher != publisher) revert NotModelPublisher(modelHash, publisher);
        if (model.deprecated) revert ModelIsDeprecated(modelHash);

        _models[modelHash].deprecated = true;

        emit ModelDeprecated(modelHash, publisher);
    }

    /// @dev Returns the model `modelHash`; reverts with {UnknownModel} if it was never published.
    function _requireModel(bytes32 modelHash) internal view virtual returns (ModelInfo memory model) {
        model = _models[modelHash];
        if (model.publisher == address(0)) revert UnknownModel(modelHash);
    }

    /// @dev Reverts with {UnknownModel} or {ModelIsDeprecated} unless `modelHash` can be used for a new job.
    function _requireUsableModel(bytes32 modelHash) internal view virtual {
        if (_requireModel(modelHash).deprecated) revert ModelIsDeprecated(modelHash);
    }
}
