import { expect } from "chai";
import { Wallet } from "ethers";
import type { CryptoWorkerHost } from "../../client/crypto/worker-host.js";
import { remotePatientCrypto } from "../../client/crypto/remote.js";
import type { PatientCrypto } from "../../client/crypto/patient-crypto.js";
import { CkksEngine, type KeySet } from "../../protocol/fhe/engine.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { contentHash } from "../../protocol/hash.js";
import { checkKeyBackupSignature, keyBackupDomain, openKeyBackup, signKeyBackup } from "../../protocol/key-backup.js";
import { dot } from "../helpers/fhe.js";
import { startCryptoWorker } from "./fixtures/crypto-worker-thread.js";
import { rejectionOf } from "../helpers/rejection.js";
import { expectClose } from "../helpers/close.js";

/**
 * The browser's arrangement, in Node: SEAL in a worker thread behind comlink (client/crypto/worker-host.ts), the
 * caller's side a PatientCrypto over the port (client/crypto/remote.ts) that never loads SEAL itself. Records made
 * across the port are evaluated by an engine on this thread and decrypted across the port again.
 */
describe("patient cryptography in a worker behind a message port (comlink; the web app's arrangement)", function () {
  let worker: ReturnType<typeof startCryptoWorker>;
  let engine: CkksEngine;
  let patient: Wallet;
  let keys: KeySet;
  let crypto: PatientCrypto;

  before(async function () {
    worker = startCryptoWorker();
    engine = await CkksEngine.create("ckks-n8192-d3");
    patient = Wallet.createRandom() as unknown as Wallet;
    keys = await worker.host.generateKeys({ patient: patient.address });
    // Typed as the host itself: comlink's Remote<CryptoWorkerHost> is what the app passes.
    const host: CryptoWorkerHost = worker.host;
    crypto = await remotePatientCrypto(host, keys);
  });

  after(async function () {
    await crypto?.dispose();
    await worker?.stop();
    engine?.dispose();
  });

  it("generates keys in the worker and describes them on this side from the public bundle alone", function () {
    expect(keys.secretKey).to.be.instanceOf(Uint8Array);
    expect(engine.readKeyBundleHeader(keys.keyBundle).patient).to.equal(patient.address.toLowerCase());
    expect(crypto.owner).to.equal(patient.address.toLowerCase());
    expect(crypto.keyBundleHash).to.equal(contentHash(keys.keyBundle));
    expect(crypto.parameterSet).to.equal("ckks-n8192-d3");
  });

  it("encrypts across the port what an engine here evaluates, and decrypts the results across it: w·x + b", async function () {
    const weights = [0.75, -1.5, 2, 0.125];
    const bias = -0.5;
    const tuples = [[1, 2, 3, 4], [-1, 0.5, 0, 2], [0.25, 0.25, -3, 1]];
    const evaluation = engine.openEvaluationKeys(keys.keyBundle);
    try {
      const single = await crypto.encryptTuple(tuples[0]!);
      expect(engine.readRecordsHeader(single)).to.include({ patient: crypto.owner, keyBundle: crypto.keyBundleHash, layout: "single-record" });
      const binding = (record: Uint8Array) => ({ jobId: crypto.keyBundleHash, recordHash: contentHash(record), modelHash: crypto.keyBundleHash });
      const one = await crypto.decrypt(engine.evaluateLinearBatch(evaluation, single, weights, bias, binding(single)));
      expect(one.layout).to.equal("single-record");
      expectClose(one.values[0]!, dot(weights, tuples[0]!, bias), 1e-4);

      const packed = await crypto.encryptRecords("packed-records", tuples);
      const many = await crypto.decrypt(engine.evaluateLinearBatch(evaluation, packed, weights, bias, binding(packed)));
      expect(many.layout).to.equal("packed-records");
      expect(many.values).to.have.length(3);
      many.values.forEach((value, r) => expectClose(value, dot(weights, tuples[r]!, bias), 1e-4));
    } finally {
      evaluation.dispose();
    }
  });

  it("brings the worker's FheError back as an FheError with its code (a port carries only name and message)", async function () {
    const err = await rejectionOf(crypto.decrypt(new Uint8Array([1, 2, 3])));
    expect(err).to.be.instanceOf(FheError);
    expect((err as FheError).code).to.equal("MalformedResult");
    const tooLong = await rejectionOf(crypto.encryptTuple(Array.from({ length: 257 }, () => 1)));
    expect((tooLong as FheError).code).to.equal("MalformedRecord");
    expect(tooLong.message).to.match(/1\.\.256 values, got 257/);
  });

  it("seals the key backup inside the worker: the page gets ciphertext that the wallet's signature opens to the worker's secret key", async function () {
    const domain = keyBackupDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const signature = checkKeyBackupSignature(domain, patient.address, await signKeyBackup(patient, domain));
    const backup = await crypto.sealKeyBackup({ signature, chainId: "31337", verifyingContract: domain.verifyingContract });
    const { secretKey, header } = openKeyBackup(backup, { patient: patient.address, domain, signature });
    expect(secretKey).to.deep.equal(keys.secretKey);
    expect(header.keyBundle).to.equal(crypto.keyBundleHash);
  });

  it("serves one key set at a time: after close, calls are refused until a key set is opened again", async function () {
    const second = startCryptoWorker();
    try {
      const refused = await rejectionOf(second.host.encryptTuple([1, 2]));
      expect(refused.message).to.contain("no key set is open in the crypto worker");
      const other = await remotePatientCrypto(second.host, keys);
      expect((await other.encryptTuple([1, 2])).length).to.be.greaterThan(1000);
      await other.dispose();
      expect((await rejectionOf(other.encryptTuple([1, 2]))).message).to.contain("no key set is open");
    } finally {
      await second.stop();
    }
  });
});
