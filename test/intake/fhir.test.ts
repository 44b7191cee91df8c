import { expect } from "chai";
import { expectClose } from "../helpers/close.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IntakeFormatError } from "../../protocol/intake/errors.js";
import { fhirDateTime, parseFhir } from "../../protocol/intake/fhir.js";
import { summarise, type IntakeResult } from "../../protocol/intake/observation.js";

/** FHIR R4 JSON in: bundles, single resources, unit conversion, refusals with their reasons, duplicates, the example. */

const SOURCE = "bundle.json";
const UCUM = "http://unitsofmeasure.org";
const at = (iso: string) => Date.parse(iso);

type Resource = Record<string, unknown>;

const loinc = (...codes: string[]) => ({ coding: codes.map((code) => ({ system: "http://loinc.org", code })) });
const quantity = (value: number, code: string) => ({ value, unit: code, system: UCUM, code });

/** An Observation of one value: LOINC code, value in a UCUM unit, effectiveDateTime. */
function observation(id: string | undefined, code: string, value: number, unit: string, time: string, extra: Resource = {}): Resource {
  return { resourceType: "Observation", ...(id === undefined ? {} : { id }), status: "final", code: loinc(code), effectiveDateTime: time, valueQuantity: quantity(value, unit), ...extra };
}

function bloodPressure(id: string, systolic: number, diastolic: number, unit: string, time: string): Resource {
  return {
    resourceType: "Observation",
    id,
    status: "final",
    code: loinc("85354-9"),
    effectiveDateTime: time,
    component: [
      { code: loinc("8480-6"), valueQuantity: quantity(systolic, unit) },
      { code: loinc("8462-4"), valueQuantity: quantity(diastolic, unit) },
    ],
  };
}

const bundle = (...resources: unknown[]) => ({ resourceType: "Bundle", type: "collection", entry: resources.map((resource) => ({ resource })) });
const patient = { resourceType: "Patient", id: "p1", birthDate: "1970-05-17", gender: "male" };
const parse = (input: unknown) => parseFhir(input, { source: SOURCE });
const reasons = (result: IntakeResult) => result.issues.map((i) => i.reason);

describe("FHIR R4 intake (protocol/intake/fhir.ts)", function () {
  describe("a valid bundle", function () {
    const input = bundle(
      patient,
      observation("chol", "2093-3", 212, "mg/dL", "2024-02-20"),
      bloodPressure("bp", 128, 82, "mm[Hg]", "2024-03-04T07:20:00+01:00"),
      observation("hr", "8867-4", 64, "/min", "2024-03-04T07:15:00+01:00"),
    );

    it("gives the patient's facts, every observation sorted by time, the lab value as latest, and no issue", function () {
      const result = parse(JSON.stringify(input));
      expect(result.issues).to.deep.equal([]);
      expect(result.observations).to.deep.equal([
        { code: "2093-3", time: at("2024-02-20T00:00:00Z"), value: 212, origin: "Observation/chol" },
        { code: "8867-4", time: at("2024-03-04T06:15:00Z"), value: 64, origin: "Observation/hr" },
        { code: "8480-6", time: at("2024-03-04T06:20:00Z"), value: 128, origin: "Observation/bp#component[0]" },
        { code: "8462-4", time: at("2024-03-04T06:20:00Z"), value: 82, origin: "Observation/bp#component[1]" },
      ]);
      expect(result.profile).to.deep.equal({
        birthDate: "1970-05-17",
        sex: "male",
        latest: { "2093-3": { code: "2093-3", time: at("2024-02-20T00:00:00Z"), value: 212, origin: "Observation/chol" } },
      });
      expect(summarise(result)).to.deep.equal({ used: 4, skipped: {}, byCode: { "2093-3": 1, "8867-4": 1, "8480-6": 1, "8462-4": 1 } });
    });

    it("reads JSON text and an already-parsed object alike", function () {
      expect(parse(input)).to.deep.equal(parse(JSON.stringify(input)));
    });

    it("reads a single Observation and a single Patient", function () {
      const one = parse(observation("hr", "8867-4", 64, "/min", "2024-03-04T07:15:00+01:00"));
      expect(one).to.deep.equal({ observations: [{ code: "8867-4", time: at("2024-03-04T06:15:00Z"), value: 64, origin: "Observation/hr" }], profile: {}, issues: [] });
      expect(parse(JSON.stringify({ resourceType: "Patient", birthDate: "1950-01-31", gender: "other" }))).to.deep.equal({
        observations: [],
        profile: { birthDate: "1950-01-31", sex: "other" },
        issues: [],
      });
    });

    it("keeps as latest lab value the one latest by time, not the last in the bundle", function () {
      const result = parse(bundle(observation("new", "2093-3", 190, "mg/dL", "2024-05-01"), observation("old", "2093-3", 230, "mg/dL", "2023-11-15")));
      expect(result.profile.latest).to.deep.equal({ "2093-3": { code: "2093-3", time: at("2024-05-01T00:00:00Z"), value: 190, origin: "Observation/new" } });
      expect(result.observations.map((o) => o.origin)).to.deep.equal(["Observation/old", "Observation/new"]);
    });

    it("takes the specific pulse-oximetry code when 2708-6 stands beside it, and a lone 2708-6 as itself", function () {
      const both = { ...observation("ox", "2708-6", 97, "%", "2024-03-04T08:00:00Z"), code: loinc("2708-6", "59408-5") };
      const result = parse(bundle(both, observation("abg", "2708-6", 95, "%", "2024-03-04T09:00:00Z")));
      expect(result.observations.map((o) => [o.origin, o.code])).to.deep.equal([
        ["Observation/ox", "59408-5"],
        ["Observation/abg", "2708-6"],
      ]);
    });

    it("reads effectiveInstant, effectivePeriod.start, offsets and fractions of a second", function () {
      const { effectiveDateTime: _, ...noTime } = observation("x", "8867-4", 70, "/min", "");
      const result = parse(
        bundle(
          { ...noTime, id: "instant", effectiveInstant: "2024-03-04T10:00:00.250Z" },
          { ...noTime, id: "period", effectivePeriod: { start: "2024-03-04T10:00:00-05:30", end: "2024-03-04T10:05:00-05:30" } },
        ),
      );
      expect(result.issues).to.deep.equal([]);
      expect(result.observations.map((o) => [o.origin, o.time])).to.deep.equal([
        ["Observation/instant", at("2024-03-04T10:00:00.250Z")],
        ["Observation/period", at("2024-03-04T15:30:00Z")],
      ]);
      expect(fhirDateTime("2024-03-04T23:59:59.123456789+14:00")).to.equal(at("2024-03-04T09:59:59.123Z"));
      expect(fhirDateTime("2024-03-04", true)).to.equal("is a date, not an instant");
    });
  });

  describe("units other than the canonical ones", function () {
    it("converts °F body temperature, kPa blood pressure, and mmol/L glucose and cholesterol", function () {
      const result = parse(
        bundle(
          observation("temp", "8310-5", 98.6, "[degF]", "2024-03-04T08:00:00Z"),
          bloodPressure("bp", 16, 10.5, "kPa", "2024-03-04T08:01:00Z"),
          observation("glucose", "2339-0", 5.5, "mmol/L", "2024-03-04T08:02:00Z"),
          observation("chol", "2093-3", 5.2, "mmol/L", "2024-03-04T08:03:00Z"),
        ),
      );
      expect(result.issues).to.deep.equal([]);
      const value = (origin: string) => result.observations.find((o) => o.origin === origin)!.value;
      expectClose(value("Observation/temp"), ((98.6 - 32) * 5) / 9, 1e-9); // 37 Cel
      // UCUM: 1 m[Hg] = 133.322 kPa, so 1 mm[Hg] = 133.322 Pa.
      expectClose(value("Observation/bp#component[0]"), 16_000 / 133.322, 1e-9); // 120.01 mm[Hg]
      expectClose(value("Observation/bp#component[1]"), 10_500 / 133.322, 1e-9); // 78.76 mm[Hg]
      // mmol/L × g/mol = mg/L; / 10 = mg/dL. Glucose 180.156 g/mol, cholesterol 386.65 g/mol.
      expectClose(value("Observation/glucose"), (5.5 * 180.156) / 10, 1e-9); // 99.09 mg/dL
      expectClose(value("Observation/chol"), (5.2 * 386.65) / 10, 1e-9); // 201.06 mg/dL
    });

    it("reads the unit from `unit` when the quantity is not coded in UCUM", function () {
      const hr = observation("hr", "8867-4", 70, "/min", "2024-03-04T08:00:00Z", { valueQuantity: { value: 70, unit: "bpm" } });
      expect(parse(hr).observations).to.deep.equal([{ code: "8867-4", time: at("2024-03-04T08:00:00Z"), value: 70, origin: "Observation/hr" }]);
    });

    it("refuses a unit UCUM cannot convert to the code's unit as wrong_unit", function () {
      const result = parse(observation("kg", "8867-4", 70, "kg", "2024-03-04T08:00:00Z"));
      expect(result.observations).to.deep.equal([]);
      expect(reasons(result)).to.deep.equal(["wrong_unit"]);
      expect(result.issues[0]!.origin).to.equal("Observation/kg");
      expect(result.issues[0]!.message).to.match(/^Observation\/kg: heart rate in "kg" cannot be converted to \/min \(/);
    });
  });

  describe("refusals", function () {
    it("counts unknown codes, other resource types and unknown panel components as unknown_code", function () {
      const panel = bloodPressure("bp", 120, 80, "mm[Hg]", "2024-03-04T08:00:00Z");
      (panel.component as unknown[]).push({ code: loinc("8478-0"), valueQuantity: quantity(93, "mm[Hg]") });
      const snomed = { ...observation("sct", "8867-4", 70, "/min", "2024-03-04T08:00:00Z"), code: { coding: [{ system: "http://snomed.info/sct", code: "364075005" }] } };
      const result = parse(
        bundle(
          observation("weight", "29463-7", 80, "kg", "2024-03-04T08:00:00Z"),
          { resourceType: "Condition", id: "c1" },
          { resourceType: "Immunization" },
          snomed,
          panel,
        ),
      );
      expect(result.issues).to.deep.equal([
        { reason: "unknown_code", origin: "Observation/weight", message: "Observation/weight: LOINC code 29463-7 is not one PMHE takes in" },
        { reason: "unknown_code", origin: "Condition/c1", message: "Condition/c1: resource type Condition is not one PMHE takes in" },
        {
          reason: "unknown_code",
          origin: "bundle.json entry[2] (Immunization without id)",
          message: "bundle.json entry[2] (Immunization without id): resource type Immunization is not one PMHE takes in",
        },
        { reason: "unknown_code", origin: "Observation/sct", message: "Observation/sct: has no LOINC coding (only http://snomed.info/sct|364075005)" },
        { reason: "unknown_code", origin: "Observation/bp#component[2]", message: "Observation/bp#component[2]: LOINC code 8478-0 is not one PMHE takes in" },
      ]);
      expect(result.observations.map((o) => o.origin)).to.deep.equal(["Observation/bp#component[0]", "Observation/bp#component[1]"]);
    });

    it("names every malformed resource as malformed, by id or by entry index, and drops none silently", function () {
      const hr = (id: string | undefined, extra: Resource) => observation(id, "8867-4", 70, "/min", "2024-03-04T08:00:00Z", extra);
      const { effectiveDateTime: _, ...noTime } = hr("notime", {});
      const { valueQuantity: __, ...noValue } = hr("novalue", { dataAbsentReason: { coding: [{ code: "asked-declined" }] } });
      const result = parse({
        resourceType: "Bundle",
        entry: [
          { resource: hr("nocode", { code: { text: "pulse" } }) },
          { resource: noValue },
          { resource: hr("baddate", { effectiveDateTime: "2024-02-30T08:00:00Z" }) },
          { resource: hr("month", { effectiveDateTime: "2024-03" }) },
          { resource: hr("nozone", { effectiveDateTime: "2024-03-04T08:00:00" }) },
          { resource: noTime },
          { fullUrl: "urn:uuid:1" },
          { resource: hr(undefined, { valueQuantity: { value: "70", unit: "/min" } }) },
          { resource: hr("bound", { valueQuantity: { value: 300, comparator: ">", system: UCUM, code: "/min" } }) },
          { resource: hr("nounit", { valueQuantity: { value: 70 } }) },
          { resource: { resourceType: "Observation", id: "emptypanel", code: loinc("85354-9"), effectiveDateTime: "2024-03-04T08:00:00Z" } },
        ],
      });
      expect(result.observations).to.deep.equal([]);
      expect(result.issues).to.deep.equal(
        [
          ["Observation/nocode", "has no code"],
          ["Observation/novalue", "heart rate has no valueQuantity (dataAbsentReason: asked-declined)"],
          ["Observation/baddate", 'effectiveDateTime "2024-02-30T08:00:00Z" is not a date of the calendar'],
          ["Observation/month", 'effectiveDateTime "2024-03" gives only a year or a month, not the day of a reading'],
          ["Observation/nozone", 'effectiveDateTime "2024-03-04T08:00:00" has a time of day without Z or an offset'],
          ["Observation/notime", "has no effectiveDateTime, effectiveInstant or effectivePeriod.start"],
          ["bundle.json entry[6]", "has no resource"],
          ["bundle.json entry[7] (Observation without id)", "heart rate valueQuantity has no number value"],
          ["Observation/bound", "heart rate >300 is a bound, not a measurement"],
          ["Observation/nounit", "heart rate 70 has no unit"],
          ["Observation/emptypanel", "blood-pressure panel has no component"],
        ].map(([origin, message]) => ({ reason: "malformed", origin, message: `${origin}: ${message}` })),
      );
    });

    it("refuses a year-only date and a partial birth date, and an unknown gender", function () {
      const result = parse(bundle({ ...patient, birthDate: "1970-05", gender: "M" }, observation("year", "8867-4", 70, "/min", "2024")));
      expect(result.profile).to.deep.equal({});
      expect(result.issues.map((i) => [i.reason, i.message])).to.deep.equal([
        ["malformed", 'Patient/p1: birthDate "1970-05" is not a full date (YYYY-MM-DD)'],
        ["malformed", 'Patient/p1: gender "M" is none of male, female, other, unknown'],
        ["malformed", 'Observation/year: effectiveDateTime "2024" gives only a year or a month, not the day of a reading'],
      ]);
    });

    it("throws IntakeFormatError naming the source for malformed JSON and for JSON that is no FHIR resource", function () {
      const thrown = (input: unknown) => {
        try {
          parseFhir(input, { source: "upload.json" });
        } catch (error) {
          return error;
        }
        throw new Error("expected a throw");
      };
      const bad = thrown('{"resourceType": "Bundle", "entry": [');
      expect(bad).to.be.instanceOf(IntakeFormatError);
      expect((bad as IntakeFormatError).name).to.equal("IntakeFormatError");
      expect((bad as IntakeFormatError).source).to.equal("upload.json");
      expect((bad as Error).message).to.match(/^upload\.json: is not valid JSON \(.+\)$/);
      expect((thrown("[1, 2]") as Error).message).to.equal("upload.json: is not a FHIR resource (a JSON object with a resourceType)");
      expect((thrown({ resourceType: "Bundle", entry: {} }) as Error).message).to.equal("upload.json: is a Bundle whose entry is not an array");
    });

    it("refuses a bundle of two different patients whole, and takes the same Patient twice", function () {
      expect(() => parse(bundle(patient, { ...patient, id: "p2" }))).to.throw(IntakeFormatError, "bundle.json: holds two Patients (Patient/p1 and Patient/p2): one person's records only");
      expect(parse(bundle(patient, patient)).profile).to.deep.equal({ birthDate: "1970-05-17", sex: "male" });
    });

    it("does not use entered-in-error and cancelled Observations (withdrawn), and refuses a status FHIR does not define", function () {
      const hr = (id: string, status: string, value: number) => observation(id, "8867-4", value, "/min", "2024-03-04T08:00:00Z", { status });
      const result = parse(bundle(hr("err", "entered-in-error", 70), hr("cancel", "cancelled", 71), hr("odd", "done", 72), hr("amended", "amended", 73), hr("prelim", "preliminary", 74)));
      expect(result.issues).to.deep.equal([
        { reason: "withdrawn", origin: "Observation/err", message: "Observation/err: has status entered-in-error and is not used" },
        { reason: "withdrawn", origin: "Observation/cancel", message: "Observation/cancel: has status cancelled and is not used" },
        { reason: "malformed", origin: "Observation/odd", message: 'Observation/odd: status "done" is not an Observation status' },
      ]);
      expect(result.observations.map((o) => o.value)).to.deep.equal([73, 74]);
      expect(summarise(result).skipped).to.deep.equal({ withdrawn: 2, malformed: 1 });
    });

    it("refuses physiologically impossible values, and takes the range's bounds", function () {
      const result = parse(
        bundle(
          observation("hr0", "8867-4", 0, "/min", "2024-03-04T08:00:00Z"),
          observation("hr400", "8867-4", 400, "/min", "2024-03-04T08:01:00Z"),
          observation("ox101", "59408-5", 101, "%", "2024-03-04T08:02:00Z"),
          observation("hr20", "8867-4", 20, "/min", "2024-03-04T08:03:00Z"),
          observation("hr300", "8867-4", 300, "/min", "2024-03-04T08:04:00Z"),
          observation("ox100", "59408-5", 100, "%", "2024-03-04T08:05:00Z"),
        ),
      );
      expect(result.issues).to.deep.equal([
        { reason: "impossible_value", origin: "Observation/hr0", message: "Observation/hr0: heart rate 0 /min (0 /min) is outside 20 to 300 /min, physiologically impossible" },
        { reason: "impossible_value", origin: "Observation/hr400", message: "Observation/hr400: heart rate 400 /min (400 /min) is outside 20 to 300 /min, physiologically impossible" },
        {
          reason: "impossible_value",
          origin: "Observation/ox101",
          message: "Observation/ox101: oxygen saturation (pulse oximetry) 101 % (101 %) is outside 50 to 100 %, physiologically impossible",
        },
      ]);
      expect(result.observations.map((o) => o.value)).to.deep.equal([20, 300, 100]);
    });
  });

  describe("duplicates", function () {
    it("keeps the same Observation twice once, the second a duplicate naming the first", function () {
      const hr = observation("hr-1", "8867-4", 64, "/min", "2024-03-04T07:15:00+01:00");
      const result = parse(bundle(hr, observation("hr-2", "8867-4", 64, "/min", "2024-03-04T06:15:00Z"), hr, observation("hr-3", "8867-4", 65, "/min", "2024-03-04T06:15:00Z")));
      expect(result.observations.map((o) => [o.origin, o.value])).to.deep.equal([
        ["Observation/hr-1", 64],
        ["Observation/hr-3", 65],
      ]);
      expect(result.issues).to.deep.equal([
        { reason: "duplicate", origin: "Observation/hr-2", message: "Observation/hr-2: heart rate 64 /min at 2024-03-04T06:15:00.000Z repeats Observation/hr-1, counted once" },
        { reason: "duplicate", origin: "Observation/hr-1", message: "Observation/hr-1: heart rate 64 /min at 2024-03-04T06:15:00.000Z repeats Observation/hr-1, counted once" },
      ]);
    });

    it("counts the same reading in °F and in Cel once, and the same blood-pressure panel once per component", function () {
      const result = parse(
        bundle(
          observation("c", "8310-5", 37, "Cel", "2024-03-04T08:00:00Z"),
          observation("f", "8310-5", 98.6, "[degF]", "2024-03-04T08:00:00Z"),
          bloodPressure("bp1", 120, 80, "mm[Hg]", "2024-03-04T08:00:00Z"),
          bloodPressure("bp2", 120, 80, "mm[Hg]", "2024-03-04T08:00:00Z"),
        ),
      );
      expect(result.observations.map((o) => o.origin)).to.deep.equal(["Observation/c", "Observation/bp1#component[0]", "Observation/bp1#component[1]"]);
      expect(result.issues.map((i) => [i.reason, i.origin])).to.deep.equal([
        ["duplicate", "Observation/f"],
        ["duplicate", "Observation/bp2#component[0]"],
        ["duplicate", "Observation/bp2#component[1]"],
      ]);
    });
  });

  it("parses the synthetic example bundle with no issue", function () {
    const text = readFileSync(fileURLToPath(new URL("../../data/examples/synthetic-bundle.fhir.json", import.meta.url)), "utf8");
    const result = parseFhir(text, { source: "synthetic-bundle.fhir.json" });
    expect(result.issues).to.deep.equal([]);
    expect(summarise(result)).to.deep.equal({
      used: 11,
      skipped: {},
      byCode: { "2093-3": 1, "2339-0": 1, "8867-4": 3, "59408-5": 1, "8480-6": 2, "8462-4": 2, "8310-5": 1 },
    });
    expect(result.profile.birthDate).to.equal("1968-09-21");
    expect(result.profile.sex).to.equal("female");
    expect(result.profile.latest?.["2093-3"]).to.deep.equal({ code: "2093-3", time: at("2024-02-20T00:00:00Z"), value: 212, origin: "Observation/chol-1" });
    expectClose(result.profile.latest?.["2339-0"]?.value ?? Number.NaN, (5.4 * 180.156) / 10, 1e-9);
    const times = result.observations.map((o) => o.time);
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
    expect(result.observations[0]!.origin).to.equal("Observation/chol-1");
    expect(result.observations.at(-1)!.origin).to.equal("Observation/bp-2#component[1]");
  });
});
