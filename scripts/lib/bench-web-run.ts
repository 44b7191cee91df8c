import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Page, Request, Response } from "playwright-core";
import { parseModelBytes, type Model, type Reading } from "../../protocol/model.js";
import { launchProfile } from "../../test/web/helpers/browser.js";
import { installInjectedWallet } from "../../test/web/helpers/injected-wallet.js";
import type { Product } from "../../test/web/helpers/product.js";
import { installInstrumentation, longTasksIn, pageBenchState, stepWindow, traceMainThread, type PageBenchState } from "./bench-web-trace.js";

/**
 * The measurements of `npm run bench:web`, each in a fresh browser profile (an empty cache, as a first visit) on
 * the product's production build, with the test wallet standing in for MetaMask (its prompts answer at once, so
 * the times are the app's and the product's, not a person's).
 */

const ROOT = join(import.meta.dirname, "..", "..");

/** A reading of the heart model, typed into the form (one prediction). */
const READING: Reading = { age: 61, sex: 1, cp: 4, trestbps: 137, chol: 287, fbs: 0, restecg: 2, thalach: 151, exang: 1, oldpeak: 2.6, slope: 2, ca: 1, thal: 7 };

/** gzip as a server sends it (zlib's default level). */
const gzipBytes = (bytes: Buffer) => gzipSync(bytes).length;

export interface Asset {
  url: string;
  bytes: number;
  gzipBytes: number;
}

export interface InitialLoad {
  /** Every script the page fetched until it was idle on its first view (the patient's introduction). */
  scripts: Asset[];
  bytes: number;
  gzipBytes: number;
  /** What the server sent for them (it does not compress: the same as `bytes` unless it does). */
  transferredBytes: number;
  /** Any .wasm the page fetched before it was idle (none expected: SEAL is the worker's). */
  wasm: string[];
  /** Time from navigation until the first view's button was there. */
  readyMs: number;
}

const isScript = (response: Response) => response.request().resourceType() === "script" || /\.m?js(\?|$)/.test(new URL(response.url()).pathname);

/** The first view, nothing clicked: the JavaScript it needs, gzipped as a server would send it. */
export async function measureInitialLoad(product: Product): Promise<InitialLoad> {
  const profile = await launchProfile();
  try {
    await installInjectedWallet(profile.context, { rpcUrl: product.summary.rpcUrl, chainId: product.summary.chainId, account: product.summary.accounts.patients[2]!.address });
    const page = profile.context.pages()[0] ?? (await profile.context.newPage());
    const responses: Response[] = [];
    const wasm: string[] = [];
    page.on("response", (r) => responses.push(r));
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.endsWith(".wasm")) wasm.push(r.url());
    });
    const started = Date.now();
    await page.goto(product.summary.appUrl);
    await page.locator('[data-testid="patient-connect"]').waitFor();
    const readyMs = Date.now() - started;
    await page.waitForLoadState("networkidle");
    const scripts: Asset[] = [];
    let transferredBytes = 0;
    for (const response of responses.filter(isScript)) {
      const body = await response.body();
      const sizes = await response.request().sizes();
      transferredBytes += sizes.responseBodySize;
      scripts.push({ url: new URL(response.url()).pathname, bytes: body.length, gzipBytes: gzipBytes(body) });
    }
    return {
      scripts,
      bytes: scripts.reduce((n, s) => n + s.bytes, 0),
      gzipBytes: scripts.reduce((n, s) => n + s.gzipBytes, 0),
      transferredBytes,
      wasm,
      readyMs,
    };
  } finally {
    await profile.close();
  }
}

export interface ColdRun {
  /** Navigation to the first decrypted prediction on the screen. */
  totalMs: number;
  /** The parts: first view, wallet connected, keys made, keys registered, the form typed, the prediction. */
  phases: { firstViewMs: number; connectMs: number; keysMs: number; registerMs: number; typingMs: number; predictionMs: number };
  /** The first prediction's steps as the page showed them (ms from each step to the next). */
  predictionSteps: Record<string, number>;
  /** The probability the page shows. */
  probability: number;
  /** Requests the page (and nothing else) made before its worker started: none may be a .wasm. */
  wasmBeforeWorker: string[];
  /** SEAL's WASM as the worker fetched it. */
  wasm: (Asset & { fetchedBy: "worker" | "page" }) | undefined;
  /** The main thread while the first prediction was encrypting (long-task entries, 50 ms or more). */
  coldEncryptLongTasks: Array<{ start: number; duration: number }>;
  /** A second prediction in the same page, traced: every main-thread task while encrypting, the longest first. */
  tracedEncrypt: { windowMs: number; longestTaskMs: number; tasks: number; longTasks: Array<{ start: number; duration: number }> };
  longTaskSupported: boolean;
}

/** Each progress step's time, up to the "done" that follows it. */
function stepDurations(state: PageBenchState): Record<string, number> {
  const durations: Record<string, number> = {};
  for (const [i, s] of state.steps.entries()) {
    const next = state.steps[i + 1];
    if (!next || s.step === "done" || s.step === "idle") continue;
    durations[s.step] = Math.round(next.t - s.t);
  }
  return durations;
}

async function fillReading(page: Page, model: Model, reading: Reading): Promise<void> {
  for (const input of model.inputs!) {
    const field = page.locator(`[data-testid="field-${input.name}"]`);
    if (input.kind === "choice") await field.selectOption(String(reading[input.name]));
    else await field.fill(String(reading[input.name]));
  }
}

async function predict(page: Page, model: Model, modelId: string): Promise<{ typingMs: number; predictionMs: number; probability: number }> {
  const typing = Date.now();
  await page.locator('[data-testid="model-picker"]').selectOption(modelId);
  await fillReading(page, model, READING);
  const submitted = Date.now();
  await page.locator('[data-testid="predict-submit"]:not([disabled])').click();
  const result = page.locator('[data-testid="result"] [data-testid="risk-value"]');
  const failed = page.locator('[data-testid="prediction-error"]');
  await result.or(failed).first().waitFor({ timeout: 120_000 });
  if (await failed.count()) throw new Error(`the prediction failed: ${await failed.innerText()}`);
  const predictionMs = Date.now() - submitted;
  return { typingMs: submitted - typing, predictionMs, probability: Number(await result.getAttribute("data-probability")) };
}

/**
 * A patient's first visit, timed: open the app, connect, make keys, register them, type one reading, and read the
 * decrypted prediction. Then, in the same page, a second prediction with the main thread traced.
 */
export async function measureColdRun(product: Product, account: string): Promise<ColdRun> {
  const model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
  const modelId = product.summary.models.find((m) => m.name === model.name)?.id;
  if (!modelId) throw new Error(`the product published no ${model.name}`);
  const profile = await launchProfile();
  try {
    await installInjectedWallet(profile.context, { rpcUrl: product.summary.rpcUrl, chainId: product.summary.chainId, account });
    await installInstrumentation(profile.context);
    const page = profile.context.pages()[0] ?? (await profile.context.newPage());
    page.setDefaultTimeout(60_000);

    const beforeWorker: string[] = [];
    let workerStarted = false;
    let wasmRequest: Request | undefined;
    page.on("worker", () => (workerStarted = true));
    profile.context.on("request", (r) => {
      if (!workerStarted) beforeWorker.push(r.url());
      if (new URL(r.url()).pathname.endsWith(".wasm")) wasmRequest ??= r;
    });

    const t0 = Date.now();
    await page.goto(product.summary.appUrl);
    await page.locator('[data-testid="patient-connect"]').waitFor();
    const firstView = Date.now();
    await page.locator('[data-testid="patient-connect"]').click();
    await page.locator(`[data-testid="wallet-address"][data-address="${account.toLowerCase()}"]`).waitFor();
    const connected = Date.now();
    await page.locator('[data-testid="keys-create"]').click();
    await page.locator('[data-testid="registration-gate"]').waitFor();
    const keysMade = Date.now();
    await page.locator('[data-testid="registration-gate"] [data-testid="keys-register"]').click();
    await page.locator('[data-testid="registration-gate"]').waitFor({ state: "detached" });
    const registered = Date.now();
    const first = await predict(page, model, modelId);
    const totalMs = Date.now() - t0;

    const coldState = await pageBenchState(page);
    const coldWindow = stepWindow(coldState, "encrypt");
    if (!coldWindow) throw new Error("the page never showed the encryption step");

    // A second prediction, traced: every task of the main thread while the worker encrypts.
    const marksBefore = coldState.steps.length;
    const traced = await traceMainThread(page, async () => {
      await page.locator('[data-testid="tab-predict"]').click();
      await predict(page, model, modelId);
    });
    const warmState = await pageBenchState(page);
    const warmSteps = { ...warmState, steps: warmState.steps.slice(marksBefore) };
    const warmWindow = stepWindow(warmSteps, "encrypt");
    if (!warmWindow) throw new Error("the second prediction never showed the encryption step");
    // The trace's marks: the second prediction's "encrypt" is the last of that name; its end, the next step's.
    const tasks = traced.tasksBetween("pmhe-step-encrypt", "pmhe-step-upload", { last: true });

    let wasm: ColdRun["wasm"];
    if (wasmRequest) {
      const response = await wasmRequest.response();
      const body = response ? await response.body() : Buffer.alloc(0);
      // A worker's requests name the worker's script as their referrer; the page's, the page.
      const referrer = (await wasmRequest.headerValue("referer")) ?? "";
      const fetchedBy: "worker" | "page" = /\/assets\/[^/]*worker[^/]*\.js$/.test(new URL(referrer || "about:blank").pathname) ? "worker" : "page";
      wasm = { url: new URL(wasmRequest.url()).pathname, bytes: body.length, gzipBytes: gzipBytes(body), fetchedBy };
    }

    return {
      totalMs,
      phases: {
        firstViewMs: firstView - t0,
        connectMs: connected - firstView,
        keysMs: keysMade - connected,
        registerMs: registered - keysMade,
        typingMs: first.typingMs,
        predictionMs: first.predictionMs,
      },
      predictionSteps: stepDurations(coldState),
      probability: first.probability,
      wasmBeforeWorker: beforeWorker.filter((u) => new URL(u).pathname.endsWith(".wasm")),
      wasm,
      coldEncryptLongTasks: longTasksIn(coldState, coldWindow),
      tracedEncrypt: {
        windowMs: warmWindow.end - warmWindow.start,
        longestTaskMs: tasks[0]?.durationMs ?? 0,
        tasks: tasks.length,
        longTasks: longTasksIn(warmSteps, warmWindow),
      },
      longTaskSupported: coldState.longTaskError === undefined,
    };
  } finally {
    await profile.close();
  }
}
