import { expect } from "chai";
import { expectClose } from "../helpers/close.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ageOn, aggregate, windowReadings } from "../../protocol/intake/windows.js";
import type { Observation, ProfileFacts } from "../../protocol/intake/observation.js";
import { buildTuple, parseModelBytes, parseModel } from "../../protocol/model.js";

/**
 * Readings to prediction windows for the committed heart model, whose inputs say: resting blood pressure = the 10th
 * percentile of the day's systolic readings (at least 3), maximum heart rate = the day's highest (at least 60),
 * cholesterol = the latest lab value of the year, age and sex from the profile; the rest from the person.
 */
const model = parseModelBytes(readFileSync(join(import.meta.dirname, "..", "..", "models", "statlog-heart-logreg.v1.json")));
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 2); // a Monday, 00:00 UTC
const given = { cp: 4, fbs: 0, restecg: 2, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 };
const profile: ProfileFacts = { birthDate: "1965-03-15", sex: "male" };

const at = (code: string, time: number, value: number): Observation => ({ code, time, value, origin: `test ${code}@${time}` });

/** A day of readings: heart rate every minute (70, with one peak of 151 at 17:00), systolic at 03, 09, 15 and 21 h. */
function day(start: number): Observation[] {
  const out: Observation[] = [];
  for (let m = 0; m < 24 * 60; m++) out.push(at("8867-4", start + m * 60_000, m === 17 * 60 ? 151 : 70));
  [141, 128, 137, 150].forEach((v, i) => out.push(at("8480-6", start + (3 + 6 * i) * HOUR, v)));
  return out;
}

describe("prediction windows from readings (protocol/intake/windows.ts)", function () {
  it("aggregates as documented: percentile by linear interpolation between ranks, population standard deviation", function () {
    expectClose(aggregate("percentile", [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 10), 1.9, 1e-12);
    expect(aggregate("percentile", [5], 10)).to.equal(5);
    expect(aggregate("std", [2, 4, 4, 4, 5, 5, 7, 9])).to.equal(2);
    expect(aggregate("mean", [1, 2, 3, 6])).to.equal(3);
    expect(aggregate("last", [3, 1, 2])).to.equal(2);
    expect(aggregate("max", [3, 9, 2])).to.equal(9);
    expect(aggregate("min", [3, 9, 2])).to.equal(2);
  });

  it("computes age on the window's date, birthday included", function () {
    expect(ageOn("1965-03-15", Date.UTC(2026, 2, 14))).to.equal(60);
    expect(ageOn("1965-03-15", Date.UTC(2026, 2, 15))).to.equal(61);
    expect(ageOn("15/03/1965", Date.UTC(2026, 2, 15))).to.equal(undefined);
  });

  it("builds one complete reading per window from the day's readings, the lab value, the profile and the person's values", function () {
    const observations = [...day(T0), at("2093-3", T0 - 30 * 24 * HOUR, 287.4)];
    const { windows, skipped } = windowReadings(model, observations, profile, { stepHours: 6, from: T0 + 24 * HOUR, to: T0 + 24 * HOUR, given });
    expect(skipped).to.deep.equal([]);
    expect(windows).to.have.length(1);
    const w = windows[0]!;
    // Born 1965-03-15: 60 on 2026-03-03. 10th percentile of [128, 137, 141, 150]: rank 0.3 → 128 + 0.3 × 9 = 130.7, shown at the form's step of 1.
    expect(w.reading).to.deep.equal({ age: 60, sex: 1, cp: 4, trestbps: 131, chol: 287, fbs: 0, restecg: 2, thalach: 151, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 });
    expect(w.counts).to.deep.equal({ trestbps: 4, thalach: 1440 });
    expect(() => buildTuple(model, w.reading)).to.not.throw();
  });

  it("skips a window whose lookback holds too few readings, naming the input, the code and the count", function () {
    // Only two systolic readings (03 h and 09 h) before 12 h, and no form value to fall back on.
    const observations = [...day(T0), at("2093-3", T0, 200)];
    const { windows, skipped } = windowReadings(model, observations, profile, { stepHours: 12, from: T0 + 12 * HOUR, to: T0 + 24 * HOUR, given });
    expect(skipped.map((s) => s.end)).to.deep.equal([T0 + 12 * HOUR]);
    expect(skipped[0]!.missing).to.deep.equal(["trestbps: 2 reading(s) of 8480-6 in the 24 h before, 3 needed"]);
    expect(windows.map((w) => w.end)).to.deep.equal([T0 + 24 * HOUR]);
    // With the person's own value, the gap policy "form" uses it instead.
    const filled = windowReadings(model, observations, profile, { stepHours: 12, from: T0 + 12 * HOUR, to: T0 + 12 * HOUR, given: { ...given, trestbps: 125 } });
    expect(filled.windows[0]!.reading.trestbps).to.equal(125);
  });

  it("refuses a lab value older than its limit and a value outside the model's range, and maps sex by the choice's label", function () {
    const observations = [...day(T0), at("2093-3", T0 - 400 * 24 * HOUR, 200)];
    const old = windowReadings(model, observations, profile, { stepHours: 24, from: T0 + 24 * HOUR, to: T0 + 24 * HOUR, given });
    expect(old.skipped[0]!.missing).to.deep.equal(["chol: the latest 2093-3 is older than 365 days"]);
    const racing = [...day(T0).map((o) => (o.code === "8867-4" && o.value === 151 ? { ...o, value: 240 } : o)), at("2093-3", T0, 200)];
    const high = windowReadings(model, racing, { ...profile, sex: "female" }, { stepHours: 24, from: T0 + 24 * HOUR, to: T0 + 24 * HOUR, given });
    expect(high.skipped[0]!.missing).to.deep.equal(["thalach: 240 /min is outside the model's range 50 to 230"]);
    const female = windowReadings(model, [...day(T0), at("2093-3", T0, 200)], { ...profile, sex: "female" }, { stepHours: 24, from: T0 + 24 * HOUR, to: T0 + 24 * HOUR, given });
    expect(female.windows[0]!.reading.sex).to.equal(0);
    const unknown = windowReadings(model, [...day(T0), at("2093-3", T0, 200)], { birthDate: "1965-03-15" }, { stepHours: 24, from: T0 + 24 * HOUR, to: T0 + 24 * HOUR, given });
    expect(unknown.skipped[0]!.missing).to.deep.equal(["sex: no sex in the profile"]);
  });

  it("takes a year of one-minute heart rate (over half a million readings) without running out of stack", function () {
    const year: Observation[] = [];
    for (let m = 0; m < 366 * 24 * 60; m++) year.push(at("8867-4", T0 + m * 60_000, 70 + (m % 60)));
    const step = 30 * 24 * HOUR;
    const { windows, skipped } = windowReadings(model, [...year, ...day(T0)], profile, { stepHours: 24 * 30, given: { ...given, chol: 200, trestbps: 120 } });
    // Window ends are whole steps since the epoch, from the first after the earliest reading to the latest reading.
    const first = Math.ceil(T0 / step) * step + step;
    const last = year[year.length - 1]!.time + 1;
    expect(windows.length + skipped.length).to.equal(Math.floor((last - first) / step) + 1);
    expect(windows.map((w) => w.reading.thalach)).to.deep.equal(windows.map(() => 129)); // 70 + 59, the day's highest
  });

  it("needs the inputs no device gives: an error naming each one, before any window", function () {
    const { cp: _cp, thal: _thal, ...partial } = given;
    expect(() => windowReadings(model, day(T0), profile, { stepHours: 1, given: partial })).to.throw(/cp \(Chest pain type\), thal \(Thallium stress test\)/);
  });

  it("takes readings in any order, and a model whose source's unit differs from the input's is refused", function () {
    const observations = [...day(T0), at("2093-3", T0, 200)];
    const shuffled = [...observations].reverse();
    const options = { stepHours: 6, from: T0 + 18 * HOUR, to: T0 + 24 * HOUR, given };
    expect(windowReadings(model, shuffled, profile, options)).to.deep.equal(windowReadings(model, observations, profile, options));
    const document = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "models", "statlog-heart-logreg.v1.json"), "utf8")) as { inputs: Array<{ name: string; unit?: string }> };
    document.inputs.find((i) => i.name === "trestbps")!.unit = "kPa";
    expect(() => parseModel(document)).to.throw(/8480-6 is kept in mm\[Hg\]/);
  });
});
