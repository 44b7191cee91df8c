import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Locator, Page } from "playwright-core";
import { dayOf } from "../../client/window-predictions.js";
import { parseAppleHealthText } from "../../protocol/intake/apple-health.js";
import { parseDeviceCsv } from "../../protocol/intake/device-csv.js";
import { parseFhir } from "../../protocol/intake/fhir.js";
import { summarise, type IntakeResult, type IntakeSummary } from "../../protocol/intake/observation.js";
import { windowReadings, type WindowedReadings } from "../../protocol/intake/windows.js";
import { parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { generateWearable, readHeartProfiles, toFhirBundle, type FhirBundle } from "../../scripts/lib/synthetic-wearable.js";
import { expectClose } from "../helpers/close.js";
import { launchProfile } from "./helpers/browser.js";
import { installInjectedWallet, type WalletControl } from "./helpers/injected-wallet.js";
import { startProduct, type Product } from "./helpers/product.js";
import { RequestLog } from "./helpers/request-log.js";
import { screenshot } from "./helpers/screenshots.js";

/**
 * "Import readings" in the production build, in Debian's Chromium, against the whole product (scripts/start.ts), with
 * the test wallet standing in for MetaMask. The file is a FHIR R4 bundle of two days of synthetic wearable data
 * (scripts/lib/synthetic-wearable.ts: minute heart rate, blood pressure every four hours awake, SpO2, a cholesterol
 * value, the profile's birth date and sex) plus a few readings that cannot be used, one of each reason. The example
 * bundle in data/examples holds three heart-rate and two blood-pressure readings, fewer than one window of the heart
 * model needs (60 and 3 in 24 h), so only generated data lets the wearable inputs come from the file itself: no
 * fallback value is given, and windows without enough readings are skipped, as the person would see them.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const MODEL_FILE = "statlog-heart-logreg.v1.json";
const FILE_NAME = "synthetic-two-days.fhir.json";
const STEP_HOURS = 3;
/** The heart data set's row the synthetic wearable data follows (age 59, male, resting systolic 108, maximum heart rate 142). */
const PROFILE_ROW = 8;
/**
 * What the person types: the inputs of the heart model no device gives. With these, the row's windows score around
 * the model's threshold (about 48 % to 63 %), so the chart shows the risk move with the wearable values.
 */
const GIVEN: Reading = { cp: 4, fbs: 0, restecg: 2, exang: 1, oldpeak: 1.4, slope: 2, ca: 0, thal: 3 };

const percent = (p: number) => `${(p * 100).toFixed(0)} %`;

/** The generated bundle, with one reading of each kind that is not used, each named by its id. */
function bundleWithIssues(bundle: FhirBundle): FhirBundle {
  const first = Date.parse(bundle.entry.find((e) => e.resource.resourceType === "Observation")!.resource.effectiveDateTime as string);
  const at = (hours: number) => new Date(first + hours * 3_600_000 + 30_000).toISOString();
  const heartRate = (id: string, value: number, unit: string, time: string, extra: Record<string, unknown> = {}) => ({
    fullUrl: `urn:pmhe:Observation/${id}`,
    resource: {
      resourceType: "Observation",
      id,
      status: "final",
      code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
      valueQuantity: { value, unit, system: "http://unitsofmeasure.org", code: unit },
      effectiveDateTime: time,
      ...extra,
    },
  });
  const copied = bundle.entry.find((e) => e.resource.resourceType === "Observation" && (e.resource.code as { coding: Array<{ code: string }> }).coding[0]!.code === "8867-4")!;
  return {
    ...bundle,
    entry: [
      ...bundle.entry,
      heartRate("bad-impossible", 420, "/min", at(10)),
      heartRate("bad-unit", 72, "kg", at(10.5)),
      heartRate("bad-withdrawn", 75, "/min", at(11), { status: "entered-in-error" }),
      { fullUrl: "urn:pmhe:Observation/bad-no-time", resource: { ...heartRate("bad-no-time", 70, "/min", at(12)).resource, effectiveDateTime: undefined } },
      { fullUrl: "urn:pmhe:Device/watch", resource: { resourceType: "Device", id: "watch" } },
      { fullUrl: "urn:pmhe:Observation/bad-duplicate", resource: { ...copied.resource, id: "bad-duplicate" } },
    ],
  };
}

describe("web app in Chromium: Import readings from a FHIR bundle, every window predicted (test wallet standing in for MetaMask)", function () {
  this.timeout(240_000);
  let product: Product;
  let model: Model;
  let dir: string;
  let file: string;
  let bytes: Buffer;
  let intake: IntakeResult;
  let expected: WindowedReadings;
  let page: Page;
  let wallet: WalletControl;
  let closeBrowser: (() => Promise<void>) | undefined;
  const log = new RequestLog();

  const byTestId = (within: Page | Locator, id: string, attributes: Record<string, string> = {}) =>
    within.locator(`[data-testid="${id}"]${Object.entries(attributes).map(([k, v]) => `[${k}="${v}"]`).join("")}`);

  before(async function () {
    // The file, made and read independently of the app: what the page must report.
    model = parseModelBytes(await readFile(join(ROOT, "models", MODEL_FILE)));
    const profile = readHeartProfiles(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"))[PROFILE_ROW - 1]!;
    const bundle = bundleWithIssues(toFhirBundle(generateWearable({ profile, seed: 7, days: 2 })));
    dir = await mkdtemp(join(tmpdir(), "pmhe-import-test-"));
    file = join(dir, FILE_NAME);
    bytes = Buffer.from(JSON.stringify(bundle));
    await writeFile(file, bytes);
    intake = parseFhir(bytes.toString("utf8"), { source: FILE_NAME });
    expected = windowReadings(model, intake.observations, intake.profile, { stepHours: STEP_HOURS, given: GIVEN });
    expect(expected.windows.length, "windows the generated data gives").to.be.at.least(3);

    product = await startProduct();
    const launched = await launchProfile();
    closeBrowser = launched.close;
    log.attach(launched.context, "patient");
    const patient = product.summary.accounts.patients[0]!.address;
    wallet = await installInjectedWallet(launched.context, { rpcUrl: product.summary.rpcUrl, chainId: product.summary.chainId, account: patient });
    page = launched.context.pages()[0] ?? (await launched.context.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(`${product.summary.appUrl}/#/patient/predict`);
    await byTestId(page, "patient-connect").click();
    await byTestId(page, "wallet-address", { "data-address": patient.toLowerCase() }).waitFor();
  });

  afterEach(async function () {
    if (this.currentTest?.state !== "failed" || !page) return;
    const failure = await mkdtemp(join(tmpdir(), "pmhe-web-failure-"));
    await page.screenshot({ path: join(failure, "import.png"), fullPage: true }).catch(() => undefined);
    console.log(`    picture of the page: ${failure}`);
  });

  after(async function () {
    await closeBrowser?.();
    await product?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("imports the file in a worker, shows what it holds, predicts every window a day at a time, and shows each window's decrypted risk equal to the plaintext model's within 1e-4", async function () {
    // Keys made in the FHE worker and registered, as on New prediction.
    await byTestId(page, "key-gate", { "data-phase": "absent" }).waitFor();
    await byTestId(page, "keys-create").click();
    await byTestId(page, "registration-gate").locator('[data-testid="keys-register"]').click();
    await byTestId(page, "registration-gate").waitFor({ state: "detached" });

    // The tab, reached from the keyboard like the others.
    await byTestId(page, "tab-import").click();
    expect(await page.evaluate("location.hash")).to.equal("#/patient/import");
    await page.getByRole("heading", { name: "Import readings", level: 1 }).waitFor();

    // The file, through the file input; the summary counts what parseFhir counts.
    await page.getByLabel("File of readings", { exact: true }).setInputFiles(file);
    const summary = byTestId(page, "import-summary");
    await summary.waitFor();
    const counts = summarise(intake);
    expect(Number(await summary.getAttribute("data-used")), "readings used").to.equal(counts.used);
    const shownCodes = await byTestId(summary, "import-used-code").evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.getAttribute("data-code"), Number(r.getAttribute("data-count"))])));
    expect(shownCodes, "readings used per measurement").to.deep.equal(counts.byCode);
    const shownReasons = await byTestId(summary, "import-skipped").evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.getAttribute("data-reason"), Number(r.getAttribute("data-count"))])));
    expect(shownReasons, "readings skipped per reason").to.deep.equal(counts.skipped);
    expect(Object.keys(counts.skipped).sort()).to.deep.equal(["duplicate", "impossible_value", "malformed", "unknown_code", "withdrawn", "wrong_unit"]);
    // The first messages name the reading and what is wrong with it.
    const messages = await byTestId(summary, "import-issue").allTextContents();
    expect(messages, "messages shown: the first 3 of each reason").to.have.length(Object.values(counts.skipped).reduce((sum, n) => sum + Math.min(3, n), 0));
    for (const id of ["bad-impossible", "bad-unit", "bad-withdrawn", "bad-no-time", "Device/watch", "bad-duplicate"]) {
      expect(messages.some((m) => m.includes(id)), `a message naming ${id}`).to.equal(true);
    }
    expect(await byTestId(summary, "import-profile").innerText()).to.contain(`born ${intake.profile.birthDate}`);

    // The values no device gives, by their labels; a window every 3 hours, every day of the file.
    for (const input of model.inputs!.filter((i) => !i.source)) {
      const field = page.getByLabel(input.label, { exact: true });
      expect(await field.getAttribute("data-testid"), `the field labelled "${input.label}"`).to.equal(`field-${input.name}`);
      if (input.kind === "choice") await field.selectOption(String(GIVEN[input.name]));
      else await field.fill(String(GIVEN[input.name]));
    }
    await page.getByLabel("A window every", { exact: true }).selectOption(String(STEP_HOURS));
    await page.getByLabel("Days to predict", { exact: true }).selectOption("0");
    const windows = byTestId(page, "import-windows", { "data-all": String(expected.windows.length) });
    await windows.waitFor();
    expect(Number(await windows.getAttribute("data-skipped")), "windows skipped").to.equal(expected.skipped.length);
    expect(Number(await windows.getAttribute("data-count")), "windows to predict").to.equal(expected.windows.length);
    const days = [...new Set(expected.windows.map((w) => dayOf(w.end)))];
    const records = days.reduce((sum, day) => sum + Math.ceil(expected.windows.filter((w) => dayOf(w.end) === day).length / 6), 0);

    // Predict every window, from the keyboard.
    const sentBefore = wallet.requests.filter((r) => r.method === "eth_sendTransaction").length;
    const predict = page.locator('[data-testid="import-predict"]:not([disabled])');
    await predict.focus();
    await page.keyboard.press("Enter");
    const run = byTestId(page, "import-run");
    await run.waitFor();
    // Visible progress: a day is at one of its steps while the run goes on.
    await byTestId(run, "import-day", { "data-day": days[0]! }).waitFor();
    await Promise.race([
      byTestId(page, "import-run", { "data-state": "done" }).waitFor({ timeout: 180_000 }),
      byTestId(page, "import-run", { "data-state": "failed" })
        .waitFor({ timeout: 180_000 })
        .then(async () => {
          throw new Error(`the run failed: ${await byTestId(page, "import-run-error").innerText()}`);
        }),
    ]);
    const shownDays = await byTestId(run, "import-day").evaluateAll((rows) => rows.map((r) => `${r.getAttribute("data-day")}:${r.getAttribute("data-step")}`));
    expect(shownDays).to.deep.equal(days.map((d) => `${d}:done`));
    // One transaction per day (its root) and one per record, and nothing else.
    const sent = wallet.requests.filter((r) => r.method === "eth_sendTransaction").length - sentBefore;
    expect(sent, "transactions the wallet was asked for").to.equal(days.length + records);

    // Every window's decrypted risk: the plaintext model's on the reading computed here from the same file.
    const rows = await byTestId(page, "import-window-row").evaluateAll((all) =>
      all.map((r) => ({ end: Number(r.getAttribute("data-end")), probability: Number(r.getAttribute("data-probability")), text: r.querySelector('[data-testid="import-window-risk"]')?.textContent ?? "" })),
    );
    expect(rows.map((r) => r.end), "the windows predicted").to.deep.equal(expected.windows.map((w) => w.end));
    for (const [i, row] of rows.entries()) {
      const plain = predictPlaintext(model, expected.windows[i]!.reading);
      expectClose(row.probability, plain.probability, 1e-4, `window ending ${new Date(row.end).toISOString()}`);
      expect(row.text).to.equal(percent(row.probability));
    }
    // The wearable inputs came from the file: no window's values are the same for every window.
    const systolic = new Set(expected.windows.map((w) => w.reading.trestbps));
    const maxRate = new Set(expected.windows.map((w) => w.reading.thalach));
    expect(systolic.size + maxRate.size, "distinct wearable values across windows").to.be.greaterThan(2);

    // The chart, and the picture of the view with it.
    await byTestId(page, "import-chart").locator("canvas").first().waitFor();
    await screenshot(page, "patient-import");
    await page.setViewportSize({ width: 375, height: 812 });
    await byTestId(page, "import-chart").scrollIntoViewIfNeeded();
    await screenshot(page, "patient-import-375", { fullPage: false });
    // Nothing wider than a 375 px phone: the table scrolls inside its box, the page does not.
    expect(await page.evaluate("document.documentElement.scrollWidth"), "the page's width at 375 px").to.be.at.most(375);
    await page.setViewportSize({ width: 1280, height: 900 });

    // The file never left the browser: no request carried its text or any of its resource ids.
    await log.settle();
    const needles = ["effectiveDateTime", "bad-impossible", `"birthDate":"${intake.profile.birthDate}"`];
    for (const r of log.entries) {
      const body = r.body?.toString("latin1") ?? "";
      for (const needle of needles) expect(body.includes(needle) || r.url.includes(needle), `${r.method} ${r.url} carries "${needle}"`).to.equal(false);
    }
  });

  it("reads the example Apple Health export (streamed from the file in the worker) and the example device CSV, reports what the protocol's parsers report, and names a file it cannot read", async function () {
    const summaryOf = async (): Promise<IntakeSummary> => {
      const summary = byTestId(page, "import-summary");
      await summary.waitFor();
      const byCode = await byTestId(summary, "import-used-code").evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.getAttribute("data-code"), Number(r.getAttribute("data-count"))])));
      const skipped = await byTestId(summary, "import-skipped").evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.getAttribute("data-reason"), Number(r.getAttribute("data-count"))])));
      return { used: Number(await summary.getAttribute("data-used")), byCode, skipped };
    };
    const input = page.getByLabel("File of readings", { exact: true });

    const xml = join(ROOT, "data", "examples", "synthetic-apple-health-export.xml");
    await input.setInputFiles(xml);
    await page.locator('[data-testid="import-summary"] h2', { hasText: "synthetic-apple-health-export.xml" }).waitFor();
    const apple = parseAppleHealthText(await readFile(xml, "utf8"), { source: "synthetic-apple-health-export.xml" }).summary;
    expect(await summaryOf(), "the Apple Health export's counts").to.deep.equal({ used: apple.used, byCode: apple.byCode, skipped: apple.skipped });

    const csv = join(ROOT, "data", "examples", "synthetic-readings.csv");
    await input.setInputFiles(csv);
    await page.locator('[data-testid="import-summary"] h2', { hasText: "synthetic-readings.csv" }).waitFor();
    const device = summarise(parseDeviceCsv(await readFile(csv, "utf8"), { source: "synthetic-readings.csv" }));
    expect(await summaryOf(), "the device CSV's counts").to.deep.equal(device);
    // A new file starts over: the previous run's results are gone.
    expect(await byTestId(page, "import-results").count()).to.equal(0);

    // A file that is not what its name says: the app's error panel names it and what to choose instead.
    await input.setInputFiles({ name: "broken.json", mimeType: "application/json", buffer: Buffer.from("not json at all") });
    const error = byTestId(page, "import-error");
    await error.waitFor();
    expect(await error.getAttribute("data-error-code")).to.equal("IntakeFormatError");
    expect(await byTestId(error, "error-title").innerText()).to.equal("File not readable");
    expect(await byTestId(error, "error-sentence").innerText()).to.match(/^broken\.json: is not valid JSON/);
    expect(await byTestId(page, "import-summary").count()).to.equal(0);
  });
});
