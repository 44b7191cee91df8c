import { useApp } from "../app/context.js";
import { useLoader } from "../auditor/common/useLoader.js";
import { queryLogs } from "../../../chain-logs.js";

export interface ConsentingPatient {
  /** Lower-case address. */
  patient: string;
  /** Unix seconds; 0 once revoked. */
  expiresAt: number;
  mayReceiveResults: boolean;
  /** The contract's verdict now (`consentOf`): granted, not revoked, not expired by the chain's clock. */
  active: boolean;
  status: "active" | "expired" | "revoked";
  /** The block of the last grant or revocation. */
  changedAtBlock: number;
}

/**
 * The patients who ever gave this hospital a consent (ConsentGranted / ConsentRevoked naming it), each read as it
 * stands now with `consentOf`: active ones first.
 */
export function useConsentingPatients(hospital: string) {
  const { contract, config } = useApp();
  return useLoader(async (): Promise<ConsentingPatient[]> => {
    const [granted, revoked] = await Promise.all([
      queryLogs(contract, contract.filters.ConsentGranted(undefined, hospital), { fromBlock: config.deploymentBlock }),
      queryLogs(contract, contract.filters.ConsentRevoked(undefined, hospital), { fromBlock: config.deploymentBlock }),
    ]);
    const lastChange = new Map<string, number>();
    for (const e of [...granted, ...revoked]) {
      const patient = e.args.patient.toLowerCase();
      lastChange.set(patient, Math.max(lastChange.get(patient) ?? 0, e.blockNumber));
    }
    const rows = await Promise.all(
      [...lastChange].map(async ([patient, block]): Promise<ConsentingPatient> => {
        const [expiresAt, mayReceiveResults, active] = await contract.consentOf(patient, hospital);
        const expiry = Number(expiresAt);
        return { patient, expiresAt: expiry, mayReceiveResults, active, status: active ? "active" : expiry === 0 ? "revoked" : "expired", changedAtBlock: block };
      })
    );
    return rows.sort((a, b) => Number(b.active) - Number(a.active) || b.changedAtBlock - a.changedAtBlock || a.patient.localeCompare(b.patient));
  }, [contract, config.deploymentBlock, hospital]);
}
