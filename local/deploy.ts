import type { Signer } from "ethers";
import { PMHE__factory, type PmheContract } from "../protocol/chain.js";

export interface Deployment {
  contract: PmheContract;
  address: string;
  blockNumber: number;
}

/** Deploys PMHE with `admin` as governance and grants the hospital and coprocessor roles. */
export async function deployPmhe(admin: Signer, roles: { hospitals: string[]; coprocessors: string[] }): Promise<Deployment> {
  const contract = await new PMHE__factory(admin).deploy(await admin.getAddress());
  const receipt = await contract.deploymentTransaction()!.wait();
  for (const hospital of roles.hospitals) await (await contract.grantRole(await contract.HOSPITAL_ROLE(), hospital)).wait();
  for (const operator of roles.coprocessors) await (await contract.grantRole(await contract.COPROCESSOR_ROLE(), operator)).wait();
  return { contract, address: await contract.getAddress(), blockNumber: receipt!.blockNumber };
}
