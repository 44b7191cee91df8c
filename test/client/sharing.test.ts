import { expect } from "chai";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient, PredictionResult } from "../../client/patient-client.js";
import { openSharedResult } from "../../hospital/shared-results.js";
import type { LocalStack } from "../../local/stack.js";
import { ContractCallError } from "../../protocol/contract-errors.js";
import { decodeEnvelope } from "../../protocol/envelope.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import type { Reading } from "../../protocol/model.js";
import { hospitalKeyPair, ShareError } from "../../protocol/result-share.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { nonceOf } from "../helpers/nonce.js";
import { rejectionOf } from "../helpers/rejection.js";
import { alterStoredBlob } from "../helpers/tamper.js";

describe("sharing a result with a hospital (hardhat node, redis-server, node-seal)", function () {
  let setup: LocalStackWithPatient;
  let stack: LocalStack;
  let ref: ModelRef;
  let readings: Reading[];
  let patient: PatientClient;
  let hospital: string;
  let result: PredictionResult;

  before(async function () {
    setup = await startLocalStackWithPatient({ readings: 3, stack: { coprocessorEnv: { PMHE_OPERATOR_PORT: "0" } } });
    ({ stack, ref, readings, patient } = setup);
    hospital = await stack.hospital.getAddress();
    result = await patient.predict(ref, readings[0]!);
  });

  after(async function () {
    await setup?.stop();
  });

  const open = (secretKey: Uint8Array, jobId: Hash = result.jobId) =>
    openSharedResult({ runner: stack.provider, contractAddress: stack.contractAddress, blobs: stack.blobs, hospital, jobId, secretKey });

  it("refuses to share without a consent covering results, by the contract's named error, before anything is sent", async function () {
    const address = await patient.address();
    const nonce = await nonceOf(stack.provider, address);
    const withoutConsent = await rejectionOf(patient.shareResult(result.jobId, hospital, result));
    expect(withoutConsent).to.be.instanceOf(ContractCallError);
    expect((withoutConsent as ContractCallError).errorName).to.equal("ConsentDoesNotCoverResults");
    expect(withoutConsent.message).to.contain(`patient ${address} has no active consent allowing hospital ${hospital} to receive results`);

    // A consent to request predictions only does not cover results either.
    await patient.grantConsent(hospital, Math.floor(Date.now() / 1000) + 86_400, false);
    const requestOnly = await rejectionOf(patient.shareResult(result.jobId, hospital, result));
    expect((requestOnly as ContractCallError).errorName).to.equal("ConsentDoesNotCoverResults");
    expect(await nonceOf(stack.provider, address)).to.equal(nonce + 1); // the grant, nothing else
    expect(await stack.contract.sharedResultOf(result.jobId, hospital)).to.match(/^0x0{64}$/);
  });

  it("lets the hospital open what the patient shared with its registered key, and see the rounded value only", async function () {
    await patient.grantConsent(hospital, Math.floor(Date.now() / 1000) + 86_400, true);
    const { sharedHash, locator } = await patient.shareResult(result.jobId, hospital, result);
    expect(locator).to.equal(stack.blobs.urlOf(sharedHash));
    expect((await stack.contract.sharedResultOf(result.jobId, hospital)).toLowerCase()).to.equal(sharedHash);

    const opened = await open(stack.hospitalKeys.secretKey);
    const rounded = Math.round(result.probability * 100) / 100;
    expect(opened).to.deep.equal({
      jobId: result.jobId,
      modelId: ref.id,
      probability: rounded,
      predictedClass: result.predictedClass,
      patient: (await patient.address()).toLowerCase(),
      sharedHash,
    });
    // The rounding is real: the full-precision probability is not what the hospital got.
    expect(opened.probability).to.not.equal(result.probability);
    // What sits in the public blob store is ciphertext: neither value appears in it in the clear.
    const bytes = (await stack.blobs.get(sharedHash))!;
    expect(contentHash(bytes)).to.equal(sharedHash);
    const text = new TextDecoder().decode(bytes);
    expect(text).to.not.contain(String(rounded)).and.not.contain(String(result.probability)).and.not.contain("probability");
    expect([...decodeEnvelope(bytes, "result-share").sections.keys()]).to.deep.equal(["ciphertext"]);
  });

  it("cannot be opened with another hospital's key", async function () {
    const err = await rejectionOf(open(hospitalKeyPair().secretKey));
    expect(err).to.be.instanceOf(ShareError);
    expect(err.message).to.contain("does not open with this key");
  });

  it("refuses a blob that does not hash to the on-chain share, and says when nothing was shared", async function () {
    const other = await patient.predict(ref, readings[1]!);
    const nothing = await rejectionOf(open(stack.hospitalKeys.secretKey, other.jobId));
    expect(nothing).to.be.instanceOf(ShareError);
    expect(nothing.message).to.contain("nothing of job");

    // The same job shared again replaces the on-chain hash; the hospital reads only what the chain now names.
    const second = await patient.shareResult(other.jobId, hospital, other);
    const opened = await open(stack.hospitalKeys.secretKey, other.jobId);
    expect(opened.sharedHash).to.equal(second.sharedHash);

    // The store serving other bytes under that hash is caught before any decryption is tried.
    await alterStoredBlob(stack.blobDir, second.sharedHash, 5);
    const altered = await rejectionOf(open(stack.hospitalKeys.secretKey, other.jobId));
    expect(altered).to.be.instanceOf(ShareError);
    expect(altered.message).to.contain(`the chain holds ${second.sharedHash}`);
  });

  it("stops sharing once the patient revokes the consent", async function () {
    await patient.revokeConsent(hospital);
    const err = await rejectionOf(patient.shareResult(result.jobId, hospital, result));
    expect((err as ContractCallError).errorName).to.equal("ConsentDoesNotCoverResults");
  });
});
