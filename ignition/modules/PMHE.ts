import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";
import {
  DEFAULT_JOB_TIMEOUT_SECONDS,
  DEFAULT_QUORUM,
  parametersArgument,
  PMHE_MODULE_ID,
  readPmheParameters,
  type HospitalParameter,
} from "../pmhe-parameters.js";

/** keccak256("COPROCESSOR_ROLE"), the contract's public constant. */
const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");

export interface PmheModuleSetup {
  /** The admin the calls below are sent from (default: the first account, as the `admin` parameter's default). */
  admin?: string;
  /** Accounts granted COPROCESSOR_ROLE (operators that vote on results). */
  coprocessors?: readonly string[];
  /** Hospitals registered (HOSPITAL_ROLE and their X25519 share key). */
  hospitals?: readonly HospitalParameter[];
}

/**
 * The one deployment of PMHE, used by `hardhat ignition deploy` (testnets), `npm start`, the demo, the load and soak
 * commands and the tests (`local/deploy.ts`): the contract, with the governance account as admin (`admin`, default
 * the deployer), the quorum of agreeing operators that settles a job (`quorum`, default 2: with 1, one operator
 * decides and can forge results, which only a local development chain may accept) and the job timeout in seconds
 * (`jobTimeout`, default one hour); then, sent by the admin, `grantRole(COPROCESSOR_ROLE, …)` for each coprocessor
 * and `registerHospital(…)` for each hospital. The lists must be known when the module is built (see
 * ignition/pmhe-parameters.ts); when they are not empty the admin must be an account Ignition can send from.
 */
export function buildPmheModule(setup: PmheModuleSetup = {}) {
  return buildModule(PMHE_MODULE_ID, (m) => {
    const admin = m.getParameter("admin", m.getAccount(0));
    const quorum = m.getParameter("quorum", DEFAULT_QUORUM);
    const jobTimeout = m.getParameter("jobTimeout", DEFAULT_JOB_TIMEOUT_SECONDS);
    const pmhe = m.contract("PMHE", [admin, quorum, jobTimeout]);
    const from = setup.admin ?? m.getAccount(0);
    for (const operator of setup.coprocessors ?? []) {
      m.call(pmhe, "grantRole", [COPROCESSOR_ROLE, operator], { id: `grantCoprocessor_${operator}`, from });
    }
    for (const hospital of setup.hospitals ?? []) {
      m.call(pmhe, "registerHospital", [hospital.address, hospital.encryptionKey, hospital.name], { id: `registerHospital_${hospital.address}`, from });
    }
    return { pmhe };
  });
}

/**
 * What `npx hardhat ignition deploy ignition/modules/PMHE.ts --parameters <file>` deploys: the module shaped by the
 * coprocessors and hospitals of that same file (none without `--parameters`).
 *
 *   npx hardhat ignition deploy ignition/modules/PMHE.ts --network testnet --parameters ignition/parameters.example.json --verify
 */
const file = parametersArgument(process.argv);
const fromFile = file === undefined ? undefined : readPmheParameters(file);
export default buildPmheModule(fromFile ?? {});
