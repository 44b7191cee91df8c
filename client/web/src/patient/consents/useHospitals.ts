import { getAddress } from "ethers";
import { useEffect, useState } from "react";
import { queryLogs } from "../../../../chain-logs.js";
import { useApp } from "../../app/context.js";

export interface Hospital {
  address: string;
  name: string;
}

/**
 * The hospitals registered on this deployment (HospitalRegistered events), with their latest name; undefined while
 * they are read (an empty list when the chain could not be read: the form still takes an address typed in).
 */
export function useHospitals(): Hospital[] | undefined {
  const { contract, config } = useApp();
  const [hospitals, setHospitals] = useState<Hospital[] | undefined>(undefined);
  useEffect(() => {
    let live = true;
    queryLogs(contract, contract.filters.HospitalRegistered(), { fromBlock: config.deploymentBlock }).then(
      (events) => {
        const byAddress = new Map<string, string>();
        for (const event of events) byAddress.set(getAddress(event.args.hospital), event.args.name);
        if (live) setHospitals([...byAddress].map(([address, name]) => ({ address, name })));
      },
      () => live && setHospitals([]),
    );
    return () => {
      live = false;
    };
  }, [contract, config]);
  return hospitals;
}
