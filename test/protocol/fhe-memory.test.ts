import { expect } from "chai";
import { CkksEngine, type ResultBinding } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { LAYOUTS } from "../../protocol/fhe/layouts.js";
import { sealHeapBytes } from "../../protocol/fhe/runtime.js";
import { fitSigmoidPolynomial } from "../../protocol/fhe/sigmoid.js";
import { expectClose } from "../helpers/close.js";
import { openCipher, TEST_PATIENT } from "../helpers/fhe.js";

const binding: ResultBinding = { jobId: "5", recordHash: "0x05", modelHash: "0x06" };
const MB = 1_000_000;

/**
 * Every SEAL object the engine makes must be freed: the WASM heap never shrinks, so a leak shows as heap growth
 * over many operations. The heap is node-seal's own WASM memory (`sealHeapBytes`), which grows in large steps.
 */
describe("CKKS engine memory: the WASM heap stays flat", function () {
  it("exposes the size of SEAL's WASM heap", async function () {
    const engine = await CkksEngine.create("ckks-n4096-linear");
    engine.dispose();
    const bytes = sealHeapBytes();
    expect(bytes).to.be.a("number");
    expect(bytes! % 65536).to.equal(0); // whole WASM pages
    expect(bytes!).to.be.greaterThan(16 * MB);
  });

  it("1,000 inferences (encrypt, evaluate, decrypt) grow the heap by at most 5 MB", async function () {
    const engine = await CkksEngine.create("ckks-n4096-linear");
    const keySet = engine.generateKeySetFor("single-record", { patient: TEST_PATIENT });
    const keys = engine.openEvaluationKeys(keySet.keyBundle);
    const cipher = openCipher(engine, keySet);
    try {
      const weights = [0.3, -0.6, 0.9, 0.12, -0.4, 0.7, 0.05, -0.2, 0.33, 0.5, -0.8, 0.15, 0.6];
      const once = (i: number) => {
        const x = weights.map((_, j) => Math.sin(i + j));
        const record = cipher.encryptRecords("single-record", [x]);
        const { values } = cipher.decryptBatch(engine.evaluateLinearBatch(keys, record, weights, 0.1, binding));
        return { value: values[0]!, expected: x.reduce((t, v, j) => t + v * weights[j]!, 0.1) };
      };
      for (let i = 0; i < 20; i++) once(i);
      const before = sealHeapBytes()!;
      for (let i = 0; i < 1000; i++) {
        const { value, expected } = once(i);
        if (i % 97 === 0) expectClose(value, expected, 1e-5, `inference ${i}`);
      }
      const growth = sealHeapBytes()! - before;
      expect(growth, `heap grew by ${growth} bytes`).to.be.at.most(5 * MB);
    } finally {
      keys.dispose();
      cipher.dispose();
      engine.dispose();
    }
  });

  it("every layout and stage, and the refusal paths, leave the heap flat (ckks-n8192-d3)", async function () {
    const engine = await CkksEngine.create("ckks-n8192-d3");
    const rotation = engine.generateKeySetFor("packed-records", { sigmoid: true, patient: TEST_PATIENT });
    const featureMajor = engine.generateKeySetFor("feature-major", { sigmoid: true, patient: TEST_PATIENT });
    const material = {
      rotation: { keys: engine.openEvaluationKeys(rotation.keyBundle), cipher: openCipher(engine, rotation) },
      featureMajor: { keys: engine.openEvaluationKeys(featureMajor.keyBundle), cipher: openCipher(engine, featureMajor) },
    };
    const polynomial = fitSigmoidPolynomial([-8, 8]);
    const weights = [0.5, -1, 0.25, 2];
    const tuples = Array.from({ length: 20 }, (_, r) => weights.map((_, j) => Math.cos(r * 7 + j)));
    try {
      // The damaged copies are made from records encrypted once: a damaged byte can make SEAL allocate a large buffer
      // once (the heap's high-water mark then rises, and WASM memory never shrinks), which depends on the bytes hit.
      // The warm-up damages exactly the bytes the measured rounds damage, so only what is not given back shows.
      const fixed = new Map(LAYOUTS.map((layout) => {
        const { cipher } = layout === "feature-major" ? material.featureMajor : material.rotation;
        return [layout, cipher.encryptRecords(layout, layout === "single-record" ? tuples.slice(0, 1) : tuples)] as const;
      }));
      const round = (i: number) => {
        for (const layout of LAYOUTS) {
          const { keys, cipher } = layout === "feature-major" ? material.featureMajor : material.rotation;
          const job = layout === "single-record" ? tuples.slice(0, 1) : tuples;
          const record = cipher.encryptRecords(layout, job);
          const linear = engine.evaluateLinearBatch(keys, record, weights, 0, binding);
          const sigmoid = engine.evaluateSigmoidPoly(keys, record, weights, 0, polynomial, binding);
          cipher.decryptBatch(linear);
          cipher.decryptBatch(sigmoid);
          // Error paths too: a damaged payload byte (refused or evaluated), a truncated result.
          const bad = fixed.get(layout)!.slice();
          const at = bad.length - 1 - (i % 1000);
          bad[at] = bad[at]! ^ 0x55;
          try {
            engine.evaluateLinearBatch(keys, bad, weights, 0, binding);
          } catch (err) {
            expect(err).to.be.instanceOf(FheError);
          }
          try {
            cipher.decryptBatch(record.subarray(0, record.length >> 1));
          } catch (err) {
            expect(err).to.be.instanceOf(FheError);
          }
        }
      };
      for (let i = 0; i < 40; i++) round(i);
      const before = sealHeapBytes()!;
      for (let i = 0; i < 40; i++) round(i);
      const growth = sealHeapBytes()! - before;
      expect(growth, `heap grew by ${growth} bytes`).to.be.at.most(5 * MB);
    } finally {
      for (const m of Object.values(material)) {
        m.keys.dispose();
        m.cipher.dispose();
      }
      engine.dispose();
    }
  });
});
