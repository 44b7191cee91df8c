/**
 * What every input format (FHIR R4, Apple Health export, device CSV, MQTT messages) is turned into: timestamped
 * measurements by LOINC code in the code's canonical UCUM unit (vital-signs.ts), plus facts of the patient's profile,
 * and an account of every reading that was not used and why. Browser-safe.
 */

/** One measurement, taken in: converted to its code's unit and inside its plausible range. */
export interface Observation {
  /** LOINC code (a key of VITAL_SIGNS). */
  code: string;
  /** When it was measured: milliseconds since the Unix epoch, UTC. */
  time: number;
  /** The value in VITAL_SIGNS[code].unit. */
  value: number;
  /** Where it came from, for messages: "file.csv:12", "Observation/abc", "export.xml:3481", "mqtt pmhe/watch-1 #42". */
  origin: string;
}

/** Facts of the patient that are not time series: from a FHIR Patient resource, or the person's profile. */
export interface ProfileFacts {
  /** Date of birth, YYYY-MM-DD (age is computed at the window's time). */
  birthDate?: string;
  /** Administrative sex as FHIR has it. */
  sex?: "male" | "female" | "other" | "unknown";
  /** Lab values without a time series of their own (e.g. a cholesterol Observation): the latest by code. */
  latest?: Record<string, Observation>;
}

/** Why a reading was not used. */
export type IntakeIssueReason =
  | "malformed" // not parseable: bad JSON, missing fields, bad number, bad timestamp
  | "unknown_code" // a code (LOINC, Apple type, CSV metric) PMHE does not take in
  | "wrong_unit" // a unit UCUM cannot convert to the code's unit
  | "impossible_value" // outside the code's plausible range after conversion
  | "duplicate" // the same measurement (code, time, value) seen before: counted once
  | "withdrawn"; // the record says it is not to be used: FHIR status entered-in-error or cancelled

export interface IntakeIssue {
  reason: IntakeIssueReason;
  /** Where the reading was (same form as Observation.origin). */
  origin: string;
  /** A sentence naming the reading and what is wrong with it. */
  message: string;
}

/** What an input gave: observations, profile facts, and every reading not used, with its reason. */
export interface IntakeResult {
  observations: Observation[];
  profile: ProfileFacts;
  issues: IntakeIssue[];
}

/** Counts for a person: how many readings were used, and how many were skipped for each reason. */
export interface IntakeSummary {
  used: number;
  skipped: Partial<Record<IntakeIssueReason, number>>;
  /** Used readings per LOINC code. */
  byCode: Record<string, number>;
}

export function summarise(result: Pick<IntakeResult, "observations" | "issues">): IntakeSummary {
  const skipped: Partial<Record<IntakeIssueReason, number>> = {};
  for (const issue of result.issues) skipped[issue.reason] = (skipped[issue.reason] ?? 0) + 1;
  const byCode: Record<string, number> = {};
  for (const o of result.observations) byCode[o.code] = (byCode[o.code] ?? 0) + 1;
  return { used: result.observations.length, skipped, byCode };
}
