import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys PMHE with a governance account as admin (the deployer unless `admin` is given).
 * Hospitals and coprocessors are registered afterwards by the admin (registerHospital, grantRole).
 *
 *   npx hardhat ignition deploy ignition/modules/PMHE.ts --network testnet --parameters ignition/parameters.example.json --verify
 */
export default buildModule("PMHE", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const pmhe = m.contract("PMHE", [admin]);
  return { pmhe };
});
