import { DuplicateFilter } from "./dedupe.js";
import { IntakeFormatError } from "./errors.js";
import type { IntakeIssue, IntakeResult, Observation, ProfileFacts } from "./observation.js";
import { isIssue, takeIn } from "./take-in.js";
import { fractionMillis, utcMillis } from "./time.js";
import { BLOOD_PRESSURE_PANEL, vitalSign } from "./vital-signs.js";

/**
 * HL7 FHIR R4 (JSON) in: a Bundle, a single Observation or a single Patient, as JSON text or already parsed.
 * Browser-safe.
 *
 * - Observation: the LOINC coding of `code` (system http://loinc.org; among several, one PMHE takes in, and of
 *   those a specific one such as 59408-5 pulse oximetry before the generic 2708-6 FHIR puts beside it), the
 *   value of `valueQuantity` in its UCUM `code` (system http://unitsofmeasure.org), else its `unit`, and the time of
 *   `effectiveDateTime`, `effectiveInstant` or `effectivePeriod.start`. A panel's `component[]` (blood pressure
 *   85354-9: systolic 8480-6, diastolic 8462-4) gives one observation per component, origin
 *   `Observation/<id>#component[i]`. Every value passes takeIn (take-in.ts): known code, UCUM conversion, plausible
 *   range. Lab codes (total cholesterol, glucose) also give `profile.latest[code]`, the latest by time.
 * - Times: a dateTime with a time of day must carry Z or an offset (FHIR requires it) and is exact; a date alone
 *   (YYYY-MM-DD) is midnight UTC; a year or a year and month alone is too vague for a reading and is refused.
 * - Status: `entered-in-error` and `cancelled` are not used (reason `withdrawn`); a status FHIR does not define is
 *   malformed; any other status, or none, is used.
 * - Patient: `birthDate` (a full date) and `gender` give ProfileFacts; a bundle holding two different Patients is
 *   refused whole, since its observations could be anyone's.
 * - Any other resource type is counted as skipped (`unknown_code`, naming the type); a resource without the fields
 *   it needs is `malformed`, naming `Observation/<id>` or, without an id, the source and entry index; the same
 *   measurement twice is one observation and `duplicate` issues.
 * Observations come out sorted by time. Input that is not JSON or not a FHIR resource throws IntakeFormatError.
 */

export interface FhirOptions {
  /** Names the input in messages and errors: a file name, "upload", ... */
  source: string;
}

const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";
/** Codes read as lab values: their latest Observation is also a profile fact. */
const LAB_CODES: ReadonlySet<string> = new Set(["2093-3", "2339-0"]);
const WITHDRAWN_STATUSES: ReadonlySet<string> = new Set(["entered-in-error", "cancelled"]);
const USED_STATUSES: ReadonlySet<string> = new Set(["registered", "preliminary", "final", "amended", "corrected", "unknown"]);
const GENDERS: ReadonlySet<string> = new Set(["male", "female", "other", "unknown"]);
/**
 * Codes other codes PMHE takes in refine: FHIR's vital-signs profile puts 2708-6 on every oxygen saturation, so a
 * pulse-oximetry reading carries 2708-6 and 59408-5; a resting heart rate may carry 8867-4 beside 40443-4.
 */
const GENERIC_CODES: ReadonlySet<string> = new Set(["2708-6", "8867-4"]);

/** The code of a reading among its LOINC codes: one PMHE takes in, a specific one before a generic one. */
function pickCode(codes: string[]): string | undefined {
  const known = codes.filter((c) => vitalSign(c) !== undefined);
  return known.find((c) => !GENERIC_CODES.has(c)) ?? known[0];
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);

/** Parses FHIR R4 JSON (text or parsed) into observations, profile facts and the issues of what was not used. */
export function parseFhir(input: string | unknown, options: FhirOptions): IntakeResult {
  const { source } = options;
  let json: unknown = input;
  if (typeof input === "string") {
    try {
      json = JSON.parse(input);
    } catch (error) {
      throw new IntakeFormatError(source, `is not valid JSON (${(error as Error).message})`, { cause: error });
    }
  }
  if (!isObject(json) || typeof json.resourceType !== "string") {
    throw new IntakeFormatError(source, "is not a FHIR resource (a JSON object with a resourceType)");
  }

  const reader = new Reader(source);
  if (json.resourceType === "Bundle") {
    const entries = json.entry ?? [];
    if (!Array.isArray(entries)) throw new IntakeFormatError(source, "is a Bundle whose entry is not an array");
    entries.forEach((entry: unknown, index) => {
      const where = `${source} entry[${index}]`;
      if (!isObject(entry) || !isObject(entry.resource)) reader.issue("malformed", where, "has no resource");
      else reader.resource(entry.resource, where);
    });
  } else {
    reader.resource(json, source);
  }
  return reader.result();
}

class Reader {
  private readonly observations: Observation[] = [];
  private readonly issues: IntakeIssue[] = [];
  private readonly profile: ProfileFacts = {};
  private readonly duplicates = new DuplicateFilter();
  /** The label of the Patient whose facts were taken, if any. */
  private patient: string | undefined;
  private readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  issue(reason: IntakeIssue["reason"], origin: string, message: string): void {
    this.issues.push({ reason, origin, message: `${origin}: ${message}` });
  }

  /** One resource; `where` names it when it has no id (the source, and the entry index in a bundle). */
  resource(resource: Json, where: string): void {
    const type = resource.resourceType;
    if (typeof type !== "string") return this.issue("malformed", where, "has no resourceType");
    const id = typeof resource.id === "string" && resource.id !== "" ? resource.id : undefined;
    const label = id === undefined ? `${where} (${type} without id)` : `${type}/${id}`;
    if (type === "Observation") this.observation(resource, label);
    else if (type === "Patient") this.patientFacts(resource, label);
    else this.issue("unknown_code", label, `resource type ${type} is not one PMHE takes in`);
  }

  private patientFacts(patient: Json, label: string): void {
    if (this.patient !== undefined) {
      if (this.patient === label) return; // the same Patient again
      throw new IntakeFormatError(this.source, `holds two Patients (${this.patient} and ${label}): one person's records only`);
    }
    this.patient = label;
    const { birthDate, gender } = patient;
    if (birthDate !== undefined) {
      if (typeof birthDate === "string" && fhirDate(birthDate) !== undefined) this.profile.birthDate = birthDate;
      else this.issue("malformed", label, `birthDate ${JSON.stringify(birthDate)} is not a full date (YYYY-MM-DD)`);
    }
    if (gender !== undefined) {
      if (typeof gender === "string" && GENDERS.has(gender)) this.profile.sex = gender as NonNullable<ProfileFacts["sex"]>;
      else this.issue("malformed", label, `gender ${JSON.stringify(gender)} is none of male, female, other, unknown`);
    }
  }

  private observation(resource: Json, label: string): void {
    const { status } = resource;
    if (status !== undefined) {
      if (typeof status === "string" && WITHDRAWN_STATUSES.has(status)) return this.issue("withdrawn", label, `has status ${status} and is not used`);
      if (typeof status !== "string" || !USED_STATUSES.has(status)) return this.issue("malformed", label, `status ${JSON.stringify(status)} is not an Observation status`);
    }
    const codes = codings(resource.code);
    if (codes === undefined) return this.issue("malformed", label, "has no code");
    const components = resource.component;
    if (components !== undefined && !Array.isArray(components)) return this.issue("malformed", label, "component is not an array");
    const code = pickCode(codes.loinc);
    const panel = codes.loinc.includes(BLOOD_PRESSURE_PANEL);
    if (code === undefined && components === undefined && !panel) return this.issue("unknown_code", label, notTakenIn(codes));
    const time = effectiveTime(resource);
    if (typeof time === "string") return this.issue("malformed", label, time);

    if (code !== undefined && resource.valueQuantity !== undefined) this.value(code, resource.valueQuantity, time, label);
    else if (components !== undefined) {
      if (components.length === 0) return this.issue("malformed", label, "has an empty component list");
      components.forEach((component: unknown, i) => {
        const origin = `${label}#component[${i}]`;
        if (!isObject(component)) return this.issue("malformed", origin, "is not an object");
        const componentCodes = codings(component.code);
        if (componentCodes === undefined) return this.issue("malformed", origin, "has no code");
        const componentCode = pickCode(componentCodes.loinc);
        if (componentCode === undefined) return this.issue("unknown_code", origin, notTakenIn(componentCodes));
        if (component.valueQuantity === undefined) return this.issue("malformed", origin, `${vitalSign(componentCode)!.name} has no valueQuantity${absent(component)}`);
        this.value(componentCode, component.valueQuantity, time, origin);
      });
    } else {
      const what = code === undefined ? "blood-pressure panel has no component" : `${vitalSign(code)!.name} has no valueQuantity`;
      this.issue("malformed", label, `${what}${absent(resource)}`);
    }
  }

  private value(code: string, quantity: unknown, time: number, origin: string): void {
    const name = vitalSign(code)?.name ?? code;
    if (!isObject(quantity) || typeof quantity.value !== "number") {
      return this.issue("malformed", origin, `${name} valueQuantity has no number value`);
    }
    if (quantity.comparator !== undefined) {
      return this.issue("malformed", origin, `${name} ${String(quantity.comparator)}${quantity.value} is a bound, not a measurement`);
    }
    const unit = quantity.system === UCUM && typeof quantity.code === "string" ? quantity.code : quantity.unit ?? quantity.code;
    if (typeof unit !== "string" || unit.trim() === "") return this.issue("malformed", origin, `${name} ${quantity.value} has no unit`);
    const taken = takeIn({ code, value: quantity.value, unit, time, origin });
    if (isIssue(taken)) return void this.issues.push(taken);
    const duplicate = this.duplicates.check(taken);
    if (duplicate) return void this.issues.push(duplicate);
    this.observations.push(taken);
    if (LAB_CODES.has(code)) {
      const latest = (this.profile.latest ??= {});
      const before = latest[code];
      if (before === undefined || taken.time > before.time) latest[code] = taken;
    }
  }

  result(): IntakeResult {
    const observations = [...this.observations].sort((a, b) => a.time - b.time);
    return { observations, profile: this.profile, issues: this.issues };
  }
}

/**
 * The codings of a CodeableConcept: its LOINC codes in order, and its codes of other systems ("system|code"), or
 * undefined when it has no coding with a code at all.
 */
function codings(concept: unknown): { loinc: string[]; other: string[] } | undefined {
  if (!isObject(concept) || !Array.isArray(concept.coding)) return undefined;
  const coded = concept.coding.filter((c): c is Json & { code: string } => isObject(c) && typeof c.code === "string" && c.code !== "");
  if (coded.length === 0) return undefined;
  return {
    loinc: coded.filter((c) => c.system === LOINC).map((c) => c.code),
    other: coded.filter((c) => c.system !== LOINC).map((c) => `${typeof c.system === "string" ? c.system : "(no system)"}|${c.code}`),
  };
}

/** Why none of a concept's codes is one PMHE takes in. */
function notTakenIn(codes: { loinc: string[]; other: string[] }): string {
  return codes.loinc.length > 0
    ? `LOINC code ${codes.loinc.join(", ")} is not one PMHE takes in`
    : `has no LOINC coding (only ${codes.other.join(", ")})`;
}

/** " (dataAbsentReason: ...)" when the resource says why it has no value. */
function absent(resource: Json): string {
  const reason = resource.dataAbsentReason;
  if (!isObject(reason)) return "";
  const coding = Array.isArray(reason.coding) ? reason.coding.find(isObject) : undefined;
  const text = typeof reason.text === "string" ? reason.text : typeof coding?.code === "string" ? coding.code : undefined;
  return text === undefined ? "" : ` (dataAbsentReason: ${text})`;
}

/** The Observation's time in milliseconds since the epoch, or a sentence saying what is wrong with it. */
function effectiveTime(resource: Json): number | string {
  const period = resource.effectivePeriod;
  const [field, text] =
    resource.effectiveDateTime !== undefined ? ["effectiveDateTime", resource.effectiveDateTime]
    : resource.effectiveInstant !== undefined ? ["effectiveInstant", resource.effectiveInstant]
    : period !== undefined ? ["effectivePeriod.start", isObject(period) ? period.start : undefined]
    : [undefined, undefined];
  if (field === undefined) return "has no effectiveDateTime, effectiveInstant or effectivePeriod.start";
  if (typeof text !== "string") return `${field} ${JSON.stringify(text) ?? "is missing"} is not a FHIR dateTime`;
  const parsed = fhirDateTime(text, field === "effectiveInstant");
  return typeof parsed === "number" ? parsed : `${field} "${text}" ${parsed}`;
}

// FHIR R4 dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss(.fraction) with Z or +hh:mm/-hh:mm.
const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** A FHIR dateTime (or instant) as milliseconds since the epoch, or the end of a sentence saying why it is not usable. */
export function fhirDateTime(text: string, instant = false): number | string {
  const m = DATE_TIME.exec(text);
  if (!m) return "is not a FHIR dateTime";
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  if (mo === undefined || d === undefined) return "gives only a year or a month, not the day of a reading";
  if (h !== undefined && zone === undefined) return "has a time of day without Z or an offset";
  if (instant && h === undefined) return "is a date, not an instant";
  const wall = utcMillis({ year: +y!, month: +mo, day: +d, hour: h ? +h : 0, minute: mi ? +mi : 0, second: s ? +s : 0, millisecond: fractionMillis(fraction) });
  if (wall === undefined) return "is not a date of the calendar";
  if (zone === undefined || zone === "Z") return wall;
  const sign = zone.startsWith("-") ? -1 : 1;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 14 || minutes > 59 || (hours === 14 && minutes > 0)) return "has an offset beyond ±14:00";
  return wall - sign * (hours * 60 + minutes) * 60_000;
}

/** A full FHIR date (YYYY-MM-DD) as midnight UTC, or undefined. */
function fhirDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? utcMillis({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: 0, minute: 0, second: 0, millisecond: 0 }) : undefined;
}
