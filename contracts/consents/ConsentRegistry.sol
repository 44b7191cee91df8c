// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PMHERoles} from "../access/PMHERoles.sol";
import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {PatientRegistry} from "../patients/PatientRegistry.sol";

/**
 * @title ConsentRegistry
 * @notice Lets patients grant hospitals time-limited consents, and revoke them.
 * @dev One slot per (patient, hospital). Revocation deletes the consent.
 */
abstract contract ConsentRegistry is PMHERoles, PatientRegistry, IConsentRegistry {
    mapping(address patient => mapping(address hospital => Consent)) private _consents;

    /// @inheritdoc IConsentRegistry
    function grantConsent(address hospital, uint64 expiresAt, bool mayReceiveResults) external virtual {
        _grantConsent(_msgSender(), hospital, expiresAt, mayReceiveResults);
    }

    /// @inheritdoc IConsentRegistry
    function revokeConsent(address hospital) external virtual {
        _revokeConsent(_msgSender(), hospital);
    }

    /// @inheritdoc IConsentRegistry
    function consentOf(address patient, address hospital)
        external
        view
        virtual
        returns (uint64 expiresAt, bool mayReceiveResults, bool active)
    {
        Consent memory consent = _consents[patient][hospital];
        return (consent.expiresAt, consent.mayReceiveResults, _isActive(consent));
    }

    /// @dev Grants or replaces the consent of `patient` for `hospital`.
    function _grantConsent(address patient, address hospital, uint64 expiresAt, bool mayReceiveResults)
        internal
        virtual
    {
        _requirePatient(patient);
        if (!hasRole(HOSPITAL_ROLE, hospital)) revert NotAHospital(hospital);
        if (expiresAt <= block.timestamp) revert ConsentExpiryInPast(expiresAt);

        _consents[patient][hospital] = Consent({expiresAt: expiresAt, mayReceiveResults: mayReceiveResults});

        emit ConsentGranted(patient, hospital, expiresAt, mayReceiveResults);
    }

    /// @dev Revokes the active consent of `patient` for `hospital`.
    function _revokeConsent(address patient, address hospital) internal virtual {
        if (!_isActive(_consents[patient][hospital])) revert NoConsent(patient, hospital);

        delete _consents[patient][hospital];

        emit ConsentRevoked(patient, hospital);
    }

    /// @dev The consent of `patient` for `hospital`, active or not (zero if none).
    function _consent(address patient, address hospital) internal view virtual returns (Consent memory) {
        return _consents[patient][hospital];
    }

    /// @dev A consent is active until its expiry; a missing or revoked consent has expiry 0.
    function _isActive(Consent memory consent) internal view virtual returns (bool) {
        return consent.expiresAt > block.timestamp;
    }
}
