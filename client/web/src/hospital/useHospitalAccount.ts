import { id } from "ethers";
import { useApp } from "../app/context.js";
import { useLoader } from "../auditor/common/useLoader.js";
import { queryLogs } from "../../../chain-logs.js";

export const HOSPITAL_ROLE = id("HOSPITAL_ROLE");

export interface HospitalAccount {
  /** Holds HOSPITAL_ROLE now: may publish models and request predictions under consent. */
  isHospital: boolean;
  /** The name governance registered it under (HospitalRegistered), if it ever was. */
  name: string | undefined;
  /** The X25519 key patients seal shares to (`hospitalKeyOf`); undefined if none was ever registered. */
  shareKey: `0x${string}` | undefined;
}

/** What the chain says about the connected account as a hospital. */
export function useHospitalAccount(address: string) {
  const { contract, config } = useApp();
  return useLoader(async (): Promise<HospitalAccount> => {
    const [isHospital, registrations, shareKey] = await Promise.all([
      contract.hasRole(HOSPITAL_ROLE, address),
      queryLogs(contract, contract.filters.HospitalRegistered(address), { fromBlock: config.deploymentBlock }),
      // UnknownHospital when no key was ever stored: no key.
      contract.hospitalKeyOf(address).then(
        (key) => key.toLowerCase() as `0x${string}`,
        () => undefined
      ),
    ]);
    return { isHospital, name: registrations.at(-1)?.args.name, shareKey };
  }, [contract, config.deploymentBlock, address]);
}
