// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPMHEErrors} from "./IPMHEErrors.sol";

/**
 * @title IConsentRegistry
 * @notice Consents patients give hospitals: to request predictions on the patient's records and, optionally, to
 * receive the patient's results.
 * @dev A consent is active from its grant until it expires or is revoked, whichever comes first. It is checked
 * when it is used (at request or share time), so revoking or letting it expire stops future use at once; jobs
 * already requested are unaffected.
 */
interface IConsentRegistry is IPMHEErrors {
    /**
     * @notice A consent; fits in a single storage slot. A zero `expiresAt` means no consent.
     * @param expiresAt The timestamp from which the consent is no longer active.
     * @param mayReceiveResults Whether the patient may share prediction results with the hospital.
     */
    struct Consent {
        uint64 expiresAt;
        bool mayReceiveResults;
    }

    /**
     * @notice Emitted when a patient grants (or replaces) a consent.
     * @param patient The patient.
     * @param hospital The hospital.
     * @param expiresAt The timestamp from which the consent is no longer active.
     * @param mayReceiveResults Whether the patient may share prediction results with the hospital.
     */
    event ConsentGranted(
        address indexed patient, address indexed hospital, uint64 expiresAt, bool mayReceiveResults
    );

    /**
     * @notice Emitted when a patient revokes a consent.
     * @param patient The patient.
     * @param hospital The hospital.
     */
    event ConsentRevoked(address indexed patient, address indexed hospital);

    /**
     * @notice The expiry is not in the future.
     * @param expiresAt The given expiry.
     */
    error ConsentExpiryInPast(uint64 expiresAt);

    /**
     * @notice The patient has no active consent for the hospital.
     * @param patient The patient.
     * @param hospital The hospital.
     */
    error NoConsent(address patient, address hospital);

    /**
     * @notice Grants `hospital` consent to request predictions on the caller's records until `expiresAt`.
     * The caller must be a registered patient.
     * @dev Granting again replaces the previous consent (expiry and result permission).
     * @param hospital An account holding `HOSPITAL_ROLE`.
     * @param expiresAt The timestamp from which the consent is no longer active; must be in the future.
     * @param mayReceiveResults Whether the caller may share prediction results with `hospital`.
     */
    function grantConsent(address hospital, uint64 expiresAt, bool mayReceiveResults) external;

    /**
     * @notice Revokes the caller's active consent for `hospital`, with immediate effect.
     * @param hospital The hospital.
     */
    function revokeConsent(address hospital) external;

    /**
     * @notice Returns a patient's consent for a hospital.
     * @param patient The patient.
     * @param hospital The hospital.
     * @return expiresAt The consent's expiry, 0 if there is none (never granted, or revoked).
     * @return mayReceiveResults Whether results may be shared with the hospital.
     * @return active Whether the consent exists and has not expired.
     */
    function consentOf(address patient, address hospital)
        external
        view
        returns (uint64 expiresAt, bool mayReceiveResults, bool active);
}
