// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {IPatientRegistry} from "./IPatientRegistry.sol";
import {IPredictionJobs} from "./IPredictionJobs.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/**
 * @title IPMHE
 * @notice Full interface of the PMHE contract: patients anchor hashes of CKKS-encrypted records, request
 * predictions of published models, and an off-chain coprocessor commits result hashes.
 * @dev Roles: `HOSPITAL_ROLE` publishes models, `COPROCESSOR_ROLE` commits results and reports failures, both
 * granted by `DEFAULT_ADMIN_ROLE` through {IAccessControl-grantRole}.
 */
interface IPMHE is IAccessControl, IPatientRegistry, IRecordRegistry, IModelRegistry, IPredictionJobs {}
