// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IConsentRegistry} from "./IConsentRegistry.sol";
import {IHospitalRegistry} from "./IHospitalRegistry.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {IPatientRegistry} from "./IPatientRegistry.sol";
import {IPredictionJobs} from "./IPredictionJobs.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";
import {IResultSharing} from "./IResultSharing.sol";

/**
 * @title IPMHE
 * @notice Full interface of the PMHE contract: patients anchor hashes of CKKS-encrypted records, request
 * predictions of published models (or let consented hospitals request them), off-chain coprocessors vote on
 * result hashes, and patients share results with hospitals.
 * @dev Roles: `DEFAULT_ADMIN_ROLE` is governance (registers hospitals, grants and revokes roles, sets the quorum
 * and the job timeout); `HOSPITAL_ROLE` publishes models and requests predictions under consent;
 * `COPROCESSOR_ROLE` votes on results and failures. Coprocessors are managed with the standard
 * {IAccessControl-grantRole} and {IAccessControl-revokeRole}; hospitals are added with
 * {IHospitalRegistry-registerHospital} and removed with {IAccessControl-revokeRole}.
 */
interface IPMHE is // solhint-disable-line no-empty-blocks
    IAccessControl,
    IHospitalRegistry,
    IPatientRegistry,
    IRecordRegistry,
    IModelRegistry,
    IConsentRegistry,
    IPredictionJobs,
    IResultSharing
{}
