// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/**
 * @title ModelRegistry
 * @notice Lets hospitals publish prediction models by content hash.
 * @dev The model itself lives off-chain in a content-addressed blob store; its hash pins one exact version.
 * Each model takes one storage slot. A model exists iff its `publisher` is non-zero.
 */
abstract contract ModelRegistry is PMHERoles, IModelRegistry {
    mapping(bytes32 modelHash => ModelInfo) private _models;

    /// @inheritdoc IModelRegistry
    function publishModel(bytes32 modelHash) public virtual onlyRole(HOSPITAL_ROLE) {
        _publishModel(_msgSender(), modelHash);
    }

    /// @inheritdoc IModelRegistry
    function modelOf(bytes32 modelHash) public view virtual returns (address publisher, uint64 publishedAt) {
        ModelInfo memory model = _requireModel(modelHash);
        return (model.publisher, model.publishedAt);
    }

    /// @dev Records `modelHash` as published by `publisher`. Authorization is the caller's responsibility.
    function _publishModel(address publisher, bytes32 modelHash) internal virtual {
        if (modelHash == bytes32(0)) revert ZeroHash();
        if (_models[modelHash].publisher != address(0)) revert ModelAlreadyPublished(modelHash);

        _models[modelHash] = ModelInfo({publisher: publisher, publishedAt: uint64(block.timestamp)});

        emit ModelPublished(modelHash, publisher);
    }

    /// @dev Returns the model `modelHash`; reverts with {UnknownModel} if it was never published.
    function _requireModel(bytes32 modelHash) internal view virtual returns (ModelInfo memory model) {
        model = _models[modelHash];
        if (model.publisher == address(0)) revert UnknownModel(modelHash);
    }
}
