import { expect } from "chai";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import { JobStatus } from "../../protocol/chain.js";
import { decodeContractError } from "../../protocol/contract-errors.js";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import type { Hash } from "../../protocol/hash.js";
import { waitFor } from "../helpers/wait.js";
import { CoprocessorTestStack, expectedLogit, lower, testTuple, waitForSettledJob, type Deployed, type TestPatient } from "./coprocessor-fixture.js";

/** The store's answer to an upload, as a status and error code (undefined when it was accepted). */
async function uploadOutcome(upload: Promise<unknown>): Promise<{ status: number; code: string } | undefined> {
  try {
    await upload;
    return undefined;
  } catch (err) {
    if (err instanceof BlobStoreError) return { status: err.status, code: err.code };
    throw err;
  }
}

/**
 * A stranger lifts a victim's ciphertext from the public blob store and tries to pass it off as theirs, so that a
 * hospital the victim never consented to gets a job on it. Against a real hardhat node, redis-server and coprocessor.
 */
describe("attack: a victim's ciphertext lifted and re-wrapped by a stranger (hardhat node, redis-server, coprocessor)", function () {
  let stack: CoprocessorTestStack;
  let deployed: Deployed;
  let modelId: Hash;
  let victim: TestPatient;
  let stranger: TestPatient;
  let victimValues: number[];
  let victimRecord: Hash;
  let blobs: BlobClient;

  before(async function () {
    this.timeout(180_000);
    stack = await CoprocessorTestStack.start();
    deployed = stack.deployed;
    const coprocessor = await stack.startCoprocessor();
    blobs = new BlobClient(coprocessor.apiUrl);
    ({ modelId } = await stack.publishTestModel(coprocessor.apiUrl));
    victim = await stack.registeredPatient(0, coprocessor.apiUrl);
    stranger = await stack.registeredPatient(1, coprocessor.apiUrl);
    victimValues = testTuple(stack.model, 42);
    victimRecord = await victim.submit(victimValues);
    // The stranger's "hospital" accomplice holds a consent from the stranger, never from the victim.
    const now = (await deployed.provider.getBlock("latest"))!.timestamp;
    await (await stranger.contract.grantConsent(deployed.hospitalAddress, BigInt(now + 3_600), true)).wait();
  });

  after(async function () {
    this.timeout(60_000);
    await stack?.stop();
  });

  it("the hospital cannot request on the victim's record: consent is checked against its real owner", async function () {
    // A static call: a refused transaction would still take a nonce from the hospital's nonce manager.
    const asHospital = deployed.contract.connect(deployed.hospital);
    const refused = await asHospital.requestPrediction.staticCall(victim.wallet.address, victimRecord, modelId).then(
      () => undefined,
      (err: unknown) => decodeContractError(err),
    );
    expect(refused?.name).to.equal("NotAuthorizedRequester");
    expect(refused?.args.patient?.toLowerCase()).to.equal(victim.address);
  });

  it("the victim's record, uploaded again by the stranger as is or with its header re-serialised, is refused before any gas is spent", async function () {
    const lifted = (await blobs.get(victimRecord))!;
    // As is: the header names the victim, not the uploader.
    expect(await uploadOutcome(stranger.upload(lifted, "record"))).to.deep.equal({ status: 422, code: "owner_mismatch" });

    // Same fields, other spacing: a new hash for the same content, which canonical headers rule out.
    const envelope = decodeEnvelope(lifted, "record");
    const headerText = JSON.stringify({ ...envelope.header, kind: "record", sections: [...envelope.sections].map(([name, bytes]) => ({ name, length: bytes.length })) });
    const headerBytes = new TextEncoder().encode(headerText);
    const ciphertext = envelope.sections.get("ciphertext")!;
    const reserialised = new Uint8Array(9 + headerBytes.length + ciphertext.length);
    reserialised.set(lifted.subarray(0, 5), 0);
    new DataView(reserialised.buffer).setUint32(5, headerBytes.length, false);
    reserialised.set(headerBytes, 9);
    reserialised.set(ciphertext, 9 + headerBytes.length);
    const outcome = await uploadOutcome(stranger.upload(reserialised, "record"));
    expect(outcome?.status).to.equal(422);
    expect(outcome?.code).to.equal("non_canonical_header");
  });

  it("re-wrapped under the stranger's own name it is the stranger's record, and what the accomplice gets from it is noise nobody can read", async function () {
    this.timeout(120_000);
    const envelope = decodeEnvelope((await blobs.get(victimRecord))!, "record");
    // The victim's ciphertext, in a header that names the stranger and the stranger's key bundle: the only wrapping
    // the store and the worker accept from the stranger.
    const rewrapped = encodeEnvelope("record", { ...envelope.header, patient: stranger.address, keyBundle: stranger.keyBundleHash }, [
      ["ciphertext", envelope.sections.get("ciphertext")!],
    ]);
    const copy = await stranger.anchor(rewrapped);
    expect(copy).to.not.equal(victimRecord);
    const receipt = await (await deployed.contract.connect(deployed.hospital).requestPrediction(stranger.wallet.address, copy, modelId)).wait();
    const requested = deployed.contract.interface.parseLog(receipt!.logs[0]!)!;
    const jobId = (requested.args.jobId as string).toLowerCase() as Hash;
    // The job is the stranger's, on the stranger's key bundle.
    expect(String(requested.args.patient).toLowerCase()).to.equal(stranger.address);
    expect(String(requested.args.keyBundleHash).toLowerCase()).to.equal(stranger.keyBundleHash);

    const job = await waitForSettledJob(deployed, jobId, "the copy's job settled", { timeoutMs: 60_000, intervalMs: 200 });
    expect(Number(job.status)).to.equal(JobStatus.Finalized);
    // The result is under the victim's secret key, rotated with the stranger's Galois keys: the stranger's key
    // (and the hospital has none at all) decrypts it to noise, nowhere near the victim's T.
    const truth = expectedLogit(stack.model, victimValues);
    const seenByStranger = await stranger.decrypt(lower(job.resultHash));
    expect(Math.abs(seenByStranger - truth), `stranger decrypts ${seenByStranger}, the victim's T is ${truth}`).to.be.greaterThan(10);
    // Nor does the victim's own key recover T from it: the stranger's rotation keys garbled the sum.
    const seenByVictim = await victim.decrypt(lower(job.resultHash));
    expect(Math.abs(seenByVictim - truth), `victim decrypts ${seenByVictim}, T is ${truth}`).to.be.greaterThan(1e-2);
  });

  it("once the victim erases the record, its blob is gone and the hash is refused for good", async function () {
    this.timeout(60_000);
    await (await victim.contract.eraseRecord(victimRecord)).wait();
    const gone = await waitFor(
      "the erased record deleted from the store",
      async () => {
        const response = await fetch(blobs.urlOf(victimRecord));
        return response.status === 410 ? response : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(((await gone.json()) as { error: string }).error).to.equal("erased");
    const again = await deployed.contract.connect(victim.signer).requestPrediction.staticCall(victim.wallet.address, victimRecord, modelId).then(
      () => undefined,
      (err: unknown) => decodeContractError(err)?.name,
    );
    expect(again).to.equal("RecordIsErased");
  });
});
