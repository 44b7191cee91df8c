import { createContext, useContext } from "react";
import type { PatientSession } from "./usePatientSession.js";

export const PatientSessionContext = createContext<PatientSession | undefined>(undefined);

/** The patient's session; patient views are only rendered inside PatientView. */
export function usePatient(): PatientSession {
  const session = useContext(PatientSessionContext);
  if (!session) throw new Error("usePatient() outside PatientView");
  return session;
}
