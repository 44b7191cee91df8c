import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { getAddress, JsonRpcProvider } from "ethers";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { hardhatAccount, localHospitalKeys } from "../../local/stack.js";
import { connectPmhe } from "../../protocol/chain.js";
import { contentHash } from "../../protocol/hash.js";
import { hospitalKeyFileDocument } from "../../protocol/hospital-key-file.js";
import { backupKeyFromSignature, keyBackupDomain, openKeyBackup, signKeyBackup } from "../../protocol/key-backup.js";
import { parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { roundProbability } from "../../protocol/result-share.js";
import { expectClose } from "../helpers/close.js";
import { launchProfile } from "./helpers/browser.js";
import { installInjectedWallet, type WalletControl } from "./helpers/injected-wallet.js";
import { startProduct, type Product } from "./helpers/product.js";
import { findLeaks, RequestLog, type Secret, type TypedReading } from "./helpers/request-log.js";
import { screenshot } from "./helpers/screenshots.js";

/**
 * The web app's production build in Debian's Chromium, against the whole product started as a person starts it
 * (scripts/start.ts: Hardhat node, Redis, the Ignition deployment, the demo hospital and its models, the
 * coprocessor, the app served with its API under /api). MetaMask's extension cannot be installed here: a test wallet
 * stands in for it (test/web/helpers/injected-wallet.ts: EIP-6963, EIP-1193, 4001 rejections), and the app cannot
 * tell the difference. Each step asserts what the page shows, and writes a picture of each view to docs/screenshots.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const MODEL_FILE = "statlog-heart-logreg.v1.json";

/** What the patient types: two readings a plaintext model scores far apart (97 % and 2 %). */
const READING_1: Reading = { age: 61, sex: 1, cp: 4, trestbps: 137, chol: 287, fbs: 0, restecg: 2, thalach: 151, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 };
const READING_2: Reading = { age: 47, sex: 0, cp: 3, trestbps: 123, chol: 219, fbs: 0, restecg: 0, thalach: 163, exang: 0, oldpeak: 0.6, slope: 1, ca: 0, thal: 3 };
/** The inputs whose typed values are distinctive enough to look for in requests (choices are 0 to 7). */
const SEARCHED_INPUTS = ["age", "trestbps", "chol", "thalach", "oldpeak"] as const;

/** Wallet methods that put a confirmation in front of the person. */
const PROMPTING_METHODS = new Set(["eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign", "eth_signTransaction"]);

/** The app's own percent format (client/web/src/app/format.ts): whole percent. */
const percent = (p: number) => `${(p * 100).toFixed(0)} %`;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not known: an earlier step of this suite failed`);
  return value;
}

/** A browser profile of its own, its requests recorded, with or without the test wallet. */
interface Profile {
  context: BrowserContext;
  page: Page;
  wallet?: WalletControl;
  close(): Promise<void>;
}

describe("web app in Chromium: patient, hospital, auditor and error flows on the production build (test wallet standing in for MetaMask)", function () {
  this.timeout(240_000);
  let product: Product;
  let provider: JsonRpcProvider;
  let model: Model;
  const log = new RequestLog();
  const profiles: Profile[] = [];
  const stopped: number[] = [];

  // What earlier steps learn and later ones check.
  let patient: string;
  let patientA: Profile | undefined;
  let secretKey: Uint8Array | undefined;
  let backupSignature: string | undefined;
  let first: { probability: number; jobId: string; resultHash: string } | undefined;

  async function profile(label: string, wallet?: { account: string; startChainId?: number }, viewport?: { width: number; height: number }): Promise<Profile> {
    const launched = await launchProfile(viewport ?? {});
    let control: WalletControl | undefined;
    try {
      log.attach(launched.context, label);
      if (wallet) control = await installInjectedWallet(launched.context, { rpcUrl: product.summary.rpcUrl, chainId: product.summary.chainId, ...wallet });
      const page = launched.context.pages()[0] ?? (await launched.context.newPage());
      page.setDefaultTimeout(60_000);
      const opened: Profile = { context: launched.context, page, ...(control ? { wallet: control } : {}), close: launched.close };
      profiles.push(opened);
      return opened;
    } catch (err) {
      await launched.close();
      throw err;
    }
  }

  const byTestId = (page: Page | Locator, id: string, attributes: Record<string, string> = {}) =>
    page.locator(`[data-testid="${id}"]${Object.entries(attributes).map(([k, v]) => `[${k}="${v}"]`).join("")}`);

  async function connectPatient(page: Page, address: string): Promise<void> {
    await page.goto(`${product.summary.appUrl}/#/patient/predict`);
    await byTestId(page, "patient-connect").click();
    await byTestId(page, "wallet-address", { "data-address": address.toLowerCase() }).waitFor();
  }

  /** Fills the form as a screen-reader user would find it: each field by its label (labelled fields, or this fails). */
  async function fillReading(page: Page, reading: Reading): Promise<void> {
    for (const input of model.inputs!) {
      const field = page.getByLabel(need(input.label, `${input.name}'s label`), { exact: true });
      expect(await field.getAttribute("data-testid"), `the field labelled "${input.label}"`).to.equal(`field-${input.name}`);
      const value = String(reading[input.name]);
      if (input.kind === "choice") await field.selectOption(value);
      else await field.fill(value);
    }
  }

  /** Types the reading, requests, and waits for the decrypted result; answers what the result card shows. */
  async function predict(page: Page, reading: Reading, onFilled?: () => Promise<void>): Promise<{ probability: number; text: string; predictedClass: number; jobId: string; resultHash: string }> {
    await byTestId(page, "tab-predict").click();
    await byTestId(page, "model-picker").selectOption(product.summary.models.find((m) => m.name === model.name)!.id);
    await fillReading(page, reading);
    await onFilled?.();
    // Enabled once the open keys are the registered ones; sent from the keyboard (focus, Enter), as without a mouse.
    const submit = page.locator('[data-testid="predict-submit"]:not([disabled])');
    await submit.focus();
    expect(await submit.evaluate((el) => el === document.activeElement), "the submit button takes the keyboard's focus").to.equal(true);
    await page.keyboard.press("Enter");
    const result = byTestId(page, "result");
    await Promise.race([
      result.waitFor({ timeout: 120_000 }),
      byTestId(page, "prediction-error")
        .waitFor({ timeout: 120_000 })
        .then(async () => {
          throw new Error(`the prediction failed: ${await byTestId(page, "prediction-error").innerText()}`);
        }),
    ]);
    const value = byTestId(result, "risk-value");
    const codes = await byTestId(result, "verified").locator("code").all();
    return {
      probability: Number(await value.getAttribute("data-probability")),
      text: (await value.innerText()).trim(),
      predictedClass: Number(await byTestId(result, "risk-class").getAttribute("data-class")),
      resultHash: need((await codes[0]?.getAttribute("title")) ?? undefined, "the result hash the card names"),
      jobId: need((await codes[1]?.getAttribute("title")) ?? undefined, "the job id the card names"),
    };
  }

  before(async function () {
    product = await startProduct();
    provider = new JsonRpcProvider(product.summary.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 100 });
    model = parseModelBytes(await readFile(join(ROOT, "models", MODEL_FILE)));
    patient = product.summary.accounts.patients[0]!.address;
  });

  // A failed step leaves a picture of every open page (not under docs/: these are for whoever reads the failure).
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    const dir = await mkdtemp(join(tmpdir(), "pmhe-web-failure-"));
    for (const [i, p] of profiles.entries()) await p.page.screenshot({ path: join(dir, `${i}.png`), fullPage: true }).catch(() => undefined);
    console.log(`    pictures of the open pages: ${dir}`);
  });

  after(async function () {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(-pid, "SIGCONT");
      } catch {
        // gone
      }
    }
    for (const p of profiles.splice(0)) await p.close();
    provider?.destroy();
    await product?.stop();
  });

  it("a patient (test wallet standing in for MetaMask) makes keys in the worker, registers and backs them up, grants a consent, and gets decrypted risks equal to the plaintext model's within 1e-4", async function () {
    const a = await profile("patient A", { account: patient });
    patientA = a;
    const { page } = a;
    await connectPatient(page, patient);

    // Keys: made in the FHE worker, sealed on the device under the wallet's signature, registered, backed up.
    await byTestId(page, "key-gate", { "data-phase": "absent" }).waitFor();
    await byTestId(page, "keys-create").click();
    await byTestId(page, "registration-gate").waitFor();
    await byTestId(page, "registration-gate").locator('[data-testid="keys-register"]').click();
    await byTestId(page, "registration-gate").waitFor({ state: "detached" });
    await byTestId(page, "tab-keys").click();
    await byTestId(page, "registration-status", { "data-state": "done" }).waitFor();
    await byTestId(page, "keys-backup").click();
    await byTestId(page, "backup-status", { "data-state": "done" }).waitFor();

    // The key set the app keeps in IndexedDB: sealed under the key derived from the wallet's (deterministic)
    // key-backup signature, which the test asks of the same unlocked Hardhat account to open it.
    const stored = (await page.evaluate(`new Promise((resolve, reject) => {
      const open = indexedDB.open("pmhe");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction("keys").objectStore("keys").getAll();
        get.onerror = () => reject(get.error);
        get.onsuccess = () => resolve(get.result.map((v) => ({ sealed: Array.from(v.sealed), keyBundleHash: v.keyBundleHash })));
      };
    })`)) as Array<{ sealed: number[]; keyBundleHash: string }>;
    expect(stored, "one key set in the app's IndexedDB").to.have.length(1);
    const domain = keyBackupDomain(product.summary.chainId, product.summary.contractAddress);
    backupSignature = await signKeyBackup(await provider.getSigner(patient), domain);
    secretKey = openKeyBackup(Uint8Array.from(stored[0]!.sealed), { patient, domain, signature: backupSignature }).secretKey;
    expect(secretKey.length, "the secret key's size").to.be.greaterThan(1_000);
    const [registered] = await connectPmhe(product.summary.contractAddress, provider).currentKeyBundle(patient);
    expect(registered.toLowerCase(), "the key bundle registered on-chain is the stored one's").to.equal(stored[0]!.keyBundleHash);
    expect(await byTestId(page, "key-bundle-hash").getAttribute("title")).to.equal(stored[0]!.keyBundleHash);

    // A consent for the demo hospital, results included.
    await byTestId(page, "tab-consents").click();
    await byTestId(page, "consents-empty").waitFor();
    const hospital = product.summary.accounts.hospital.address;
    expect(await byTestId(page, "consent-hospital").inputValue()).to.equal(hospital);
    expect(await byTestId(page, "consent-results").isChecked()).to.equal(true);
    await byTestId(page, "consent-grant").click();
    await byTestId(page, "consent-granted").waitFor();
    const row = page.locator(`[data-testid="consent-row"][data-status="active"]`);
    await row.waitFor();
    expect(getAddress(need((await row.getAttribute("data-hospital")) ?? undefined, "the consent's hospital"))).to.equal(hospital);
    await screenshot(page, "patient-consents");

    // The first prediction, typed in, with the form's picture before it is sent.
    const expected1 = predictPlaintext(model, READING_1);
    const walletPrompts = () => need(a.wallet, "the test wallet").requests.filter((r) => PROMPTING_METHODS.has(r.method)).map((r) => r.method);
    const promptsBefore1 = walletPrompts().length;
    const one = await predict(page, READING_1, async () => {
      await screenshot(page, "patient-form");
    });
    // One confirmation per prediction: the anchorAndRequest transaction (the record upload is signed by the upload
    // session's key, delegated once when the keys were registered).
    expect(walletPrompts().slice(promptsBefore1), "what the wallet was asked to confirm for the first prediction").to.deep.equal(["eth_sendTransaction"]);
    expectClose(one.probability, expected1.probability, 1e-4, "decrypted probability vs the plaintext model's");
    expect(one.predictedClass).to.equal(expected1.predictedClass);
    expect(one.text).to.equal(percent(one.probability));
    expect(Math.abs(Number.parseFloat(one.text) - expected1.probability * 100), "the percent shown").to.be.at.most(0.51);
    expect(await byTestId(page, "progress").getAttribute("data-step")).to.equal("done");
    expect(await byTestId(page, "verified").innerText()).to.match(/is the hash the chain committed/);
    first = { probability: one.probability, jobId: one.jobId, resultHash: one.resultHash };
    await screenshot(page, "patient-result");
    await page.setViewportSize({ width: 375, height: 812 });
    await byTestId(page, "result").scrollIntoViewIfNeeded();
    await screenshot(page, "patient-result-375", { fullPage: false });
    // Nothing wider than a 375 px phone: no sideways scrolling.
    expect(await page.evaluate("document.documentElement.scrollWidth"), "the page's width at 375 px").to.be.at.most(375);
    await page.setViewportSize({ width: 1280, height: 900 });

    // Shared with the hospital (rounded, sealed to its key) from the result card.
    const share = byTestId(page, "share");
    await share.locator("summary").click();
    expect(await byTestId(share, "share-hospital").inputValue()).to.equal(hospital);
    await byTestId(share, "share-submit").click();
    await byTestId(share, "share-done").waitFor();

    // A second prediction, for the history's chart.
    const expected2 = predictPlaintext(model, READING_2);
    const promptsBefore2 = walletPrompts().length;
    const two = await predict(page, READING_2);
    expect(walletPrompts().slice(promptsBefore2), "what the wallet was asked to confirm for the second prediction").to.deep.equal(["eth_sendTransaction"]);
    expectClose(two.probability, expected2.probability, 1e-4, "second decrypted probability vs the plaintext model's");
    expect(two.jobId).to.not.equal(one.jobId);

    // The history: both jobs from the chain, their results from this device's sealed cache, the chart drawn.
    await byTestId(page, "tab-history").click();
    const rows = byTestId(page, "history-row");
    await byTestId(page, "history-row", { "data-job-id": two.jobId }).waitFor();
    expect(await rows.count()).to.equal(2);
    expect(await byTestId(page, "history-row", { "data-job-id": one.jobId }).locator('[data-testid="history-risk"]').innerText()).to.equal(percent(one.probability));
    expect(await byTestId(page, "history-row", { "data-job-id": two.jobId }).locator('[data-testid="history-risk"]').innerText()).to.equal(percent(two.probability));
    await byTestId(page, "history-chart").locator("canvas").first().waitFor();
    await screenshot(page, "patient-history");
  });

  it("the same patient restores the keys in a fresh browser profile (another device) and decrypts the earlier result there", async function () {
    const earlier = need(first, "the first result");
    const { page } = await profile("patient B (restored)", { account: patient });
    await connectPatient(page, patient);
    await byTestId(page, "key-gate", { "data-phase": "absent" }).waitFor();
    // The button found before the backup check answers is still the restore button after it: the answer only
    // changes which one is emphasised (buttons that swapped places once turned a click on "restore" into "make
    // new keys", and the restored history was then under other keys).
    const restoreButton = await byTestId(page, "keys-restore").elementHandle();
    await page.locator('[data-testid="keys-restore"].primary').waitFor();
    expect(await restoreButton!.getAttribute("data-testid"), "the node first found as the restore button").to.equal("keys-restore");
    await screenshot(page, "patient-restore-gate");
    await byTestId(page, "keys-restore").click();
    await byTestId(page, "key-gate").waitFor({ state: "detached" });
    await byTestId(page, "tab-history").click();
    const row = byTestId(page, "history-row", { "data-job-id": earlier.jobId });
    await row.waitFor();
    // Nothing of the first device's cache is here: the result is decrypted again with the restored key.
    expect(await byTestId(row, "history-risk").count()).to.equal(0);
    await byTestId(row, "history-decrypt").click();
    await byTestId(row, "history-risk").waitFor();
    expect(await byTestId(row, "history-risk").innerText()).to.equal(percent(earlier.probability));
    await byTestId(page, "history-chart").locator("canvas").first().waitFor();
    await screenshot(page, "patient-restored-history");
    await byTestId(page, "tab-keys").click();
    await byTestId(page, "registration-status", { "data-state": "done" }).waitFor();
  });

  it("a hospital (test wallet standing in for MetaMask) requests a prediction under consent, reads the result the patient shared, and is refused with the decoded error once the patient revokes", async function () {
    const earlier = need(first, "the first result");
    const a = need(patientA, "the patient's first profile");
    const hospital = product.summary.accounts.hospital;
    const { page } = await profile("hospital", { account: hospital.address });
    await page.goto(`${product.summary.appUrl}/#/hospital`);
    await byTestId(page, "hospital-connect-button").click();
    await byTestId(page, "hospital-status").waitFor();
    const consent = byTestId(page, "hospital-consent-row", { "data-patient": patient.toLowerCase() });
    expect(await consent.getAttribute("data-active")).to.equal("true");
    expect(await byTestId(consent, "hospital-consent-results").innerText()).to.equal("Yes");

    // A request under the consent, on one of the patient's anchored records, with the logistic-regression model.
    const logreg = product.summary.models.find((m) => m.name === model.name)!;
    expect(await byTestId(page, "hospital-request-patient").inputValue()).to.equal(patient.toLowerCase());
    await byTestId(page, "hospital-request-record").locator("option[value^='0x']").first().waitFor({ state: "attached" });
    await byTestId(page, "hospital-request-model").selectOption(logreg.id);
    await byTestId(page, "hospital-request-button").click();
    await byTestId(page, "hospital-request-done").waitFor();
    const jobId = await byTestId(page, "hospital-request-job-id").innerText();
    expect(jobId).to.match(/^0x[0-9a-f]{64}$/);
    await byTestId(page, "hospital-request-status", { "data-status": "Finalized" }).waitFor({ timeout: 90_000 });

    // The result the patient shared: opened with the hospital's key file, in this page's memory only.
    const keyFile = hospitalKeyFileDocument(localHospitalKeys(hardhatAccount(1, provider)), { derivedFrom: hospital.address });
    await byTestId(page, "hospital-key-file").setInputFiles({ name: "hospital-share-key.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(keyFile, null, 2)) });
    await byTestId(page, "hospital-key-loaded", { "data-matches": "true" }).waitFor();
    const shared = byTestId(page, "hospital-shared-row", { "data-job-id": earlier.jobId, "data-state": "opened" });
    await shared.waitFor();
    expect(Number(await byTestId(shared, "hospital-shared-probability").getAttribute("data-probability"))).to.equal(roundProbability(earlier.probability));
    expect(await byTestId(shared, "hospital-shared-class").getAttribute("data-class")).to.equal("1");
    await screenshot(page, "hospital");

    // The patient revokes (on the first device); the hospital's page still lists the consent, the contract refuses.
    await byTestId(a.page, "tab-consents").click();
    await byTestId(a.page, "consent-revoke").click();
    await a.page.locator('[data-testid="consent-row"][data-status="revoked"]').waitFor();
    await byTestId(page, "hospital-request-button").click();
    const refused = byTestId(page, "hospital-request-error");
    await refused.waitFor();
    expect(await refused.getAttribute("data-error-code")).to.equal("NotAuthorizedRequester");
    expect(await refused.innerText()).to.match(/NotAuthorizedRequester/).and.to.match(/consent/i);
    await byTestId(page, "hospital-consent-row", { "data-patient": patient.toLowerCase(), "data-status": "revoked" }).waitFor();
    await screenshot(page, "hospital-refused");
  });

  it("an auditor (no wallet) checks a job's blobs against the chain, re-executes it to the committed hash, and sees a tampered blob flagged", async function () {
    const earlier = need(first, "the first result");
    const { page } = await profile("auditor (no wallet)");

    // This profile has no wallet at all: the patient's view says so.
    await page.goto(`${product.summary.appUrl}/#/patient`);
    const noWallet = byTestId(page, "notice-no-wallet");
    await noWallet.waitFor();
    expect(await byTestId(noWallet, "error-title").innerText()).to.equal("No wallet found");
    expect(await byTestId(page, "wallet-status").innerText()).to.equal("No wallet");
    await screenshot(page, "error-no-wallet");

    await page.goto(`${product.summary.appUrl}/#/auditor?job=${earlier.jobId}`);
    const job = byTestId(page, "audit-job", { "data-job-id": earlier.jobId, "data-status": "Finalized" });
    await job.waitFor();
    // An auditor needs no wallet: the auditor's view does not call its absence an error.
    expect(await byTestId(page, "notice-no-wallet").count(), "a no-wallet error on the auditor's view").to.equal(0);
    await byTestId(page, "audit-quorum-warning").waitFor();
    const blobs = byTestId(job, "audit-blob-row");
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="audit-blob-row"]').length > 0 && !document.querySelector('[data-testid="audit-blob-row"][data-verdict="checking"]'));
    const verdicts = await blobs.evaluateAll((rows) => rows.map((r) => `${r.getAttribute("data-kind")}:${r.getAttribute("data-verdict")}`));
    expect(verdicts).to.have.members(["record:match", "key-bundle:match", "model:match", "result:match", "share:match"]);

    await byTestId(job, "audit-reexecute-button").click();
    const verdict = byTestId(job, "audit-reexec-verdict");
    await verdict.waitFor({ timeout: 120_000 });
    expect(await verdict.getAttribute("data-verdict")).to.equal("match");
    expect(await byTestId(job, "audit-reexec-computed").innerText()).to.equal(earlier.resultHash);
    expect(await byTestId(job, "audit-reexec-committed").innerText()).to.equal(earlier.resultHash);
    await screenshot(page, "auditor-job");

    // Someone with access to the coprocessor's disk alters the record: the check flags it, naming both hashes.
    const record = byTestId(job, "audit-blob-row", { "data-kind": "record" });
    const recordHash = await byTestId(record, "audit-blob-expected").innerText();
    const file = join(product.blobDir, recordHash.slice(2));
    const original = await readFile(file);
    const tampered = Buffer.from(original);
    const middle = Math.floor(tampered.length / 2);
    tampered[middle] = tampered[middle]! ^ 0x01;
    await writeFile(file, tampered);
    try {
      await byTestId(job, "audit-blob-checks").getByRole("button", { name: "Check again" }).click();
      await byTestId(job, "audit-blob-row", { "data-kind": "record", "data-verdict": "mismatch" }).waitFor();
      expect(await byTestId(record, "audit-blob-found").innerText()).to.equal(contentHash(tampered));
      await byTestId(job, "audit-blob-summary").filter({ hasText: /^1 of \d+ blobs tampered or missing/ }).waitFor();
      expect(await byTestId(record, "audit-blob-verdict").innerText()).to.match(/Tampered/);
      // The earlier re-execution's match is no longer presented as the job's verdict.
      const stale = byTestId(job, "audit-reexec-verdict", { "data-stale": "true" });
      await stale.waitFor();
      expect(await stale.innerText()).to.match(/^Earlier run, on the blobs as they were then/);
      expect(await byTestId(job, "audit-reexecute-button").isDisabled()).to.equal(true);
      await screenshot(page, "auditor-tampered");
    } finally {
      await writeFile(file, original);
    }
  });

  it("says what went wrong: wrong network with the switch offered, a declined signature (test wallet standing in for MetaMask), and the coprocessor stopped, naming its API URL", async function () {
    const other = product.summary.accounts.patients[1]!.address;
    const e = await profile("patient E (errors)", { account: other, startChainId: 1 });
    const { page } = e;
    const wallet = need(e.wallet, "the test wallet");

    // The wallet is on Ethereum mainnet; the person declines the switch the app asks for.
    wallet.rejectNext.add("wallet_switchEthereumChain");
    await page.goto(`${product.summary.appUrl}/#/patient`);
    await byTestId(page, "patient-connect").click();
    const wrong = byTestId(page, "notice-wrong-chain");
    await wrong.waitFor();
    expect(await byTestId(wrong, "error-title").innerText()).to.equal("Wrong network");
    expect(await byTestId(wrong, "error-sentence").innerText()).to.contain(`chain ${1}`).and.to.contain(`chain ${product.summary.chainId}`);
    await byTestId(page, "wallet-switch-chain").waitFor();
    await screenshot(page, "error-wrong-chain");
    await byTestId(wrong, "switch-chain").click();
    await byTestId(page, "wallet-address", { "data-address": other.toLowerCase() }).waitFor();
    await wrong.waitFor({ state: "detached" });
    expect(wallet.chainId).to.equal(product.summary.chainId);

    // The key-backup signature is declined: nothing is made, and the page says so.
    wallet.rejectNext.add("eth_signTypedData_v4");
    await byTestId(page, "key-gate", { "data-phase": "absent" }).waitFor();
    await byTestId(page, "keys-create").click();
    const declined = byTestId(page, "keys-error");
    await declined.waitFor();
    expect(await declined.getAttribute("data-error-kind")).to.equal("user-rejected");
    expect(await byTestId(declined, "error-title").innerText()).to.equal("Declined in the wallet");
    expect(await byTestId(page, "key-gate").getAttribute("data-phase")).to.equal("absent");
    expect(wallet.rejectNext.size, "the wallet was asked (and declined)").to.equal(0);
    await screenshot(page, "error-rejected-signature");

    // The coprocessor stops answering (SIGSTOP to its process group): the page names the API it cannot reach.
    const pid = await product.coprocessorPid();
    process.kill(-pid, "SIGSTOP");
    stopped.push(pid);
    try {
      await page.reload();
      const down = byTestId(page, "notice-api-down");
      await down.waitFor({ timeout: 30_000 });
      expect(await byTestId(down, "error-url").innerText()).to.equal(product.summary.appApiUrl);
      expect(await byTestId(page, "health-api").getAttribute("data-state")).to.equal("down");
      await screenshot(page, "error-coprocessor-down");
    } finally {
      process.kill(-pid, "SIGCONT");
      stopped.splice(stopped.indexOf(pid), 1);
    }
    await byTestId(page, "notice-api-down").getByRole("button", { name: "Check again" }).click();
    await byTestId(page, "notice-api-down").waitFor({ state: "detached", timeout: 30_000 });
    expect(await byTestId(page, "health-api").getAttribute("data-state")).to.equal("up");
  });

  it("no request that left any page or worker carried the secret key, the key backup's plaintext or key, or a typed reading value", async function () {
    const key = need(secretKey, "the patient's secret key");
    const signature = need(backupSignature, "the key-backup signature");
    await log.settle();
    const requests = log.entries;

    // The record is complete: the worker's requests are in it, and every body whole.
    const wasm = requests.filter((r) => r.profile === "patient A" && r.url.endsWith(".wasm"));
    expect(wasm.map((r) => r.source), "the FHE worker's fetch of SEAL's WASM is recorded, as the worker's").to.deep.equal(["worker"]);
    const uploads = requests.filter((r) => r.method === "PUT" && r.url.includes("/api/blobs/"));
    expect(uploads.length, "uploads recorded (key bundle, backup, records, share)").to.be.at.least(5);
    for (const r of requests) if (r.declaredLength !== undefined && r.declaredLength > 0) expect(r.body?.length, `${r.method} ${r.url}: body recorded whole`).to.equal(r.declaredLength);

    const hospitalSecret = localHospitalKeys(hardhatAccount(1, provider)).secretKey;
    const secrets: Secret[] = [
      { name: "the CKKS secret key (the key backup's plaintext)", bytes: key },
      { name: "the key backup's AES key", bytes: backupKeyFromSignature(signature) },
      { name: "the key-backup signature", text: signature },
      { name: "the key-backup signature (no 0x)", text: signature.slice(2) },
      { name: "the hospital's share secret key", bytes: hospitalSecret },
    ];
    const typed: TypedReading[] = [READING_1, READING_2].map((r) => Object.fromEntries(SEARCHED_INPUTS.map((name) => [name, r[name]!])));

    // The detector finds each kind of leak (so a clean result means something).
    const probe = (url: string, body: string | Buffer) => ({ profile: "probe", source: "page" as const, method: "POST", url, headers: {}, body: Buffer.from(body), declaredLength: undefined });
    // A stretch of 1/24 of the key, from its middle: longer than the detector's spacing of windows.
    const middle = Buffer.from(key.subarray(key.length / 2, key.length / 2 + Math.ceil(key.length / 24)));
    for (const planted of [
      probe("http://x/a", JSON.stringify({ key: Buffer.from(key).toString("base64") })),
      probe("http://x/b", middle),
      probe("http://x/c", `k=${middle.toString("hex")}`),
      probe("http://x/d", JSON.stringify({ reading: [61, 1] })),
      probe("http://x/e", "header{\"chol\":287}"),
      probe(`http://x/f?v=${signature}`, ""),
    ]) {
      expect(findLeaks([planted], secrets, typed), `the planted leak in ${planted.url}`).to.not.be.empty;
    }

    const leaks = findLeaks(requests, secrets, typed);
    expect(leaks, JSON.stringify(leaks.slice(0, 5), null, 2)).to.deep.equal([]);
    expect(requests.length).to.be.greaterThan(100);
  });
});
