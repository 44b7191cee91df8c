import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { KeyBundleCache } from "../../coprocessor/evaluation/key-cache.js";
import { ModelCache } from "../../coprocessor/jobs/model-cache.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { DEFAULT_PARAMETER_SET } from "../../protocol/fhe/params.js";
import { contentHash } from "../../protocol/hash.js";
import { parseModelBytes } from "../../protocol/model.js";
import { TEST_PATIENT } from "../helpers/fhe.js";

describe("coprocessor key-bundle cache", function () {
  let engine: CkksEngine;
  before(async function () {
    engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
  });
  after(function () {
    engine?.dispose();
  });

  it("returns the same opened keys on a hit and deletes the least recently used bundle's keys past capacity", function () {
    const patients = [TEST_PATIENT, `0x${"12".repeat(20)}`, `0x${"34".repeat(20)}`];
    const bundles = patients.map((patient) => engine.generateKeySetFor("packed-records", { patient }).keyBundle);
    const [a, b, c] = bundles.map(contentHash) as [`0x${string}`, `0x${string}`, `0x${string}`];
    const cache = new KeyBundleCache(engine, 2);
    let keysA: ReturnType<KeyBundleCache["acquire"]> | undefined;
    try {
      keysA = cache.acquire(a, bundles[0]);
      const keysB = cache.acquire(b, bundles[1]);
      expect(cache.acquire(a, undefined)).to.equal(keysA); // hit, and now A is the most recent
      const keysC = cache.acquire(c, bundles[2]); // evicts B, the least recently used
      expect(cache.size).to.equal(2);
      expect(cache.has(b)).to.equal(false);
      expect(cache.has(a) && cache.has(c)).to.equal(true);
      expect(keysB.galoisKeys!.isDeleted()).to.equal(true);
      expect(keysA.galoisKeys!.isDeleted()).to.equal(false);
      expect(keysC).to.not.equal(keysA);
      expect(() => cache.acquire(b, undefined)).to.throw(/not cached/);
      // The owner each cached bundle's header names, for jobs served from the cache; none for an evicted one.
      expect([cache.patientOf(a), cache.patientOf(b), cache.patientOf(c)]).to.deep.equal([patients[0], undefined, patients[2]]);
    } finally {
      cache.dispose();
    }
    expect(cache.size).to.equal(0);
    expect(keysA!.galoisKeys!.isDeleted()).to.equal(true);
  });

  it("caches nothing for a bundle SEAL refuses", function () {
    const cache = new KeyBundleCache(engine, 2);
    const garbage = new Uint8Array(64).fill(7);
    expect(() => cache.acquire(contentHash(garbage), garbage)).to.throw(FheError);
    expect(cache.size).to.equal(0);
    expect(() => new KeyBundleCache(engine, 0)).to.throw(RangeError);
  });
});

describe("coprocessor model cache", function () {
  it("keeps the most recently used models up to its capacity", async function () {
    const model = parseModelBytes(await readFile(new URL("../../models/statlog-heart-logreg.v1.json", import.meta.url)));
    const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as `0x${string}`;
    const cache = new ModelCache(2);
    cache.set(hash(1), model);
    cache.set(hash(2), model);
    expect(cache.get(hash(1))).to.equal(model); // 1 is now the most recent
    cache.set(hash(3), model); // evicts 2
    expect(cache.size).to.equal(2);
    expect(cache.get(hash(2))).to.equal(undefined);
    expect(cache.get(hash(1))).to.equal(model);
    expect(cache.get(hash(3))).to.equal(model);
    expect(() => new ModelCache(0)).to.throw(RangeError);
  });
});
