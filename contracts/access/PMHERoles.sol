// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title PMHERoles
 * @notice Role identifiers used by the PMHE modules.
 * @dev Roles are granted and revoked by `DEFAULT_ADMIN_ROLE` through the standard {AccessControl} functions.
 */
abstract contract PMHERoles is AccessControl {
    /// @notice Role of hospital accounts, allowed to publish models and to request predictions under consent.
    bytes32 public constant HOSPITAL_ROLE = keccak256("HOSPITAL_ROLE");

    /// @notice Role of coprocessor accounts, allowed to vote on job results and failures.
    bytes32 public constant COPROCESSOR_ROLE = keccak256("COPROCESSOR_ROLE");
}
