// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IPMHEErrors
 * @notice Errors shared by every PMHE module.
 */
interface IPMHEErrors {
    /// @notice A hash argument was `bytes32(0)`, which is never a valid content hash.
    error ZeroHash();

    /// @notice An address argument was `address(0)`.
    error ZeroAddress();

    /**
     * @notice The account does not hold `HOSPITAL_ROLE`.
     * @param account The account that was expected to be a hospital.
     */
    error NotAHospital(address account);
}
