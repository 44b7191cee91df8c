// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title PMHERoles
 * @notice Role identifiers used by the PMHE modules, and the numbering of coprocessors that vote counting uses.
 * @dev Roles are granted and revoked by `DEFAULT_ADMIN_ROLE` through the standard {AccessControl} functions.
 *
 * Operators. An account gets the next free index (0 to 254) the first time it is granted `COPROCESSOR_ROLE` and
 * keeps it for good: revoking clears its bit in the active set, granting again sets it. A vote is recorded as the
 * voter's bit, so the votes that count for a value are `popcount(voterBits & activeOperatorBits)`: a revoked
 * operator's earlier votes stop counting at once, without touching any job. At most `MAX_OPERATORS` distinct
 * accounts can ever hold the role.
 */
abstract contract PMHERoles is AccessControl {
    /// @notice Role of hospital accounts, allowed to publish models and to request predictions under consent.
    bytes32 public constant HOSPITAL_ROLE = keccak256("HOSPITAL_ROLE");

    /// @notice Role of coprocessor accounts, allowed to vote on job results and failures.
    bytes32 public constant COPROCESSOR_ROLE = keccak256("COPROCESSOR_ROLE");

    /// @notice The most distinct accounts that can ever be granted `COPROCESSOR_ROLE`.
    uint256 public constant MAX_OPERATORS = 255;

    /**
     * @notice Every operator index is in use: no new account can be granted `COPROCESSOR_ROLE`.
     * @param account The account that could not be granted the role.
     */
    error TooManyOperators(address account);

    /// @dev Index + 1 of each account ever granted `COPROCESSOR_ROLE`; 0 for the others.
    mapping(address account => uint256 indexPlusOne) private _operatorIndexes;
    /// @dev Indexes handed out so far.
    uint256 private _operatorCount;
    /// @dev Bit i is set iff the account of index i holds `COPROCESSOR_ROLE` now.
    uint256 private _activeOperators;

    /// @dev Gives a new operator its index and sets its bit.
    function _grantRole(bytes32 role, address account) internal virtual override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == COPROCESSOR_ROLE) {
            uint256 indexPlusOne = _operatorIndexes[account];
            if (indexPlusOne == 0) {
                uint256 count = _operatorCount;
                if (count == MAX_OPERATORS) revert TooManyOperators(account);
                _operatorCount = count + 1;
                indexPlusOne = count + 1;
                _operatorIndexes[account] = indexPlusOne;
            }
            _activeOperators |= 1 << (indexPlusOne - 1);
        }
    }

    /// @dev Clears a revoked operator's bit.
    function _revokeRole(bytes32 role, address account) internal virtual override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == COPROCESSOR_ROLE) _activeOperators &= ~(1 << (_operatorIndexes[account] - 1));
    }

    /// @dev The index of an account that has been granted `COPROCESSOR_ROLE` (callers check the role first).
    function _operatorIndex(address account) internal view virtual returns (uint8) {
        return uint8(_operatorIndexes[account] - 1);
    }

    /// @dev The bits of the accounts holding `COPROCESSOR_ROLE` now.
    function _activeOperatorBits() internal view virtual returns (uint256) {
        return _activeOperators;
    }

    /// @dev The number of set bits of `bits`; loops once per set bit, at most 256 times.
    function _popcount(uint256 bits) internal pure returns (uint256 count) {
        while (bits != 0) {
            bits &= bits - 1;
            ++count;
        }
    }
}
