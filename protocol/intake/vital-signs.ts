/**
 * The measurements PMHE takes in from devices and health records, by LOINC code: what each one is, the UCUM unit it
 * is kept in once taken in, and the range a living person can show (outside it a reading is refused as
 * physiologically impossible, never dropped silently). Browser-safe. One table for every input format (FHIR, Apple
 * Health, device CSV, MQTT) and for the model format's input sources.
 *
 * Codes and units are LOINC's (https://loinc.org): heart rate 8867-4, resting heart rate 40443-4, systolic 8480-6
 * and diastolic 8462-4 blood pressure (in the 85354-9 panel), oxygen saturation 59408-5 (pulse oximetry) and 2708-6
 * (arterial), body temperature 8310-5, glucose 2339-0, total cholesterol 2093-3.
 */

export interface VitalSign {
  /** LOINC code. */
  code: string;
  /** Short name for messages and summaries. */
  name: string;
  /** UCUM unit every reading of this code is converted to. */
  unit: string;
  /** Plausible range in `unit`, inclusive: anything outside is refused with reason `impossible_value`. */
  min: number;
  max: number;
  /** Molecular weight in g/mol, for converting a molar concentration (mmol/L) to a mass one (mg/dL). */
  molecularWeight?: number;
}

export const VITAL_SIGNS: Readonly<Record<string, VitalSign>> = {
  "8867-4": { code: "8867-4", name: "heart rate", unit: "/min", min: 20, max: 300 },
  "40443-4": { code: "40443-4", name: "resting heart rate", unit: "/min", min: 20, max: 200 },
  "8480-6": { code: "8480-6", name: "systolic blood pressure", unit: "mm[Hg]", min: 40, max: 300 },
  "8462-4": { code: "8462-4", name: "diastolic blood pressure", unit: "mm[Hg]", min: 20, max: 200 },
  "59408-5": { code: "59408-5", name: "oxygen saturation (pulse oximetry)", unit: "%", min: 50, max: 100 },
  "2708-6": { code: "2708-6", name: "oxygen saturation (arterial)", unit: "%", min: 50, max: 100 },
  "8310-5": { code: "8310-5", name: "body temperature", unit: "Cel", min: 25, max: 45 },
  // Glucose C6H12O6 180.156 g/mol; cholesterol C27H46O 386.65 g/mol.
  "2339-0": { code: "2339-0", name: "glucose", unit: "mg/dL", min: 10, max: 1500, molecularWeight: 180.156 },
  "2093-3": { code: "2093-3", name: "total cholesterol", unit: "mg/dL", min: 40, max: 1000, molecularWeight: 386.65 },
};

/** The blood-pressure panel: its components are 8480-6 (systolic) and 8462-4 (diastolic). */
export const BLOOD_PRESSURE_PANEL = "85354-9";

/** The vital sign of a LOINC code, or undefined for a code PMHE does not take in. */
export function vitalSign(code: string): VitalSign | undefined {
  return Object.hasOwn(VITAL_SIGNS, code) ? VITAL_SIGNS[code] : undefined;
}
