import type { Signer } from "ethers";
import { PMHE__factory, type PmheContract } from "../protocol/chain.js";
import type { Hash } from "../protocol/hash.js";

export interface Deployment {
  contract: PmheContract;
  address: string;
  blockNumber: number;
}

/** A hospital to register at deployment: its account, its X25519 share key, and the name patients see. */
export interface HospitalRegistration {
  address: string;
  encryptionKey: Hash;
  name: string;
}

export interface DeploymentSettings {
  hospitals: HospitalRegistration[];
  coprocessors: string[];
  /** Agreeing operator votes that settle a job. 1 lets one operator decide (and forge) results: development only. */
  quorum?: number;
  /** Seconds from request to deadline. */
  jobTimeout?: number;
}

/** Local default: one operator, so one vote decides. Never use a quorum of 1 where results matter. */
export const LOCAL_QUORUM = 1;
export const DEFAULT_JOB_TIMEOUT_SECONDS = 3_600;

/** Deploys PMHE with `admin` as governance, registers the hospitals and grants the coprocessor role. */
export async function deployPmhe(admin: Signer, settings: DeploymentSettings): Promise<Deployment> {
  const quorum = settings.quorum ?? LOCAL_QUORUM;
  const contract = await new PMHE__factory(admin).deploy(await admin.getAddress(), quorum, settings.jobTimeout ?? DEFAULT_JOB_TIMEOUT_SECONDS);
  const receipt = await contract.deploymentTransaction()!.wait();
  for (const hospital of settings.hospitals) {
    await (await contract.registerHospital(hospital.address, hospital.encryptionKey, hospital.name)).wait();
  }
  const operatorRole = await contract.COPROCESSOR_ROLE();
  for (const operator of settings.coprocessors) await (await contract.grantRole(operatorRole, operator)).wait();
  return { contract, address: await contract.getAddress(), blockNumber: receipt!.blockNumber };
}
