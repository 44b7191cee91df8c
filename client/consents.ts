import { getAddress } from "ethers";
import type { PmheContract } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import { queryLogs, type LogRange } from "./chain-logs.js";

/** A consent the patient gave a hospital, as it stands now. */
export interface PatientConsent {
  hospital: string;
  /** The name the hospital was registered under, if the chain names it in range. */
  hospitalName?: string;
  /** Unix seconds; 0 once revoked. */
  expiresAt: number;
  mayReceiveResults: boolean;
  /** The contract's own verdict (`consentOf`): granted, not revoked, not expired by the chain's clock. */
  active: boolean;
  status: "active" | "expired" | "revoked";
  /** The block of the last grant or revocation. */
  changedAtBlock: number;
  txHash: string;
}

/**
 * The patient's consents, one per hospital they ever granted one to: found through ConsentGranted / ConsentRevoked
 * events, and read as they stand now with `consentOf`, which decides (expiry is judged by the chain's clock).
 */
export async function consentsOf(contract: PmheContract, patient: string, range: LogRange = {}): Promise<PatientConsent[]> {
  const [granted, revoked] = await Promise.all([
    queryLogs(contract, contract.filters.ConsentGranted(patient), range),
    queryLogs(contract, contract.filters.ConsentRevoked(patient), range),
  ]);
  const last = new Map<string, { block: number; index: number; txHash: string }>();
  for (const event of [...granted, ...revoked]) {
    const hospital = getAddress(event.args.hospital);
    const seen = last.get(hospital);
    if (!seen || event.blockNumber > seen.block || (event.blockNumber === seen.block && event.index > seen.index)) {
      last.set(hospital, { block: event.blockNumber, index: event.index, txHash: event.transactionHash });
    }
  }
  const consents = await Promise.all(
    [...last].map(async ([hospital, change]): Promise<PatientConsent> => {
      const [[expiresAt, mayReceiveResults, active], registrations] = await Promise.all([
        namedContractCall("consentOf", () => contract.consentOf(patient, hospital)),
        queryLogs(contract, contract.filters.HospitalRegistered(hospital), range),
      ]);
      const name = registrations.at(-1)?.args.name;
      const expiry = Number(expiresAt);
      return {
        hospital,
        ...(name ? { hospitalName: name } : {}),
        expiresAt: expiry,
        mayReceiveResults,
        active,
        status: active ? "active" : expiry === 0 ? "revoked" : "expired",
        changedAtBlock: change.block,
        txHash: change.txHash,
      };
    }),
  );
  return consents.sort((a, b) => a.hospital.localeCompare(b.hospital));
}
