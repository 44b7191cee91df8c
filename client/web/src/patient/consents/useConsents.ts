import { useCallback, useEffect, useState } from "react";
import { consentsOf, type PatientConsent } from "../../../../consents.js";
import { useApp } from "../../app/context.js";
import type { Lookup } from "../session/usePatientSession.js";

/** The patient's consents as the chain has them now (read-only: no keys needed); `refresh` reads them again. */
export function useConsents(address: string): { consents: Lookup<PatientConsent[]>; refresh(): void } {
  const { contract, config } = useApp();
  const [consents, setConsents] = useState<Lookup<PatientConsent[]>>({ state: "checking" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    consentsOf(contract, address, { fromBlock: config.deploymentBlock }).then(
      (value) => live && setConsents({ state: "known", value }),
      (error: unknown) => live && setConsents({ state: "failed", error }),
    );
    return () => {
      live = false;
    };
  }, [contract, config, address, round]);
  const refresh = useCallback(() => setRound((n) => n + 1), []);
  return { consents, refresh };
}
