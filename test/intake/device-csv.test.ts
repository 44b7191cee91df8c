import { expect } from "chai";
import { expectClose } from "../helpers/close.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { deviceTimestamp, metricCode, parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { IntakeFormatError } from "../../protocol/intake/errors.js";
import { summarise } from "../../protocol/intake/observation.js";

/** Device CSV in: the header, comments and blank lines, metrics and aliases, timestamps and time zones, refusals. */

const SOURCE = "readings.csv";
const at = (iso: string) => Date.parse(iso);
/** CSV text of lines: line n of the file is lines[n - 1]. */
const csv = (...lines: string[]) => lines.join("\n");
const parse = (text: string, timeZone?: string) => parseDeviceCsv(text, { source: SOURCE, ...(timeZone === undefined ? {} : { timeZone }) });
const malformed = (line: number, message: string) => ({ reason: "malformed", origin: `${SOURCE}:${line}`, message: `${SOURCE}:${line}: ${message}` });

describe("device CSV intake (protocol/intake/device-csv.ts)", function () {
  describe("the header, comments and blank lines", function () {
    it("finds the columns in any order and case, ignores other columns, and gives origins by line", function () {
      const result = parse(
        csv(
          "Unit,VALUE,device,Metric,TimeStamp", //
          "bpm,64,watch-1,heart_rate,2024-03-04T07:15:00+01:00",
          "mmHg,128,cuff,systolic,2024-03-04T06:20:00Z",
        ),
      );
      expect(result).to.deep.equal({
        observations: [
          { code: "8867-4", time: at("2024-03-04T06:15:00Z"), value: 64, origin: "readings.csv:2" },
          { code: "8480-6", time: at("2024-03-04T06:20:00Z"), value: 128, origin: "readings.csv:3" },
        ],
        profile: {},
        issues: [],
      });
    });

    it("throws IntakeFormatError naming the source and the missing column(s)", function () {
      const thrown = (text: string) => {
        try {
          parse(text);
        } catch (error) {
          expect(error).to.be.instanceOf(IntakeFormatError);
          expect((error as IntakeFormatError).source).to.equal(SOURCE);
          return (error as Error).message;
        }
        throw new Error("expected a throw");
      };
      expect(thrown(csv("timestamp,value,device", "2024-03-04T06:20:00Z,64,w"))).to.equal("readings.csv: header lacks columns metric, unit (header: timestamp, value, device)");
      expect(thrown(csv("# a comment", "timestamp,metric,value"))).to.equal("readings.csv: header lacks column unit (header: timestamp, metric, value)");
      expect(thrown(csv("timestamp,metric,value,unit,Value"))).to.equal("readings.csv: header names column value twice");
      expect(thrown(csv("# only a comment", "", "   "))).to.equal("readings.csv: has no header row (columns timestamp, metric, value, unit)");
      expect(thrown(csv("timestamp,metric,value,unit", '2024-03-04T06:20:00Z,heart_rate,"64,bpm'))).to.match(/^readings\.csv: is not readable as CSV \(.*quote.*\)$/i);
    });

    it("skips blank lines and lines starting with #, keeps # inside a cell, and counts every line in origins", function () {
      const result = parse(
        "\uFEFF" +
          csv(
            "# Synthetic readings for a test.", // 1
            "timestamp,metric,value,unit,device", // 2
            "", // 3
            "# a comment between rows", // 4
            "2024-03-04T06:00:00Z,heart_rate,70,bpm,watch#2", // 5
            "   ", // 6
            "2024-03-04T06:01:00Z,heart_rate,71,bpm,\"# not a comment\"", // 7
            "#2024-03-04T06:02:00Z,heart_rate,72,bpm,commented out", // 8
          ),
      );
      expect(result.issues).to.deep.equal([]);
      expect(result.observations.map((o) => [o.origin, o.value])).to.deep.equal([
        ["readings.csv:5", 70],
        ["readings.csv:7", 71],
      ]);
    });

    it("reads CRLF line endings", function () {
      const result = parse("timestamp,metric,value,unit\r\n2024-03-04T06:00:00Z,spo2,97,%\r\n2024-03-04T06:01:00Z,spo2,96,%\r\n");
      expect(result.observations.map((o) => [o.origin, o.value])).to.deep.equal([
        ["readings.csv:2", 97],
        ["readings.csv:3", 96],
      ]);
    });
  });

  describe("metrics and values", function () {
    it("takes LOINC codes and aliases in any case, converting units", function () {
      const result = parse(
        csv(
          "timestamp,metric,value,unit",
          "2024-03-04T06:00:00Z,heart_rate,70,bpm",
          "2024-03-04T06:01:00Z,Heart Rate,71,/min",
          "2024-03-04T06:02:00Z,RESTING-HEART-RATE,55,{beats}/min",
          "2024-03-04T06:03:00Z,Systolic,16,kPa",
          "2024-03-04T06:04:00Z,diastolic,80,mm[Hg]",
          "2024-03-04T06:05:00Z,SpO2,0.97,1",
          "2024-03-04T06:06:00Z,temperature,98.6,degF",
          "2024-03-04T06:07:00Z,glucose,95,mg/dL",
          "2024-03-04T06:08:00Z,cholesterol,190,mg/dL",
          "2024-03-04T06:09:00Z,2708-6,95,%",
          "2024-03-04T06:10:00Z,8867-4,72,bpm",
        ),
      );
      expect(result.issues).to.deep.equal([]);
      const got = result.observations.map((o) => [o.code, o.value]);
      expect(got.map(([code]) => code)).to.deep.equal(["8867-4", "8867-4", "40443-4", "8480-6", "8462-4", "59408-5", "8310-5", "2339-0", "2093-3", "2708-6", "8867-4"]);
      const values = got.map(([, value]) => value as number);
      expectClose(values[3]!, 16_000 / 133.322, 1e-9); // kPa to mm[Hg]: 1 mm[Hg] = 133.322 Pa
      expectClose(values[5]!, 97, 1e-9); // a fraction to %
      expectClose(values[6]!, ((98.6 - 32) * 5) / 9, 1e-9); // °F to Cel
      expect([values[0], values[1], values[2], values[4], values[7], values[8], values[9], values[10]]).to.deep.equal([70, 71, 55, 80, 95, 190, 95, 72]);
      expect(metricCode(" heart_rate ")).to.equal("8867-4");
      expect(metricCode("steps")).to.equal(undefined);
    });

    it("refuses unknown metrics, bad numbers, missing units, wrong units, impossible values and rows of the wrong width", function () {
      const result = parse(
        csv(
          "timestamp,metric,value,unit",
          "2024-03-04T06:00:00Z,steps,1200,{steps}", // 2
          "2024-03-04T06:01:00Z,29463-7,80,kg", // 3
          "2024-03-04T06:02:00Z,heart_rate,seventy,bpm", // 4
          "2024-03-04T06:03:00Z,heart_rate,,bpm", // 5
          "2024-03-04T06:04:00Z,heart_rate,70,", // 6
          "2024-03-04T06:05:00Z,heart_rate,70,kg", // 7
          "2024-03-04T06:06:00Z,spo2,101,%", // 8
          "2024-03-04T06:07:00Z,heart_rate,70", // 9
          "2024-03-04T06:08:00Z,temperature,36,8,Cel", // 10: a decimal comma
          "2024-03-04T06:09:00Z,heart_rate,70,bpm", // 11: the one row used
        ),
      );
      expect(result.observations.map((o) => o.origin)).to.deep.equal(["readings.csv:11"]);
      expect(result.issues.slice(0, 6)).to.deep.equal([
        { reason: "unknown_code", origin: "readings.csv:2", message: 'readings.csv:2: metric "steps" is not one PMHE takes in' },
        { reason: "unknown_code", origin: "readings.csv:3", message: 'readings.csv:3: metric "29463-7" is not one PMHE takes in' },
        malformed(4, 'heart rate value "seventy" is not a number'),
        malformed(5, 'heart rate value "" is not a number'),
        malformed(6, "heart rate 70 has no unit"),
        { reason: "wrong_unit", origin: "readings.csv:7", message: result.issues[5]!.message },
      ]);
      expect(result.issues[5]!.message).to.match(/^readings\.csv:7: heart rate in "kg" cannot be converted to \/min \(/);
      expect(result.issues.slice(6)).to.deep.equal([
        {
          reason: "impossible_value",
          origin: "readings.csv:8",
          message: "readings.csv:8: oxygen saturation (pulse oximetry) 101 % (101 %) is outside 50 to 100 %, physiologically impossible",
        },
        malformed(9, "has 3 cells, the header has 4"),
        malformed(10, "has 5 cells, the header has 4"),
      ]);
      expect(summarise(result).skipped).to.deep.equal({ unknown_code: 2, malformed: 5, wrong_unit: 1, impossible_value: 1 });
    });
  });

  describe("timestamps", function () {
    it("takes Z, offsets in three spellings, a space before the time or the offset, and Unix seconds and milliseconds", function () {
      expect(deviceTimestamp("2024-03-04T06:00:00Z", undefined)).to.equal(at("2024-03-04T06:00:00Z"));
      expect(deviceTimestamp("2024-03-04T11:30:00+05:30", undefined)).to.equal(at("2024-03-04T06:00:00Z"));
      expect(deviceTimestamp("2024-03-04 07:00:00 +0100", undefined)).to.equal(at("2024-03-04T06:00:00Z"));
      expect(deviceTimestamp("2024-03-04T01:00-05", undefined)).to.equal(at("2024-03-04T06:00:00Z"));
      expect(deviceTimestamp("2024-03-04T06:00:00.5z", undefined)).to.equal(at("2024-03-04T06:00:00.500Z"));
      expect(deviceTimestamp("1709532000", undefined)).to.equal(at("2024-03-04T06:00:00Z"));
      expect(deviceTimestamp("1709532000123", undefined)).to.equal(at("2024-03-04T06:00:00.123Z"));
    });

    it("refuses bad timestamps as malformed, naming the line", function () {
      const result = parse(
        csv(
          "timestamp,metric,value,unit",
          "yesterday,heart_rate,70,bpm",
          "2024-13-01T08:00:00Z,heart_rate,70,bpm",
          "2024-02-30T08:00:00Z,heart_rate,70,bpm",
          "2024-03-04,heart_rate,70,bpm",
          "170953200,heart_rate,70,bpm",
          "2024-03-04T08:00:00+15:00,heart_rate,70,bpm",
          ",heart_rate,70,bpm",
        ),
      );
      expect(result.observations).to.deep.equal([]);
      expect(result.issues).to.deep.equal([
        malformed(2, 'timestamp "yesterday" is neither ISO 8601 (e.g. 2024-03-15T08:30:00+01:00) nor Unix time in seconds or milliseconds'),
        malformed(3, 'timestamp "2024-13-01T08:00:00Z" is not a date and time of the calendar'),
        malformed(4, 'timestamp "2024-02-30T08:00:00Z" is not a date and time of the calendar'),
        malformed(5, 'timestamp "2024-03-04" has no time of day'),
        malformed(6, 'timestamp "170953200" is an integer of 9 digits: Unix time must be 10 digits (seconds) or 13 (milliseconds)'),
        malformed(7, 'timestamp "2024-03-04T08:00:00+15:00" has an offset beyond ±14:00'),
        malformed(8, 'timestamp "" is neither ISO 8601 (e.g. 2024-03-15T08:30:00+01:00) nor Unix time in seconds or milliseconds'),
      ]);
    });

    it("refuses a timestamp without a zone when no time zone is given, never guessing", function () {
      const result = parse(csv("timestamp,metric,value,unit", "2024-03-04T08:00:00,heart_rate,70,bpm", "2024-03-04T07:00:00Z,heart_rate,71,bpm"));
      expect(result.observations.map((o) => o.value)).to.deep.equal([71]);
      expect(result.issues).to.deep.equal([
        malformed(2, 'timestamp "2024-03-04T08:00:00" has no time zone: write it with Z or an offset, or give the file\'s time zone (e.g. Europe/Berlin)'),
      ]);
    });

    it("reads a timestamp without a zone in the given IANA zone, across the DST changes of Europe/Berlin", function () {
      const rows = [
        "2024-03-30T12:00:00", // 2: CET, UTC+1
        "2024-03-31T01:59:59", // 3: the last second of CET
        "2024-03-31T02:30:00", // 4: skipped: clocks go from 02:00 to 03:00
        "2024-03-31T03:00:00", // 5: the first second of CEST, UTC+2
        "2024-03-31T12:00:00", // 6: CEST
        "2024-10-27T01:59:59", // 7: CEST still
        "2024-10-27T02:30:00", // 8: repeated: clocks go from 03:00 back to 02:00
        "2024-10-27T03:00:00", // 9: CET again
        "2024-03-31T12:00:00Z", // 10: a zone in the timestamp wins over the option
      ];
      const result = parse(csv("timestamp,metric,value,unit", ...rows.map((t, i) => `${t},heart_rate,${60 + i},bpm`)), "Europe/Berlin");
      expect(result.observations.map((o) => [o.origin, new Date(o.time).toISOString()])).to.deep.equal([
        ["readings.csv:2", "2024-03-30T11:00:00.000Z"],
        ["readings.csv:3", "2024-03-31T00:59:59.000Z"],
        ["readings.csv:5", "2024-03-31T01:00:00.000Z"],
        ["readings.csv:6", "2024-03-31T10:00:00.000Z"],
        ["readings.csv:10", "2024-03-31T12:00:00.000Z"],
        ["readings.csv:7", "2024-10-26T23:59:59.000Z"],
        ["readings.csv:9", "2024-10-27T02:00:00.000Z"],
      ]);
      expect(result.issues).to.deep.equal([
        malformed(4, 'timestamp "2024-03-31T02:30:00" does not exist in Europe/Berlin (clocks skip it when daylight saving time starts): write it with an offset'),
        malformed(8, 'timestamp "2024-10-27T02:30:00" happens twice in Europe/Berlin (clocks repeat it when daylight saving time ends): write it with an offset'),
      ]);
    });

    it("reads a zone west of UTC across its DST change, and refuses a time zone Intl does not know", function () {
      const result = parse(csv("timestamp,metric,value,unit", "2024-03-09 12:00,spo2,97,%", "2024-03-10 12:00,spo2,98,%"), "America/New_York");
      expect(result.observations.map((o) => o.time)).to.deep.equal([at("2024-03-09T17:00:00Z"), at("2024-03-10T16:00:00Z")]);
      expect(() => parse(csv("timestamp,metric,value,unit"), "Mars/Olympus_Mons")).to.throw(IntakeFormatError, 'readings.csv: time zone "Mars/Olympus_Mons" is not an IANA time zone');
    });
  });

  describe("order and duplicates", function () {
    it("sorts rows out of order by time", function () {
      const result = parse(
        csv("timestamp,metric,value,unit", "2024-03-04T08:00:00Z,heart_rate,72,bpm", "2024-03-04T06:00:00Z,heart_rate,70,bpm", "1709535600,heart_rate,71,bpm"),
      );
      expect(result.observations.map((o) => [o.origin, o.time, o.value])).to.deep.equal([
        ["readings.csv:3", at("2024-03-04T06:00:00Z"), 70],
        ["readings.csv:4", at("2024-03-04T07:00:00Z"), 71],
        ["readings.csv:2", at("2024-03-04T08:00:00Z"), 72],
      ]);
    });

    it("counts the same measurement once, however its time is written, the others duplicate", function () {
      const result = parse(
        csv(
          "timestamp,metric,value,unit",
          "2024-03-04T08:00:00+01:00,heart_rate,70,bpm", // 2
          "2024-03-04T08:00:00+01:00,heart_rate,70,bpm", // 3: the same row again
          "2024-03-04T07:00:00Z,8867-4,70,/min", // 4: the same instant, code and value
          "1709535600,heart_rate,70,bpm", // 5: the same instant as Unix seconds
          "2024-03-04T07:00:00Z,heart_rate,71,bpm", // 6: another value
          "2024-03-04T07:00:00Z,resting_heart_rate,70,bpm", // 7: another code
        ),
      );
      expect(result.observations.map((o) => o.origin)).to.deep.equal(["readings.csv:2", "readings.csv:6", "readings.csv:7"]);
      const repeat = (line: number) => ({
        reason: "duplicate",
        origin: `readings.csv:${line}`,
        message: `readings.csv:${line}: heart rate 70 /min at 2024-03-04T07:00:00.000Z repeats readings.csv:2, counted once`,
      });
      expect(result.issues).to.deep.equal([repeat(3), repeat(4), repeat(5)]);
    });
  });

  it("parses the synthetic example readings with no issue and no time zone", function () {
    const text = readFileSync(fileURLToPath(new URL("../../data/examples/synthetic-readings.csv", import.meta.url)), "utf8");
    expect(text.split("\n")[0]).to.match(/^# Synthetic/);
    const result = parseDeviceCsv(text, { source: "synthetic-readings.csv" });
    expect(result.issues).to.deep.equal([]);
    expect(summarise(result)).to.deep.equal({
      used: 13,
      skipped: {},
      byCode: { "8867-4": 4, "59408-5": 2, "8480-6": 2, "8462-4": 2, "8310-5": 1, "40443-4": 1, "2339-0": 1 },
    });
    expect(result.observations[0]).to.deep.equal({ code: "8867-4", time: at("2024-03-04T06:15:00Z"), value: 64, origin: "synthetic-readings.csv:4" });
    expect(result.observations.at(-1)).to.deep.equal({ code: "8867-4", time: at("2024-03-05T12:30:00Z"), value: 62, origin: "synthetic-readings.csv:15" });
    const times = result.observations.map((o) => o.time);
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
  });
});
