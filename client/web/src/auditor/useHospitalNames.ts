import { useApp } from "../app/context.js";
import { useLoader } from "./common/useLoader.js";
import { queryLogs } from "../../../chain-logs.js";

/** Registered hospitals' names by lower-case address, from HospitalRegistered events (names are emitted, not stored). */
export function useHospitalNames() {
  const { contract, config } = useApp();
  return useLoader(async () => {
    const events = await queryLogs(contract, contract.filters.HospitalRegistered(), { fromBlock: config.deploymentBlock });
    return new Map(events.map((e) => [e.args.hospital.toLowerCase(), e.args.name]));
  }, [contract, config.deploymentBlock]);
}
