import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys PMHE with a governance account as admin (the deployer unless `admin` is given), the quorum of agreeing
 * operators that settles a job (default 2: with 1, a single operator decides and can forge results, which only a
 * local development chain may accept) and the job timeout in seconds (default one hour).
 * Hospitals and coprocessors are registered afterwards by the admin (registerHospital, grantRole).
 *
 *   npx hardhat ignition deploy ignition/modules/PMHE.ts --network testnet --parameters ignition/parameters.example.json --verify
 */
export default buildModule("PMHE", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const quorum = m.getParameter("quorum", 2);
  const jobTimeout = m.getParameter("jobTimeout", 3600);
  const pmhe = m.contract("PMHE", [admin, quorum, jobTimeout]);
  return { pmhe };
});
