/// <reference path="./ucum-lhc.d.ts" />
import * as ucum from "@lhncbc/ucum-lhc";
import type { IntakeIssue, Observation } from "./observation.js";
import { vitalSign } from "./vital-signs.js";

/**
 * The one gate every reading of every format passes: known code, a unit UCUM converts to the code's unit
 * (@lhncbc/ucum-lhc, the National Library of Medicine's UCUM implementation), a finite value inside the code's
 * plausible range, a valid time. Returns the Observation, or the issue that names the reading and what is wrong.
 */

const utils = ucum.UcumLhcUtils.getInstance();
const conversions = new Map<string, ((value: number) => number) | string>();

/** How to bring `from` to `to` (a function), or why it cannot be done (a message). Cached per pair. */
function conversion(from: string, to: string, molecularWeight: number | undefined): ((value: number) => number) | string {
  const key = `${from}\u0000${to}\u0000${molecularWeight ?? ""}`;
  const known = conversions.get(key);
  if (known !== undefined) return known;
  let made: ((value: number) => number) | string;
  if (from === to) made = (v) => v;
  else {
    // Probe with 1 and 2: every unit a vital sign uses converts linearly (°F to °C has an offset), so two points
    // give the line, and the hot path does arithmetic instead of a UCUM parse per reading.
    const at = (v: number) => utils.convertUnitTo(from, v, to, molecularWeight === undefined ? {} : { molecularWeight });
    const one = at(1);
    const two = at(2);
    if (one.status !== "succeeded" || two.status !== "succeeded") {
      made = (one.msg ?? []).join("; ") || `UCUM cannot convert ${from} to ${to}`;
    } else {
      const slope = (two.toVal as number) - (one.toVal as number);
      const offset = (one.toVal as number) - slope;
      made = (v) => v * slope + offset;
    }
  }
  conversions.set(key, made);
  return made;
}

export interface RawReading {
  /** LOINC code. */
  code: string;
  value: number;
  /** UCUM unit of `value` as given (a few common non-UCUM spellings are understood: see normaliseUnit). */
  unit: string;
  /** Milliseconds since the epoch. */
  time: number;
  origin: string;
}

/** Common ways devices and exports spell units, to UCUM. */
const UNIT_SPELLINGS: Record<string, string> = {
  "bpm": "/min",
  "beats/min": "/min",
  "count/min": "/min",
  "{beats}/min": "/min",
  "{count}/min": "/min",
  "mmhg": "mm[Hg]",
  "mm hg": "mm[Hg]",
  "degc": "Cel",
  "°c": "Cel",
  "degf": "[degF]",
  "°f": "[degF]",
  "percent": "%",
  // Apple Health writes blood glucose in mmol/L with the molecular weight of glucose in the unit (HKUnit's molar
  // form); the conversion to mg/dL takes the weight from VITAL_SIGNS (180.156, the same to 2 in 10^6).
  "mmol<180.1558800000541>/l": "mmol/L",
};

export function normaliseUnit(unit: string): string {
  const trimmed = unit.trim();
  return UNIT_SPELLINGS[trimmed.toLowerCase()] ?? trimmed;
}

/** A reading taken in, or the issue that refuses it. */
export function takeIn(reading: RawReading): Observation | IntakeIssue {
  const { code, origin } = reading;
  const sign = vitalSign(code);
  if (!sign) return { reason: "unknown_code", origin, message: `${origin}: LOINC code ${code} is not one PMHE takes in` };
  if (!Number.isFinite(reading.time)) return { reason: "malformed", origin, message: `${origin}: ${sign.name} has no valid time` };
  if (typeof reading.value !== "number" || !Number.isFinite(reading.value)) {
    return { reason: "malformed", origin, message: `${origin}: ${sign.name} value ${JSON.stringify(reading.value)} is not a number` };
  }
  const unit = normaliseUnit(reading.unit);
  const convert = conversion(unit, sign.unit, sign.molecularWeight);
  if (typeof convert === "string") {
    return { reason: "wrong_unit", origin, message: `${origin}: ${sign.name} in "${reading.unit}" cannot be converted to ${sign.unit} (${convert})` };
  }
  const value = convert(reading.value);
  if (!(value >= sign.min && value <= sign.max)) {
    return {
      reason: "impossible_value",
      origin,
      message: `${origin}: ${sign.name} ${reading.value} ${reading.unit} (${round(value)} ${sign.unit}) is outside ${sign.min} to ${sign.max} ${sign.unit}, physiologically impossible`,
    };
  }
  return { code, time: reading.time, value, origin };
}

const round = (v: number) => Math.round(v * 100) / 100;

/** Whether takeIn's answer is an issue. */
export function isIssue(x: Observation | IntakeIssue): x is IntakeIssue {
  return "reason" in x;
}
