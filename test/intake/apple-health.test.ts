import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { expectClose } from "../helpers/close.js";
import {
  AppleHealthFormatError,
  createAppleHealthParser,
  parseAppleHealth,
  parseAppleHealthDate,
  parseAppleHealthText,
  parseDecimal,
  type AppleHealthResult,
} from "../../protocol/intake/apple-health.js";
import { IntakeFormatError } from "../../protocol/intake/errors.js";
import { summarise, type IntakeIssue, type Observation } from "../../protocol/intake/observation.js";
import { measureAppleHealthParsing } from "../../scripts/lib/apple-health-bench.js";
import { writeSyntheticAppleHealthExport } from "../../scripts/lib/apple-health-export.js";

const ROOT = join(import.meta.dirname, "..", "..");
const EXAMPLE = join(ROOT, "data", "examples", "synthetic-apple-health-export.xml");

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
`;

/** An export around `lines`, one element a line. */
const exportOf = (lines: string[]) => `${HEAD}${lines.join("\n")}\n</HealthData>\n`;

let marker = 0;
/** A Record line; `sourceVersion` is a unique marker so a test can find its line in the text. */
function rec(type: string, unit: string | undefined, value: string | undefined, start: string | undefined, indent = " "): string {
  const attributes = [`type="HKQuantityTypeIdentifier${type}"`, `sourceName="Test Watch (synthetic)"`, `sourceVersion="m${++marker}"`];
  if (unit !== undefined) attributes.push(`unit="${unit}"`);
  if (start !== undefined) attributes.push(`creationDate="${start}"`, `startDate="${start}"`, `endDate="${start}"`);
  if (value !== undefined) attributes.push(`value="${value}"`);
  return `${indent}<Record ${attributes.join(" ")}/>`;
}

/** The 1-based line of the first line of `text` containing `needle`, counted here, not by the parser. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} is not in the text`);
  return text.slice(0, at).split("\n").length;
}
const markerOf = (line: string) => /sourceVersion="(m\d+)"/.exec(line)![1]!;
const originOf = (text: string, line: string, source = "test.xml") => `${source}:${lineOf(text, `sourceVersion="${markerOf(line)}"`)}`;

const T = "2024-03-05 08:15:00 -0500";
/** 2024-03-05 08:15 at -05:00 is 13:15 UTC. */
const T_UTC = Date.UTC(2024, 2, 5, 13, 15, 0);

/** Runs bytes through parseAppleHealth in chunks of `size` bytes (or whole), collecting everything. */
async function parseBytes(bytes: Uint8Array, size: number, source = "test.xml"): Promise<AppleHealthResult> {
  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const summary = await parseAppleHealth(chunks(), { source, onObservation: (o) => observations.push(o), onIssue: (i) => issues.push(i) });
  return { observations, issues, profile: summary.profile, summary };
}

/** Runs text through createAppleHealthParser in chunks of `size` UTF-16 code units (cutting surrogate pairs too). */
function parseChars(text: string, size: number, source = "test.xml"): AppleHealthResult {
  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  const parser = createAppleHealthParser({ source, onObservation: (o) => observations.push(o), onIssue: (i) => issues.push(i) });
  for (let i = 0; i < text.length; i += size) parser.write(text.slice(i, i + size));
  const summary = parser.close();
  return { observations, issues, profile: summary.profile, summary };
}

function expectFormatError(run: () => unknown, line: number, detail: RegExp, source = "bad.xml"): AppleHealthFormatError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, "no error thrown").to.be.instanceOf(AppleHealthFormatError);
  const error = caught as AppleHealthFormatError;
  expect(error).to.be.instanceOf(IntakeFormatError);
  expect(error.source).to.equal(source);
  expect(error.line).to.equal(line);
  expect(error.message).to.match(new RegExp(`^${source}: line ${line}: `));
  expect(error.detail).to.match(detail);
  return error;
}

describe("Apple Health export.xml (protocol/intake/apple-health.ts)", function () {
  describe("dates and numbers as Apple writes them", function () {
    it("reads startDate with its offset exactly, to UTC milliseconds", function () {
      expect(parseAppleHealthDate(T)).to.equal(T_UTC);
      expect(parseAppleHealthDate("2024-03-05 08:15:00 +0530")).to.equal(Date.UTC(2024, 2, 5, 2, 45));
      expect(parseAppleHealthDate("2024-03-05 08:15:00 +0000")).to.equal(Date.UTC(2024, 2, 5, 8, 15));
      expect(parseAppleHealthDate("2024-03-05 08:15:00 -0000")).to.equal(Date.UTC(2024, 2, 5, 8, 15));
      expect(parseAppleHealthDate("2024-02-29 23:59:59 +1400")).to.equal(Date.UTC(2024, 1, 29, 9, 59, 59));
      expect(parseAppleHealthDate("2023-12-31 22:30:00 -0330")).to.equal(Date.UTC(2024, 0, 1, 2, 0));
      expect(parseAppleHealthDate("1969-07-20 20:17:40 +0000")).to.equal(-14182940000);
      expect(parseAppleHealthDate("2000-02-29 00:00:00 +0000")).to.equal(951782400000);
      // Year 50 is year 50, not 1950 (Date.UTC would say 1950).
      expect(parseAppleHealthDate("0050-01-01 00:00:00 +0000")).to.equal(new Date("0050-01-01T00:00:00Z").getTime());
    });

    it("refuses anything else: ISO forms, impossible dates and times, no offset, spaces", function () {
      for (const bad of [
        "2024-03-05T08:15:00-05:00",
        "2024-03-05 08:15:00",
        "2024-03-05 08:15:00 -05:00",
        "2024-03-05 08:15 -0500",
        "2023-02-29 08:15:00 -0500",
        "2024-04-31 08:15:00 -0500",
        "2024-13-01 08:15:00 -0500",
        "2024-00-01 08:15:00 -0500",
        "2024-03-05 24:00:00 -0500",
        "2024-03-05 08:60:00 -0500",
        "2024-03-05 08:15:60 -0500",
        "2024-03-05 08:15:00 +1500",
        "2024-03-05 08:15:00 *0500",
        " 2024-03-05 08:15:00 -050",
        "2024-3-05 08:15:00 -05000",
        "",
        undefined,
      ]) {
        expect(parseAppleHealthDate(bad), String(bad)).to.be.NaN;
      }
    });

    it("reads decimals and nothing else", function () {
      expect(parseDecimal("72")).to.equal(72);
      expect(parseDecimal("0.97")).to.equal(0.97);
      expect(parseDecimal("-1.5")).to.equal(-1.5);
      expect(parseDecimal("+3")).to.equal(3);
      expect(parseDecimal(".5")).to.equal(0.5);
      expect(parseDecimal("5.")).to.equal(5);
      expect(parseDecimal("1e-3")).to.equal(0.001);
      expect(parseDecimal("2.5E+2")).to.equal(250);
      for (const bad of ["", " ", " 72", "72 ", "72bpm", "0x10", "Infinity", "NaN", "1e999", "1e", "-", ".", "1,5", "--1", undefined]) {
        expect(parseDecimal(bad), String(bad)).to.be.NaN;
      }
    });
  });

  describe("records", function () {
    it("takes in mixed types and units: °F, Apple's molar glucose, the SpO2 fraction, another offset", function () {
      const lines = [
        ` <ExportDate value="2024-03-06 09:00:00 -0500"/>`,
        ` <Me HKCharacteristicTypeIdentifierDateOfBirth="1970-01-31" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexMale" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet"/>`,
        rec("HeartRate", "count/min", "72", T),
        rec("RestingHeartRate", "count/min", "58", "2024-03-05 00:00:00 -0500"),
        rec("OxygenSaturation", "%", "0.97", T),
        rec("OxygenSaturation", "%", "0.955", T),
        rec("BodyTemperature", "degF", "98.6", T),
        rec("BodyTemperature", "degC", "37.2", "2024-03-05 08:15:00 +0530"),
        rec("BloodGlucose", "mmol&lt;180.1558800000541&gt;/L", "5.5", T),
        rec("BloodGlucose", "mg/dL", "104", T),
        rec("StepCount", "count", "120", T),
        rec("StepCount", "count", "80", T),
        rec("ActiveEnergyBurned", "Cal", "1.25", T),
      ];
      const text = exportOf(lines);
      const result = parseAppleHealthText(text, { source: "test.xml" });
      expect(result.issues).to.deep.equal([]);
      const at = (i: number) => originOf(text, lines[i]!);
      const expected: Array<[string, number, number, string]> = [
        ["8867-4", T_UTC, 72, at(2)],
        ["40443-4", Date.UTC(2024, 2, 5, 5, 0), 58, at(3)],
        ["59408-5", T_UTC, 97, at(4)],
        ["59408-5", T_UTC, 95.5, at(5)],
        // (98.6 - 32) * 5 / 9 = 37 exactly.
        ["8310-5", T_UTC, 37, at(6)],
        // 08:15 at +05:30 is 02:45 UTC.
        ["8310-5", Date.UTC(2024, 2, 5, 2, 45), 37.2, at(7)],
        // 5.5 mmol/L of glucose (180.156 g/mol, i.e. mg/mmol) is 5.5 * 180.156 mg/L = 99.0858 mg/dL; Apple's weight
        // in the unit, 180.15588, gives 99.08573: the same to 1e-3.
        ["2339-0", T_UTC, 99.0858, at(8)],
        ["2339-0", T_UTC, 104, at(9)],
      ];
      expect(result.observations.map((o) => [o.code, o.time, o.origin])).to.deep.equal(expected.map(([code, time, , origin]) => [code, time, origin]));
      result.observations.forEach((o, i) => expectClose(o.value, expected[i]![2], 1e-3, `${o.code} at ${o.origin}`));
      // The fraction and the Fahrenheit conversion are exact, not merely close.
      expect(result.observations[2]!.value).to.equal(97);
      expect(result.observations[3]!.value).to.equal(95.5);
      expectClose(result.observations[4]!.value, 37, 1e-9);

      expect(result.profile).to.deep.equal({ birthDate: "1970-01-31", sex: "male" });
      const summary = result.summary;
      expect(summary.records).to.equal(11);
      expect(summary.used).to.equal(8);
      expect(summary.byCode).to.deep.equal({ "8867-4": 1, "40443-4": 1, "59408-5": 2, "8310-5": 2, "2339-0": 2 });
      expect(summary.skipped).to.deep.equal({ unknown_code: 3 });
      expect(summary.unknownTypes).to.deep.equal({ HKQuantityTypeIdentifierActiveEnergyBurned: 1, HKQuantityTypeIdentifierStepCount: 2 });
      expect(summary.exportDate).to.equal(Date.UTC(2024, 2, 6, 14, 0));
    });

    it("counts blood pressure once when Apple writes it in a Correlation and top-level too", function () {
      const start = "2024-03-05 07:30:00 -0500";
      const evening = "2024-03-05 19:30:00 -0500";
      const lines = [
        ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Cuff (synthetic)" startDate="${start}" endDate="${start}">`,
        `  <MetadataEntry key="HKWasUserEntered" value="0"/>`,
        rec("BloodPressureSystolic", "mmHg", "121", start, "  "),
        rec("BloodPressureDiastolic", "mmHg", "79", start, "  "),
        ` </Correlation>`,
        rec("BloodPressureSystolic", "mmHg", "121", start),
        rec("BloodPressureDiastolic", "mmHg", "79", start),
        // The same time, another value: another reading.
        rec("BloodPressureSystolic", "mmHg", "125", start),
        // Only in a Correlation (older exports): taken in.
        ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Cuff (synthetic)" startDate="${evening}" endDate="${evening}">`,
        rec("BloodPressureSystolic", "mmHg", "131", evening, "  "),
        rec("BloodPressureDiastolic", "mmHg", "84", evening, "  "),
        ` </Correlation>`,
        // Top-level before its Correlation this time.
        rec("BloodPressureDiastolic", "mmHg", "77", "2024-03-06 07:30:00 -0500"),
        ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Cuff (synthetic)" startDate="2024-03-06 07:30:00 -0500" endDate="2024-03-06 07:30:00 -0500">`,
        rec("BloodPressureDiastolic", "mmHg", "77", "2024-03-06 07:30:00 -0500", "  "),
        ` </Correlation>`,
      ];
      const text = exportOf(lines);
      const result = parseAppleHealthText(text, { source: "test.xml" });
      expect(result.issues).to.deep.equal([]);
      expect(result.observations.map((o) => [o.code, o.value, o.origin])).to.deep.equal([
        ["8480-6", 121, originOf(text, lines[2]!)],
        ["8462-4", 79, originOf(text, lines[3]!)],
        ["8480-6", 125, originOf(text, lines[7]!)],
        ["8480-6", 131, originOf(text, lines[9]!)],
        ["8462-4", 84, originOf(text, lines[10]!)],
        ["8462-4", 77, originOf(text, lines[12]!)],
      ]);
      expect(result.summary).to.include({ records: 9, used: 6 });
      expect(result.summary.skipped).to.deep.equal({ duplicate: 3 });
      expect(result.summary.byCode).to.deep.equal({ "8480-6": 3, "8462-4": 3 });
    });

    it("counts types PMHE does not take in per type, without an issue per record", function () {
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) lines.push(rec("StepCount", "count", String(i), T));
      for (let i = 0; i < 250; i++) lines.push(rec("ActiveEnergyBurned", "Cal", "0.5", T));
      lines.push(` <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="W (synthetic)" startDate="${T}" endDate="${T}" value="HKCategoryValueSleepAnalysisAsleepCore"/>`);
      // Even a malformed value or date in a type not taken in is just that type, counted.
      lines.push(rec("StepCount", "count", "lots", "yesterday"));
      lines.push(rec("HeartRate", "count/min", "64", T));
      const issues: IntakeIssue[] = [];
      const parser = createAppleHealthParser({ source: "test.xml", onIssue: (i) => issues.push(i) });
      parser.write(exportOf(lines));
      const summary = parser.close();
      expect(issues).to.deep.equal([]);
      expect(summary.unknownTypes).to.deep.equal({
        HKCategoryTypeIdentifierSleepAnalysis: 1,
        HKQuantityTypeIdentifierActiveEnergyBurned: 250,
        HKQuantityTypeIdentifierStepCount: 1001,
      });
      expect(summary.skipped).to.deep.equal({ unknown_code: 1252 });
      expect(summary).to.include({ records: 1253, used: 1 });
    });

    it("reports malformed values and dates and wrong units of the types it takes in, each at its line", function () {
      const lines = [
        rec("HeartRate", "count/min", "abc", T),
        rec("HeartRate", "count/min", "", T),
        rec("HeartRate", "count/min", undefined, T),
        rec("HeartRate", "count/min", "72bpm", T),
        rec("HeartRate", "count/min", "1e999", T),
        rec("HeartRate", "count/min", " 72", T),
        rec("HeartRate", "count/min", "72", "2024-03-05T08:15:00-05:00"),
        rec("HeartRate", "count/min", "72", "2024-02-30 08:15:00 -0500"),
        rec("HeartRate", "count/min", "72", "2024-03-05 08:15:00"),
        rec("HeartRate", "count/min", "72", undefined),
        rec("HeartRate", "mmHg", "72", T),
        rec("BodyTemperature", "kg", "37", T),
        rec("BloodGlucose", "mmol&lt;386.65&gt;/L", "5", T),
        rec("HeartRate", undefined, "72", T),
        ` <Record sourceName="No type (synthetic)" sourceVersion="m-none" unit="count/min" startDate="${T}" endDate="${T}" value="72"/>`,
        rec("HeartRate", "count/min", "73", T),
      ];
      const text = exportOf(lines);
      const result = parseAppleHealthText(text, { source: "test.xml" });
      const reasons = ["malformed", "malformed", "malformed", "malformed", "malformed", "malformed", "malformed", "malformed", "malformed", "malformed", "wrong_unit", "wrong_unit", "wrong_unit", "wrong_unit", "malformed"];
      expect(result.issues.map((i) => [i.reason, i.origin])).to.deep.equal(
        reasons.map((reason, i) => [reason, `test.xml:${lineOf(text, lines[i]!.trim())}`]),
      );
      for (const issue of result.issues) expect(issue.message.startsWith(`${issue.origin}: `), issue.message).to.equal(true);
      expect(result.issues[0]!.message).to.contain('"abc"');
      expect(result.issues[2]!.message).to.contain("(missing)");
      expect(result.issues[6]!.message).to.contain('"2024-03-05T08:15:00-05:00"');
      expect(result.observations.map((o) => [o.value, o.origin])).to.deep.equal([[73, originOf(text, lines[15]!)]]);
      expect(result.summary.skipped).to.deep.equal({ malformed: 11, wrong_unit: 4 });
      expect(result.summary.records).to.equal(16);
    });

    it("refuses impossible values: heart rate 0 and 400, SpO2 1.2 (120 %), and keeps the bounds", function () {
      const lines = [
        rec("HeartRate", "count/min", "0", T),
        rec("HeartRate", "count/min", "400", T),
        rec("OxygenSaturation", "%", "1.2", T),
        rec("OxygenSaturation", "%", "0.3", T),
        rec("BloodPressureSystolic", "mmHg", "12", T),
        rec("BodyTemperature", "degF", "212", T),
        rec("HeartRate", "count/min", "300", T),
        rec("HeartRate", "count/min", "20", T),
        rec("OxygenSaturation", "%", "1", T),
        rec("OxygenSaturation", "%", "0.5", T),
      ];
      const text = exportOf(lines);
      const result = parseAppleHealthText(text, { source: "test.xml" });
      expect(result.issues.map((i) => [i.reason, i.origin])).to.deep.equal(lines.slice(0, 6).map((l) => ["impossible_value", originOf(text, l)]));
      expect(result.issues[2]!.message).to.contain("120 %");
      expect(result.issues[3]!.message).to.contain("30 %");
      expect(result.observations.map((o) => [o.code, o.value])).to.deep.equal([
        ["8867-4", 300],
        ["8867-4", 20],
        ["59408-5", 100],
        ["59408-5", 50],
      ]);
      expect(result.summary.skipped).to.deep.equal({ impossible_value: 6 });
    });

    it("reads the profile from <Me>, and reports a malformed one", function () {
      const me = (birth: string, sex: string) => exportOf([` <Me HKCharacteristicTypeIdentifierDateOfBirth="${birth}" HKCharacteristicTypeIdentifierBiologicalSex="${sex}"/>`]);
      expect(parseAppleHealthText(me("1962-07-14", "HKBiologicalSexFemale"), { source: "a" }).profile).to.deep.equal({ birthDate: "1962-07-14", sex: "female" });
      expect(parseAppleHealthText(me("2000-02-29", "HKBiologicalSexOther"), { source: "a" }).profile).to.deep.equal({ birthDate: "2000-02-29", sex: "other" });
      const unset = parseAppleHealthText(me("", "HKBiologicalSexNotSet"), { source: "a" });
      expect(unset.profile).to.deep.equal({});
      expect(unset.issues).to.deep.equal([]);
      const bad = parseAppleHealthText(me("1962-02-30", "Male"), { source: "a" });
      expect(bad.profile).to.deep.equal({});
      expect(bad.issues.map((i) => [i.reason, i.origin])).to.deep.equal([
        ["malformed", `a:${HEAD.split("\n").length}`],
        ["malformed", `a:${HEAD.split("\n").length}`],
      ]);
    });

    it("keeps every count when the callbacks drop the data, and agrees with summarise for the issues it reports", function () {
      const text = exportOf([
        rec("HeartRate", "count/min", "72", T),
        rec("HeartRate", "count/min", "0", T),
        rec("HeartRate", "count/min", "x", T),
        rec("HeartRate", "g", "72", T),
        rec("StepCount", "count", "5", T),
      ]);
      const parser = createAppleHealthParser({ source: "test.xml" });
      parser.write(text);
      const summary = parser.close();
      const collected = parseAppleHealthText(text, { source: "test.xml" });
      expect(summary).to.deep.equal(collected.summary);
      expect(summary.skipped).to.deep.equal({ impossible_value: 1, malformed: 1, wrong_unit: 1, unknown_code: 1 });
      const counted = summarise(collected);
      expect(counted.used).to.equal(summary.used);
      expect(counted.byCode).to.deep.equal(summary.byCode);
      expect(counted.skipped).to.deep.equal({ impossible_value: 1, malformed: 1, wrong_unit: 1 });
    });
  });

  describe("documents that cannot be read", function () {
    it("throws a named error with the source and line for XML that is not well-formed", function () {
      const recordLine = HEAD.split("\n").length;
      // An unclosed document: found at the end.
      expectFormatError(() => parseAppleHealthText(`${HEAD}${rec("HeartRate", "count/min", "72", T)}\n`, { source: "bad.xml" }), recordLine + 1, /unclosed|HealthData/i);
      // Mismatched end tag.
      expectFormatError(() => parseAppleHealthText(exportOf([" <Correlation>", " </Record>", " </Correlation>"]), { source: "bad.xml" }), recordLine + 1, /close tag/);
      // An attribute without quotes.
      expectFormatError(() => parseAppleHealthText(exportOf([" <ExportDate value=2024/>"]), { source: "bad.xml" }), recordLine, /quot|attribute/i);
      // "<" inside an attribute (Apple's molar unit unescaped).
      expectFormatError(() => parseAppleHealthText(exportOf([` <Record type="HKQuantityTypeIdentifierBloodGlucose" unit="mmol<180.1558800000541>/L" value="5"/>`]), { source: "bad.xml" }), recordLine, /disallowed|</i);
      // A second root, and text after the root.
      expectFormatError(() => parseAppleHealthText(`${exportOf([])}<HealthData/>\n`, { source: "bad.xml" }), recordLine + 2, /one root/);
      expectFormatError(() => parseAppleHealthText(`${exportOf([])}trailing`, { source: "bad.xml" }), recordLine + 2, /outside of root/);
      // An undefined entity.
      expectFormatError(() => parseAppleHealthText(exportOf([` <Me HKCharacteristicTypeIdentifierBiologicalSex="&bogus;"/>`]), { source: "bad.xml" }), recordLine, /entity/i);
    });

    it("throws for a document that is not a HealthData export, or has no root", function () {
      expectFormatError(() => parseAppleHealthText(`<?xml version="1.0"?>\n<Bundle>\n</Bundle>\n`, { source: "bad.xml" }), 2, /<Bundle>/);
      expectFormatError(() => parseAppleHealthText(`<?xml version="1.0"?>\n<Record type="HKQuantityTypeIdentifierHeartRate"/>\n`, { source: "bad.xml" }), 2, /<Record>/);
      expectFormatError(() => parseAppleHealthText("", { source: "bad.xml" }), 1, /root|HealthData/i);
      // The line is where the parser notices: text outside the root is noticed at its end.
      expectFormatError(() => parseAppleHealthText("just text", { source: "bad.xml" }), 1, /outside of root/);
    });

    it("throws for bytes that are not UTF-8, naming the line reached", async function () {
      const good = new TextEncoder().encode(exportOf([rec("HeartRate", "count/min", "72", T)]));
      const bad = new Uint8Array(good.length + 2);
      const cut = good.indexOf(0x37); // the "7" of 72
      bad.set(good.subarray(0, cut));
      bad.set([0xc3, 0x28], cut);
      bad.set(good.subarray(cut), cut + 2);
      let caught: unknown;
      await parseBytes(bad, 1 << 16, "bad.xml").catch((error: unknown) => (caught = error));
      expect(caught).to.be.instanceOf(AppleHealthFormatError);
      expect((caught as AppleHealthFormatError).message).to.match(/^bad\.xml: line \d+: .*UTF-8/);
    });

    it("stays failed after an error, and closed after close", function () {
      const parser = createAppleHealthParser({ source: "bad.xml" });
      const first = expectFormatError(() => parser.write(`${HEAD} <Record value=1/>\n`), HEAD.split("\n").length, /./);
      expect(() => parser.write(" ")).to.throw(first.message);
      expect(() => parser.close()).to.throw(first.message);
      const done = createAppleHealthParser({ source: "ok.xml" });
      done.write(exportOf([]));
      done.close();
      expect(() => done.write(" ")).to.throw(/closed/);
    });
  });

  describe("streaming", function () {
    const mixed = exportOf([
      ` <Me HKCharacteristicTypeIdentifierDateOfBirth="1970-01-31" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>`,
      ` <!-- Zoë’s watch 🫀 -->`,
      ` <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Zoë’s Apple Watch 🫀 (synthetic)" device="&lt;&lt;HKDevice: 0x1&gt;, name:Apple Watch&gt;" unit="count/min" startDate="${T}" endDate="${T}" value="72">`,
      `  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>`,
      ` </Record>`,
      rec("OxygenSaturation", "%", "0.97", T),
      rec("OxygenSaturation", "%", "1.2", T),
      rec("BodyTemperature", "degF", "98.6", T),
      rec("BloodGlucose", "mmol&lt;180.1558800000541&gt;/L", "5.5", T),
      rec("HeartRate", "count/min", "7x", T),
      ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Cuff (synthetic)" startDate="${T}" endDate="${T}">`,
      rec("BloodPressureSystolic", "mmHg", "121", T, "  "),
      rec("BloodPressureDiastolic", "mmHg", "79", T, "  "),
      ` </Correlation>`,
      rec("BloodPressureSystolic", "mmHg", "121", T),
      rec("BloodPressureDiastolic", "mmHg", "79", T),
      rec("StepCount", "count", "5", T),
      ` <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="45"><WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" sum="212.4" unit="Cal"/></Workout>`,
    ]);

    it("gives identical results whatever the chunks: 1 byte, 7 bytes, 4 KiB, whole; 1 and 7 characters", async function () {
      for (const [name, text] of [["mixed", mixed], ["example", readFileSync(EXAMPLE, "utf8")]] as const) {
        const bytes = new TextEncoder().encode(text);
        const whole = await parseBytes(bytes, bytes.length);
        expect(whole.observations.length, name).to.be.greaterThan(5);
        if (name === "mixed") expect(whole.issues.map((i) => i.reason)).to.deep.equal(["impossible_value", "malformed"]);
        for (const size of [1, 7, 4096]) expect(await parseBytes(bytes, size), `${name}, ${size}-byte chunks`).to.deep.equal(whole);
        for (const size of [1, 7]) expect(parseChars(text, size), `${name}, ${size}-character chunks`).to.deep.equal(whole);
        expect(parseAppleHealthText(text, { source: "test.xml" }), name).to.deep.equal(whole);
      }
    });

    it("counts lines the same with CRLF line ends, even with CR and LF in different chunks", async function () {
      const lf = parseAppleHealthText(mixed, { source: "test.xml" });
      const crlf = new TextEncoder().encode(mixed.replaceAll("\n", "\r\n"));
      expect(await parseBytes(crlf, 1)).to.deep.equal(lf);
      expect(await parseBytes(crlf, 7)).to.deep.equal(lf);
    });

    it("reads a ReadableStream without async iteration (the getReader path), with progress", async function () {
      const bytes = new TextEncoder().encode(mixed);
      const blob = new Blob([bytes.subarray(0, 100), bytes.subarray(100, 1000), bytes.subarray(1000)]);
      const readerOnly = { getReader: () => blob.stream().getReader() } as unknown as ReadableStream<Uint8Array>;
      const progress: number[] = [];
      const summary = await parseAppleHealth(readerOnly, { source: "test.xml", onProgress: (n) => progress.push(n) });
      expect(summary).to.deep.equal(parseAppleHealthText(mixed, { source: "test.xml" }).summary);
      expect(progress.at(-1)).to.equal(bytes.length);
      expect(progress).to.deep.equal([...progress].sort((a, b) => a - b));
    });
  });

  describe("the example export (data/examples/synthetic-apple-health-export.xml)", function () {
    const text = readFileSync(EXAMPLE, "utf8");

    it("is marked synthetic, in a comment and in every sourceName", function () {
      expect(text.slice(0, 400)).to.match(/<!--[^>]*SYNTHETIC/);
      const names = [...text.matchAll(/sourceName="([^"]*)"/g)].map((m) => m[1]!);
      expect(names.length).to.be.greaterThan(200);
      for (const name of names) expect(name).to.contain("(synthetic)");
    });

    it("parses with zero issues, and its counts match the text's own", function () {
      const result = parseAppleHealthText(text, { source: "synthetic-apple-health-export.xml" });
      expect(result.issues).to.deep.equal([]);
      // Counted from the text: Records per type, and the blood-pressure Records nested in Correlations, each of
      // which Apple (and this example) also writes top-level.
      const count = (type: string) => text.split(`<Record type="HKQuantityTypeIdentifier${type}"`).length - 1;
      const nested = (type: string) =>
        [...text.matchAll(/<Correlation [^>]*>([\s\S]*?)<\/Correlation>/g)].reduce((n, m) => n + m[1]!.split(`type="HKQuantityTypeIdentifier${type}"`).length - 1, 0);
      expect(nested("BloodPressureSystolic")).to.be.greaterThan(0);
      const byCode = {
        "8867-4": count("HeartRate"),
        "40443-4": count("RestingHeartRate"),
        "8480-6": count("BloodPressureSystolic") - nested("BloodPressureSystolic"),
        "8462-4": count("BloodPressureDiastolic") - nested("BloodPressureDiastolic"),
        "59408-5": count("OxygenSaturation"),
        "8310-5": count("BodyTemperature"),
        "2339-0": count("BloodGlucose"),
      };
      for (const [code, n] of Object.entries(byCode)) expect(n, code).to.be.greaterThan(0);
      expect(result.summary.byCode).to.deep.equal(byCode);
      const allRecords = text.split("<Record ").length - 1;
      expect(result.summary.records).to.equal(allRecords);
      expect(result.summary.skipped.duplicate).to.equal(nested("BloodPressureSystolic") + nested("BloodPressureDiastolic"));
      expect(result.summary.skipped.unknown_code).to.equal(allRecords - Object.values(byCode).reduce((a, b) => a + b, 0) - result.summary.skipped.duplicate!);
      expect(Object.keys(result.summary.unknownTypes)).to.include.members(["HKQuantityTypeIdentifierStepCount", "HKQuantityTypeIdentifierActiveEnergyBurned"]);
      expect(result.profile).to.deep.equal({ birthDate: "1962-07-14", sex: "female" });
      // Units as Apple writes them are all there, and all converted into range.
      for (const unit of ['unit="degF"', 'unit="degC"', 'unit="mmol&lt;180.1558800000541&gt;/L"', 'unit="mg/dL"', 'unit="%"']) expect(text).to.contain(unit);
      for (const o of result.observations.filter((o) => o.code === "59408-5")) expect(o.value).to.be.within(90, 100);
      for (const o of result.observations.filter((o) => o.code === "8310-5")) expect(o.value).to.be.within(36, 38);
      for (const o of result.observations.filter((o) => o.code === "2339-0")) expect(o.value).to.be.within(70, 140);
    });
  });

  describe("generated exports (scripts/lib/apple-health-export.ts)", function () {
    const files: string[] = [];
    const temp = (name: string) => {
      const file = join(tmpdir(), `pmhe-apple-health-${process.pid}-${name}.xml`);
      files.push(file);
      return file;
    };
    after(function () {
      for (const file of files) rmSync(file, { force: true });
    });

    it("is deterministic per seed, marked synthetic, and takes in exactly what it wrote", async function () {
      const [a, b, c] = [temp("a"), temp("b"), temp("c")];
      const start = "2024-06-01T04:00:00Z";
      const stats = await writeSyntheticAppleHealthExport(a, { targetBytes: 2_000_000, seed: 11, start });
      await writeSyntheticAppleHealthExport(b, { targetBytes: 2_000_000, seed: 11, start });
      await writeSyntheticAppleHealthExport(c, { targetBytes: 2_000_000, seed: 12, start });
      const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
      expect(sha(a)).to.equal(sha(b));
      expect(sha(a)).to.not.equal(sha(c));
      const bytes = readFileSync(a);
      expect(stats.bytes).to.equal(bytes.length);
      expect(stats.bytes).to.be.within(2_000_000, 2_100_000);
      const text = bytes.toString("utf8");
      expect(text.slice(0, 300)).to.match(/<!--[^>]*SYNTHETIC/);
      for (const [, name] of text.matchAll(/sourceName="([^"]*)"/g)) expect(name).to.contain("(synthetic)");
      expect(text).to.contain("<!DOCTYPE HealthData [");
      expect(text).to.contain('unit="mmol&lt;180.1558800000541&gt;/L"');
      expect(text).to.contain('unit="degF"');

      const result = await parseBytes(bytes, 65_536, "generated.xml");
      expect(result.issues).to.deep.equal([]);
      expect(result.summary.byCode).to.deep.equal(stats.expectedByCode);
      expect(result.summary.records).to.equal(stats.records);
      expect(result.summary.skipped.duplicate).to.equal(2 * stats.correlations);
      expect(result.summary.unknownTypes).to.deep.equal({
        HKQuantityTypeIdentifierActiveEnergyBurned: stats.recordsByType.HKQuantityTypeIdentifierActiveEnergyBurned,
        HKQuantityTypeIdentifierStepCount: stats.recordsByType.HKQuantityTypeIdentifierStepCount,
      });
      // Minute-resolution heart rate from `start`, with few gaps; types PMHE does not take in are a large share.
      const minutes = (stats.last - stats.first) / 60_000 + 1;
      expect(stats.expectedByCode["8867-4"]).to.be.within(0.95 * minutes, minutes);
      expect(result.summary.skipped.unknown_code! / result.summary.records).to.be.within(0.3, 0.6);
      expect(result.observations[0]!.time).to.be.at.least(Date.parse(start));
      // Circadian: the mean heart rate at 03:00-04:00 local (-05:00) is well below that at 14:00-15:00.
      const meanAt = (utcHour: number) => {
        const v = result.observations.filter((o) => o.code === "8867-4" && new Date(o.time).getUTCHours() === utcHour).map((o) => o.value);
        return v.reduce((x, y) => x + y, 0) / v.length;
      };
      expect(meanAt(19) - meanAt(8)).to.be.greaterThan(10);
      expect(result.profile.birthDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
    });

    it("a 30 MB export parses with bounded memory", async function () {
      this.timeout(600_000);
      const file = temp("30mb");
      const stats = await writeSyntheticAppleHealthExport(file, { targetBytes: 30_000_000, seed: 5 });
      const measure = await measureAppleHealthParsing(file);
      const growth = measure.peakRssMiB - measure.baselineRssMiB;
      console.log(
        `      Apple Health, generated ${(measure.bytes / 2 ** 20).toFixed(1)} MiB, ${measure.records} records: ` +
          `${measure.seconds.toFixed(2)} s (${measure.cpuSeconds.toFixed(2)} s CPU), ${measure.mbPerSecond.toFixed(1)} MiB/s; ` +
          `RSS ${measure.baselineRssMiB.toFixed(0)} -> peak ${measure.peakRssMiB.toFixed(0)} MiB (+${growth.toFixed(0)} MiB)`,
      );
      expect(measure.bytes).to.equal(stats.bytes);
      expect(measure.records).to.equal(stats.records);
      expect(measure.observations).to.equal(Object.values(stats.expectedByCode).reduce((a, b) => a + b, 0));
      expect(growth).to.be.below(150);
    });
  });
});
