import { expect } from "chai";
import { expectClose } from "../helpers/close.js";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { parseFhir } from "../../protocol/intake/fhir.js";
import { isIssue, takeIn } from "../../protocol/intake/take-in.js";
import { VITAL_SIGNS } from "../../protocol/intake/vital-signs.js";
import { parseWearableMessage } from "../../protocol/intake/wearable-message.js";
import {
  ageAt,
  DEFAULT_START,
  generateWearable,
  mulberry32,
  readHeartProfiles,
  SYNTHETIC_TAGS,
  toCsv,
  toFhirBundle,
  toWearableMessages,
  type HeartProfile,
  type SyntheticWearable,
  type WearableReading,
} from "../../scripts/lib/synthetic-wearable.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROFILES = readHeartProfiles(readFileSync(join(ROOT, "data", "statlog_heart.csv"), "utf8"));
const DAY = 86_400_000;

const ms = (r: WearableReading) => Date.parse(r.time);
const heartRates = (data: SyntheticWearable) => data.readings.filter((r) => r.code === "8867-4");
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Mean absolute change from one minute to the next: how variable a stretch is. */
const jitter = (xs: number[]) => mean(xs.slice(1).map((x, i) => Math.abs(x - xs[i]!)));
const hourOf = (r: WearableReading) => new Date(r.time).getUTCHours();

describe("synthetic wearable data (scripts/lib/synthetic-wearable.ts)", function () {
  it("reads every profile of the heart data set by its header: age, sex, trestbps, thalach, chol", function () {
    expect(PROFILES).to.have.length(270);
    expect(PROFILES[0]).to.deep.equal({ row: 1, age: 70, sex: "male", restingSystolic: 130, maxHeartRate: 109, cholesterol: 322 });
    expect(PROFILES[1]).to.include({ row: 2, age: 67, sex: "female", restingSystolic: 115, maxHeartRate: 160, cholesterol: 564 });
    // Columns are found by name, not position.
    const reordered = readHeartProfiles("chol,thalach,trestbps,sex,age,x\n200,150,120,0,44,9\n");
    expect(reordered).to.deep.equal([{ row: 1, age: 44, sex: "female", restingSystolic: 120, maxHeartRate: 150, cholesterol: 200 }]);
    expect(() => readHeartProfiles("age,sex\n1,1\n")).to.throw(/no column trestbps/);
  });

  it("mulberry32 is deterministic per seed and uniform in [0, 1)", function () {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs).to.deep.equal(Array.from({ length: 10_000 }, () => b()));
    expect(Math.min(...xs)).to.be.at.least(0);
    expect(Math.max(...xs)).to.be.below(1);
    expectClose(mean(xs), 0.5, 0.02);
    expect(mulberry32(43)()).to.not.equal(mulberry32(42)());
  });

  it("is deterministic: the same seed gives the same data in every format, another seed other data", function () {
    const profile = PROFILES[11]!;
    const one = generateWearable({ profile, seed: 5 });
    const again = generateWearable({ profile, seed: 5 });
    expect(again).to.deep.equal(one);
    expect(toCsv(again)).to.equal(toCsv(one));
    expect(JSON.stringify(toFhirBundle(again))).to.equal(JSON.stringify(toFhirBundle(one)));
    const other = generateWearable({ profile, seed: 6 });
    expect(heartRates(other).map((r) => r.value)).to.not.deep.equal(heartRates(one).map((r) => r.value));
    expect(one.start).to.equal(DEFAULT_START);
  });

  it("a 7-day stream holds at least 10,000 heart-rate readings, one a minute, in time order", function () {
    const data = generateWearable({ profile: PROFILES[0]!, seed: 1, days: 7 });
    const hr = heartRates(data);
    expect(hr.length).to.be.at.least(10_000);
    expect(hr.length).to.equal(7 * 1440);
    for (let i = 1; i < hr.length; i++) expect(ms(hr[i]!) - ms(hr[i - 1]!)).to.equal(60_000);
    for (let i = 1; i < data.readings.length; i++) expect(data.readings[i]!.time >= data.readings[i - 1]!.time).to.equal(true);
    expect(ms(hr[0]!)).to.equal(data.start);
    expect(ms(hr.at(-1)!)).to.equal(data.start + 7 * DAY - 60_000);
  });

  it("every value of every profile is inside its VITAL_SIGNS range, in its unit, and passes takeIn", function () {
    this.timeout(120_000);
    const wrong: string[] = [];
    let checked = 0;
    for (const profile of PROFILES) {
      const data = generateWearable({ profile, seed: profile.row, days: 2 });
      for (const r of [...data.readings, data.cholesterol]) {
        checked++;
        const sign = VITAL_SIGNS[r.code];
        const what = `row ${profile.row} ${r.code} ${r.value} ${r.unit} at ${r.time}`;
        if (!sign) wrong.push(`${what}: unknown code`);
        else if (r.unit !== sign.unit) wrong.push(`${what}: not in ${sign.unit}`);
        else if (!(r.value >= sign.min && r.value <= sign.max)) wrong.push(`${what}: outside ${sign.min} to ${sign.max}`);
        else if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.time)) wrong.push(`${what}: time not ISO with Z`);
        else if (isIssue(takeIn({ ...r, time: ms(r), origin: "synthetic" }))) wrong.push(`${what}: refused by takeIn`);
        else if (r.code === "59408-5" && !(r.value >= 95 && r.value <= 99)) wrong.push(`${what}: SpO2 outside 95 to 99`);
        else if (r.code === "8867-4" && r.value > profile.maxHeartRate) wrong.push(`${what}: above thalach ${profile.maxHeartRate}`);
      }
    }
    expect(wrong.slice(0, 10)).to.deep.equal([]);
    expect(checked).to.be.above(270 * 2 * 1440);
  });

  it("heart rate follows the day: lower and steadier asleep, the day's lowest at night, workouts toward the maximum", function () {
    for (const [profile, seed] of [[PROFILES[0]!, 1], [PROFILES[1]!, 2], [PROFILES[120]!, 3], [PROFILES[269]!, 4]] as Array<[HeartProfile, number]>) {
      const data = generateWearable({ profile, seed, days: 7 });
      const hr = heartRates(data);
      const night = hr.filter((r) => hourOf(r) >= 1 && hourOf(r) < 5).map((r) => r.value);
      const day = hr.filter((r) => hourOf(r) >= 9 && hourOf(r) < 21).map((r) => r.value);
      expect(mean(night), `row ${profile.row}: night mean below day mean`).to.be.below(mean(day) - 10);
      expect(jitter(night), `row ${profile.row}: night less variable`).to.be.below(jitter(day));
      const asleep = (t: number) => data.sleep.some(([from, to]) => t >= from && t < to);
      const sleeping = hr.filter((r) => asleep(ms(r))).map((r) => r.value);
      const awake = hr.filter((r) => !asleep(ms(r))).map((r) => r.value);
      expect(mean(sleeping)).to.be.below(mean(awake) - 10);
      const resting = data.readings.filter((r) => r.code === "40443-4");
      expect(resting, "one resting heart rate a day").to.have.length(7);
      for (let d = 0; d < 7; d++) {
        const today = hr.filter((r) => ms(r) >= data.start + d * DAY && ms(r) < data.start + (d + 1) * DAY);
        const lowest = today.reduce((a, b) => (b.value < a.value ? b : a));
        expect(asleep(ms(lowest)), `row ${profile.row} day ${d}: lowest at ${lowest.time}, awake`).to.equal(true);
        const highest = Math.max(...today.map((r) => r.value));
        const rest = resting[d]!.value;
        // A workout climbs past half of the heart-rate reserve on every day.
        expect(highest, `row ${profile.row} day ${d}: workout peak`).to.be.at.least(rest + 0.5 * (profile.maxHeartRate - rest));
      }
    }
  });

  it("blood pressure comes every few hours while awake, around the profile's resting value; SpO2 hourly", function () {
    const profile = PROFILES[3]!; // trestbps 128
    const data = generateWearable({ profile, seed: 9, days: 7 });
    const systolic = data.readings.filter((r) => r.code === "8480-6");
    const diastolic = data.readings.filter((r) => r.code === "8462-4");
    expect(systolic.length).to.equal(diastolic.length);
    expect(systolic.map((r) => r.time)).to.deep.equal(diastolic.map((r) => r.time));
    expect(systolic.length).to.be.within(3 * 7, 6 * 7);
    expectClose(mean(systolic.map((r) => r.value)), profile.restingSystolic, 8);
    systolic.forEach((s, i) => expect(diastolic[i]!.value).to.be.below(s.value - 15));
    const gaps = systolic.slice(1).map((s, i) => (ms(s) - ms(systolic[i]!)) / 3_600_000);
    expect(Math.min(...gaps)).to.be.at.least(3);
    const asleep = (t: number) => data.sleep.some(([from, to]) => t >= from && t < to);
    expect(systolic.filter((r) => asleep(ms(r)))).to.deep.equal([]);
    const spo2 = data.readings.filter((r) => r.code === "59408-5");
    expect(spo2).to.have.length(7 * 24);
    for (const r of spo2) expect(ms(r) % 3_600_000).to.equal(0);
  });

  it("gives profile facts: a birth date that makes the profile's age on every day generated, the sex, one cholesterol value", function () {
    for (const profile of PROFILES) {
      // Every profile from the default start; some from a start just before a leap day and one before a new year.
      const starts = profile.row % 10 === 0 ? [DEFAULT_START, Date.UTC(2024, 1, 26), Date.UTC(2023, 11, 28)] : [DEFAULT_START];
      for (const start of starts) {
        const data = generateWearable({ profile, seed: profile.row * 7, days: 7, start });
        expect(data.facts.birthDate).to.match(/^\d{4}-\d\d-\d\d$/);
        expect(ageAt(data.facts.birthDate, data.start), `row ${profile.row}`).to.equal(profile.age);
        expect(ageAt(data.facts.birthDate, data.start + 7 * DAY - 1), `row ${profile.row}`).to.equal(profile.age);
        expect(data.facts.sex).to.equal(profile.sex);
        expect(data.cholesterol).to.include({ code: "2093-3", value: profile.cholesterol, unit: "mg/dL" });
      }
    }
  });

  it("marks CSV as synthetic in a # comment line, and the device CSV intake takes every row in", function () {
    const data = generateWearable({ profile: PROFILES[20]!, seed: 3, days: 2 });
    const csv = toCsv(data);
    const lines = csv.trimEnd().split("\n");
    expect(lines[0]).to.match(/^# synthetic: /);
    expect(lines[1]).to.equal("timestamp,metric,value,unit");
    expect(lines).to.have.length(data.readings.length + 2);
    for (const line of lines.slice(2)) expect(line).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,[a-z_0-9-]+,\d+(\.\d+)?,\S+$/);
    const taken = parseDeviceCsv(csv, { source: "synthetic.csv" });
    expect(taken.issues).to.deep.equal([]);
    expect(taken.observations).to.have.length(data.readings.length);
    const byCode = (codes: string[]) => codes.reduce<Record<string, number>>((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {});
    expect(byCode(taken.observations.map((o) => o.code))).to.deep.equal(byCode(data.readings.map((r) => r.code)));
  });

  it("marks every FHIR resource synthetic (meta.tag), puts BP in 85354-9 panels, and the FHIR intake takes it all in", function () {
    const data = generateWearable({ profile: PROFILES[30]!, seed: 4, days: 2 });
    const bundle = toFhirBundle(data);
    expect(bundle.resourceType).to.equal("Bundle");
    const isSynthetic = (meta: unknown) => ((meta as { tag?: Array<{ code: string }> })?.tag ?? []).some((t) => t.code === "HTEST") && ((meta as { tag: Array<{ code: string }> }).tag.some((t) => t.code === "synthetic"));
    expect(isSynthetic(bundle.meta)).to.equal(true);
    for (const { resource } of bundle.entry) expect(isSynthetic(resource.meta), `${resource.resourceType}/${resource.id}`).to.equal(true);
    expect(SYNTHETIC_TAGS.map((t) => t.code)).to.deep.equal(["HTEST", "synthetic"]);
    const patients = bundle.entry.filter((e) => e.resource.resourceType === "Patient");
    expect(patients).to.have.length(1);
    expect(patients[0]!.resource).to.include({ gender: data.facts.sex, birthDate: data.facts.birthDate });
    const panels = bundle.entry.filter((e) => JSON.stringify(e.resource.code ?? "").includes("85354-9"));
    const systolic = data.readings.filter((r) => r.code === "8480-6");
    expect(panels).to.have.length(systolic.length);
    for (const panel of panels) expect((panel.resource.component as unknown[]).length).to.equal(2);
    expect(new Set(bundle.entry.map((e) => e.fullUrl)).size).to.equal(bundle.entry.length);

    const taken = parseFhir(JSON.stringify(bundle), { source: "synthetic.json" });
    expect(taken.issues).to.deep.equal([]);
    expect(taken.observations).to.have.length(data.readings.length + 1);
    expect(taken.profile).to.include({ birthDate: data.facts.birthDate, sex: data.facts.sex });
    expect(taken.profile.latest?.["2093-3"]?.value).to.equal(data.profile.cholesterol);
  });

  it("marks every MQTT payload synthetic, with ids <device>-<seq> and the wearable message schema", function () {
    const data = generateWearable({ profile: PROFILES[40]!, seed: 8, days: 1 });
    const messages = toWearableMessages(data.readings, "watch-7", 100);
    expect(messages).to.have.length(data.readings.length);
    expect(messages[0]!.id).to.equal("watch-7-100");
    expect(new Set(messages.map((m) => m.id)).size).to.equal(messages.length);
    messages.forEach((m, i) => {
      expect(m.synthetic).to.equal(true);
      const parsed = parseWearableMessage(JSON.stringify(m), "watch-7");
      expect(parsed.ok, JSON.stringify(parsed)).to.equal(true);
      if (parsed.ok) expect(parsed.seq).to.equal(100 + i);
    });
  });

  describe("the synth CLI", function () {
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", import.meta.resolve("tsx/esm"), join(ROOT, "scripts", "synth-wearable.ts"), ...args], {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
      });

    it("writes a whole week of CSV to stdout, the same for the same seed", async function () {
      this.timeout(60_000);
      const [a, b] = await Promise.all([run(["--days", "7", "--seed", "1", "--format", "csv"]), run(["--days", "7", "--seed", "1", "--format", "csv"])]);
      const expected = toCsv(generateWearable({ profile: PROFILES[(1 % PROFILES.length)]!, seed: 1, days: 7 }));
      expect(a.stdout).to.equal(expected);
      expect(b.stdout).to.equal(a.stdout);
      expect(a.stdout.split("\n").filter((l) => l.includes(",heart_rate,")).length).to.be.at.least(10_000);
      expect(a.stderr).to.match(/synthetic data: profile row 2/);
    });

    it("publishes over MQTT through a private broker to a subscriber that takes in every reading", async function () {
      this.timeout(60_000);
      const { stderr } = await run(["--days", "1", "--seed", "3", "--format", "mqtt", "--rate", "0"]);
      const readings = generateWearable({ profile: PROFILES[3]!, seed: 3, days: 1 }).readings.length;
      expect(stderr).to.include(`the subscriber took in ${readings}`);
      expect(stderr).to.not.match(/not used: /);
    });

    it("refuses options that do not fit the format", async function () {
      const failed = await run(["--format", "csv", "--mqtt-url", "mqtt://127.0.0.1:1"]).then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failed?.code).to.equal(1);
      expect(failed?.stderr).to.match(/--mqtt-url and --patient apply to --format mqtt/);
    });
  });
});
