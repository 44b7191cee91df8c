import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { detectFormat, ingest } from "../../client/node/ingest.js";
import { readIntakeFile } from "../../client/node/intake-file.js";
import { parseAppleHealthText } from "../../protocol/intake/apple-health.js";
import { parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { IntakeFormatError } from "../../protocol/intake/errors.js";
import { parseFhir } from "../../protocol/intake/fhir.js";
import { ROOT } from "../helpers/test-model.js";

/** `ingest`: several inputs merged into one readings file, every reading not used counted by reason. */
const EXAMPLES = join(ROOT, "data", "examples");
const BUNDLE = join(EXAMPLES, "synthetic-bundle.fhir.json");
const CSV = join(EXAMPLES, "synthetic-readings.csv");
const APPLE = join(EXAMPLES, "synthetic-apple-health-export.xml");

describe("ingest: files of every format into one readings file (client/node/ingest.ts, CLI ingest)", function () {
  this.timeout(120_000);
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "pmhe-ingest-test-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("guesses the format from the extension, or from the first character", function () {
    expect(detectFormat("a.JSON", "")).to.equal("fhir");
    expect(detectFormat("export.xml", "")).to.equal("apple");
    expect(detectFormat("r.csv", "")).to.equal("csv");
    expect(detectFormat("", '  {"resourceType"')).to.equal("fhir");
    expect(detectFormat("", "<?xml")).to.equal("apple");
    expect(detectFormat("", "timestamp,metric")).to.equal("csv");
  });

  it("merges inputs: a reading two files give is counted once, as a duplicate; the counts add up to the parsers'", async function () {
    const fhir = parseFhir(await readFile(BUNDLE, "utf8"), { source: BUNDLE });
    const csv = parseDeviceCsv(await readFile(CSV, "utf8"), { source: CSV });
    const result = await ingest({ inputs: [BUNDLE, CSV] });
    const keys = new Set(fhir.observations.map((o) => `${o.code}@${o.time}@${o.value}`));
    const repeated = csv.observations.filter((o) => keys.has(`${o.code}@${o.time}@${o.value}`)).length;
    expect(repeated, "readings the CSV repeats from the bundle").to.be.greaterThan(0);
    expect(result.summary.used).to.equal(fhir.observations.length + csv.observations.length - repeated);
    expect(result.summary.skipped.duplicate).to.equal(repeated);
    expect(result.inputs.map((i) => [i.format, i.used, i.skipped])).to.deep.equal([
      ["fhir", fhir.observations.length, 0],
      ["csv", csv.observations.length - repeated, repeated],
    ]);
    expect(result.profile.birthDate).to.equal(fhir.profile.birthDate);
    expect(result.observations.map((o) => o.time)).to.deep.equal([...result.observations.map((o) => o.time)].sort((a, b) => a - b));
  });

  it("streams an Apple Health export and counts its twice-written blood pressure and its unknown types", async function () {
    const text = await readFile(APPLE, "utf8");
    const direct = parseAppleHealthText(text, { source: APPLE });
    const result = await ingest({ inputs: [APPLE] });
    expect(result.summary.used).to.equal(direct.observations.length);
    expect(result.summary.skipped).to.deep.equal(direct.summary.skipped);
    expect(result.issues.some((i) => i.reason === "unknown_code" && i.message.includes("HKQuantityTypeIdentifierStepCount"))).to.equal(true);
  });

  it("names a file it cannot read: not found, or not the format it claims", async function () {
    const bad = join(dir, "broken.json");
    await writeFile(bad, '{"resourceType": "Bundle", ');
    const err = await ingest({ inputs: [bad] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(IntakeFormatError);
    expect((err as Error).message).to.include(bad);
    const missing = await ingest({ inputs: [join(dir, "absent.csv")] }).catch((e: unknown) => e);
    expect((missing as { code?: string }).code).to.equal("ENOENT");
  });

  it("as a command: writes the readings file (mode 0600), exits 3 with --strict when a reading was not used, 1 on a broken file", async function () {
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", join(ROOT, "client", "cli.ts"), ...args], { cwd: ROOT }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const out = join(dir, "readings.json");
    const plain = await run(["ingest", BUNDLE, "--out", out, "--json"]);
    expect(plain.code, plain.stderr).to.equal(0);
    const written = await readIntakeFile(out);
    expect(written.observations.length).to.equal(JSON.parse(plain.stdout).summary.used);
    const { mode } = await import("node:fs/promises").then((fs) => fs.stat(out));
    expect(mode & 0o777).to.equal(0o600);
    const strict = await run(["ingest", BUNDLE, CSV, "--out", out, "--strict"]);
    expect(strict.code).to.equal(3);
    expect(strict.stdout).to.match(/not used \d+: \d+ duplicates/);
    const bad = join(dir, "broken.csv");
    await writeFile(bad, "time,what\n1,2\n");
    const broken = await run(["ingest", bad, "--out", out]);
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.include("header lacks columns").and.to.include("next: correct the file");
  });
});
