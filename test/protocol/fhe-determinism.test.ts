import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CkksEngine, type ResultBinding } from "../../protocol/fhe/engine.js";
import type { Layout } from "../../protocol/fhe/layouts.js";
import type { ParameterSetName } from "../../protocol/fhe/params.js";
import { fitSigmoidPolynomial, type SigmoidPolynomial } from "../../protocol/fhe/sigmoid.js";
import { expectClose } from "../helpers/close.js";
import { openCipher, TEST_PATIENT } from "../helpers/fhe.js";
import { mulberry32 as prng } from "../../hospital/split.js";

const root = fileURLToPath(new URL("../../", import.meta.url));


interface Job {
  name: string;
  parameterSet: ParameterSetName;
  bundle: string;
  record: string;
  stage: "linear" | "sigmoid-poly";
  weights: number[];
  bias: number;
  polynomial?: SigmoidPolynomial;
  binding: ResultBinding;
}

/**
 * What each child process runs: a fresh Node with its own WASM instance loads the engine, opens the keys, evaluates
 * every job and writes the result blobs. Plain JavaScript; the engine's TypeScript loads through tsx.
 */
const CHILD = `
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
const [jobFile, outDir] = process.argv.slice(2);
const { engineUrl, jobs } = JSON.parse(readFileSync(jobFile, "utf8"));
const { CkksEngine } = await import(engineUrl);
const engines = new Map();
for (const job of jobs) {
  if (!engines.has(job.parameterSet)) engines.set(job.parameterSet, await CkksEngine.create(job.parameterSet));
  const engine = engines.get(job.parameterSet);
  const keys = engine.openEvaluationKeys(new Uint8Array(readFileSync(job.bundle)));
  try {
    const record = new Uint8Array(readFileSync(job.record));
    const result = job.stage === "linear"
      ? engine.evaluateLinearBatch(keys, record, job.weights, job.bias, job.binding)
      : engine.evaluateSigmoidPoly(keys, record, job.weights, job.bias, job.polynomial, job.binding);
    writeFileSync(join(outDir, job.name + ".bin"), result);
  } finally {
    keys.dispose();
  }
}
for (const engine of engines.values()) engine.dispose();
`;

function runChild(childFile: string, jobFile: string, outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", childFile, jobFile, outDir], { cwd: root, timeout: 120_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`child process failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

describe("CKKS evaluation is deterministic across processes", function () {
  let dir: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), "pmhe-determinism-"));
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("two fresh processes evaluating the same jobs (every layout and stage) write byte-identical result blobs", async function () {
    const random = prng(4242);
    const jobs: Job[] = [];
    const secrets = new Map<string, Uint8Array>();
    const expected = new Map<string, number[]>();
    const write = (name: string, bytes: Uint8Array) => {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      return file;
    };
    const plan: [ParameterSetName, Layout, number, boolean][] = [
      ["ckks-n8192-d3", "single-record", 1, true],
      ["ckks-n8192-d3", "packed-records", 40, true],
      ["ckks-n8192-d3", "feature-major", 300, true],
      ["ckks-n4096-linear", "single-record", 1, false],
      ["ckks-n4096-linear", "feature-major", 100, false],
      ["ckks-n4096-linear", "feature-major", 2048, false],
    ];
    const weights = [0.4, -0.9, 0.25, 1.1, -0.35, 0.6];
    const bias = -0.2;
    const polynomial = fitSigmoidPolynomial([-6, 6]);
    const engines = new Map<ParameterSetName, CkksEngine>();
    try {
      for (const [set, layout, count, sigmoid] of plan) {
        if (!engines.has(set)) engines.set(set, await CkksEngine.create(set));
        const engine = engines.get(set)!;
        const keySet = engine.generateKeySetFor(layout, { sigmoid, patient: TEST_PATIENT });
        const cipher = openCipher(engine, keySet);
        try {
          const tuples = Array.from({ length: count }, () => weights.map(() => random() * 4 - 2));
          const id = `${set}-${layout}-${count}`;
          const bundle = write(`${id}.bundle`, keySet.keyBundle);
          const record = write(`${id}.record`, cipher.encryptRecords(layout, tuples));
          secrets.set(id, keySet.secretKey);
          const ts = tuples.map((x) => x.reduce((t, v, j) => t + v * weights[j]!, bias));
          for (const stage of sigmoid ? (["linear", "sigmoid-poly"] as const) : (["linear"] as const)) {
            const name = `${id}-${stage}`;
            jobs.push({ name, parameterSet: set, bundle, record, stage, weights, bias, polynomial, binding: { jobId: name, recordHash: "0x01", modelHash: "0x02" } });
            expected.set(name, stage === "linear" ? ts : ts.map((t) => polynomial.coefficients.reduce((s, c, k) => s + c * (t / 6) ** k, 0)));
          }
        } finally {
          cipher.dispose();
        }
      }
      const jobFile = write("jobs.json", new TextEncoder().encode(JSON.stringify({ engineUrl: pathToFileURL(join(root, "protocol", "fhe", "engine.ts")).href, jobs })));
      const childFile = write("child.mjs", new TextEncoder().encode(CHILD));
      const outs = [join(dir, "out-a"), join(dir, "out-b")];
      for (const out of outs) mkdirSync(out);
      await Promise.all(outs.map((out) => runChild(childFile, jobFile, out)));

      expect(jobs).to.have.length(9);
      for (const job of jobs) {
        const a = readFileSync(join(outs[0]!, `${job.name}.bin`));
        const b = readFileSync(join(outs[1]!, `${job.name}.bin`));
        expect(a.length, job.name).to.be.greaterThan(1000);
        expect(a.equals(b), `${job.name}: the two processes disagree`).to.equal(true);

        // And the same bytes as this process, which also decrypts them to the expected values.
        const engine = engines.get(job.parameterSet)!;
        const keys = engine.openEvaluationKeys(new Uint8Array(readFileSync(job.bundle)));
        const id = job.name.replace(/-(linear|sigmoid-poly)$/, "");
        const cipher = openCipher(engine, { secretKey: secrets.get(id)!, keyBundle: new Uint8Array(readFileSync(job.bundle)) });
        try {
          const record = new Uint8Array(readFileSync(job.record));
          const here = job.stage === "linear"
            ? engine.evaluateLinearBatch(keys, record, job.weights, job.bias, job.binding)
            : engine.evaluateSigmoidPoly(keys, record, job.weights, job.bias, job.polynomial!, job.binding);
          expect(Buffer.from(here).equals(a), `${job.name}: this process disagrees`).to.equal(true);
          const values = cipher.decryptBatch(new Uint8Array(a)).values;
          expected.get(job.name)!.forEach((v, r) => expectClose(values[r]!, v, 1e-4, `${job.name} record ${r}`));
        } finally {
          keys.dispose();
          cipher.dispose();
        }
      }
    } finally {
      for (const engine of engines.values()) engine.dispose();
    }
  });
});
