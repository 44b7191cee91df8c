import { expect } from "chai";
import { keccak256, NonceManager, parseEther, randomBytes, Wallet, type Signer } from "ethers";
import { remotePatientCrypto } from "../../client/crypto/remote.js";
import type { PatientCrypto } from "../../client/crypto/patient-crypto.js";
import { errorView } from "../../client/error-view.js";
import { PredictionFailedError } from "../../client/errors.js";
import type { JobState } from "../../client/job-status.js";
import { PatientClient } from "../../client/patient-client.js";
import { freePort } from "../../local/child-process.js";
import { LOCAL_HOSPITAL_NAME, type LocalStack } from "../../local/stack.js";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import { WrongChainError } from "../../protocol/chain.js";
import { ContractCallError } from "../../protocol/contract-errors.js";
import type { Hash } from "../../protocol/hash.js";
import { predictPlaintext } from "../../protocol/model.js";
import { NetworkError } from "../../protocol/rpc.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { rejectionOf } from "../helpers/rejection.js";
import { expectClose } from "../helpers/close.js";
import { startCryptoWorker } from "./fixtures/crypto-worker-thread.js";

/**
 * The patient core as the web app uses it, against the real stack: cryptography in a worker behind a port, job
 * status through the API's Retry-After with the chain as fallback, the history and consents rebuilt from the chain,
 * and every error told through one ErrorView.
 */
const RETRY_AFTER_SECONDS = 3;

describe("patient core for the web app (worker crypto, job status, history, consents, errors; hardhat node, redis-server, coprocessor)", function () {
  let setup: LocalStackWithPatient;
  let stack: LocalStack;
  let worker: ReturnType<typeof startCryptoWorker>;
  let crypto: PatientCrypto;
  let client: PatientClient;
  let signer: Signer;
  let finalized: { jobId: Hash; resultHash: Hash; probability: number };
  let failedJob: Hash;

  before(async function () {
    // Two attempts: a job whose record was never uploaded stays Requested about a second, then fails.
    setup = await startLocalStackWithPatient({
      readings: 3,
      stack: { coprocessorEnv: { PMHE_OPERATOR_PORT: "0", PMHE_JOB_ATTEMPTS: "2", PMHE_JOB_RETRY_AFTER_SECONDS: String(RETRY_AFTER_SECONDS) } },
    });
    stack = setup.stack;
    worker = startCryptoWorker();
    signer = await stack.newPatient();
    const keys = await worker.host.generateKeys({ patient: await signer.getAddress() });
    crypto = await remotePatientCrypto(worker.host, keys);
    client = new PatientClient({ crypto, signer, contractAddress: stack.contractAddress, blobs: stack.blobs, pollIntervalMs: 100 });
    await client.register();
  });

  after(async function () {
    await crypto?.dispose();
    await worker?.stop();
    await setup?.stop();
  });

  it("predicts with SEAL in a worker: the page's side encrypts, verifies and decrypts through the port, as the plaintext model", async function () {
    const result = await client.predict(setup.ref, setup.readings[0]!);
    expectClose(result.probability, predictPlaintext(setup.model, setup.readings[0]!).probability, 1e-4);
    finalized = result;
    const many = await client.predictMany(setup.ref, setup.readings.slice(0, 3));
    many.predictions.forEach((p, i) => expectClose(p.probability, predictPlaintext(setup.model, setup.readings[i]!).probability, 1e-4));
  });

  it("follows a pending job through GET /jobs/:jobId, waiting as long as its Retry-After asks, to its settled state", async function () {
    const neverUploaded = keccak256(randomBytes(32)) as Hash;
    const { jobId } = await client.anchorAndRequest(neverUploaded, setup.ref.id);
    failedJob = jobId;
    const states: JobState[] = [];
    const waits: number[] = [];
    const settled = await client.watchJob(jobId, {
      onState: (state) => states.push(state),
      // Counted, not spent: a short real pause keeps the loop from spinning while the worker retries.
      sleep: async (ms) => {
        waits.push(ms);
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
      timeoutMs: 60_000,
    });
    expect(settled).to.deep.equal({ status: "Failed", reason: 1, reasonName: "RecordBlobMissing", source: "api" });
    expect(states[0]).to.include({ status: "Requested", source: "api", retryAfterMs: RETRY_AFTER_SECONDS * 1000 });
    expect(waits.length).to.be.at.least(1);
    expect(waits.every((ms) => ms === RETRY_AFTER_SECONDS * 1000), `waits ${waits.join(", ")}`).to.equal(true);
    const view = errorView(new PredictionFailedError(jobId, settled.status === "Failed" ? settled.reason : 0));
    expect(view).to.include({ kind: "failed", title: "Prediction failed: RecordBlobMissing", code: "RecordBlobMissing" });
  });

  it("asks the chain when the coprocessor's API does not answer, and does not retry a malformed id there", async function () {
    const deadApi = new BlobClient(`http://127.0.0.1:${await freePort()}`);
    const offline = new PatientClient({ crypto, signer, contractAddress: stack.contractAddress, blobs: deadApi, pollIntervalMs: 100 });
    expect(await offline.jobStatus(finalized.jobId)).to.deep.equal({ status: "Finalized", resultHash: finalized.resultHash, source: "chain" });
    expect(await client.jobStatus(finalized.jobId)).to.deep.equal({ status: "Finalized", resultHash: finalized.resultHash, source: "api" });
    const unknown = await rejectionOf(offline.jobStatus(keccak256(randomBytes(32)) as Hash));
    expect((unknown as ContractCallError).errorName).to.equal("UnknownJob");
    const malformed = await rejectionOf(client.jobStatus("0x1234" as Hash));
    expect((malformed as BlobStoreError).code).to.equal("invalid_job_id");

    // The upload to the dead API is a NetworkError naming its URL, told as such.
    const refused = await rejectionOf(offline.uploadReading(setup.model, setup.readings[1]!));
    expect(refused).to.be.instanceOf(NetworkError);
    const view = errorView(refused);
    expect(view).to.include({ kind: "network", title: "Coprocessor unreachable", retryable: true });
    expect(view.sentence).to.contain(`${deadApi.urlOf("0x" as Hash).replace(/\/blobs\/0x$/, "")}/blobs/`);
  });

  it("rebuilds the patient's past jobs from the chain, and decrypts a finished one on demand", async function () {
    const history = await client.history();
    const byId = new Map(history.map((job) => [job.jobId, job]));
    expect(byId.get(finalized.jobId)).to.include({ status: "Finalized", resultHash: finalized.resultHash, decryptable: true, requestedByPatient: true, keyBundleHash: client.keyBundleHash });
    expect(byId.get(failedJob)).to.include({ status: "Failed", failureReason: 1, reasonName: "RecordBlobMissing", decryptable: false });
    expect(history.map((job) => job.blockNumber)).to.deep.equal([...history.map((job) => job.blockNumber)].sort((a, b) => a - b));
    expect(history).to.have.length(3); // predict, predictMany, the failed one: nobody else's
    const opened = await client.predictionsOf(finalized.jobId);
    expect(opened.predictions).to.have.length(1);
    expect(opened.predictions[0]!.probability).to.equal(finalized.probability);
    // Another patient's history holds none of these.
    expect((await setup.patient.history()).map((job) => job.jobId)).to.not.include(finalized.jobId);
  });

  it("tells user rejections and a wallet on the wrong chain through ErrorView, before anything is sent", async function () {
    const declining = new Proxy(signer, {
      get(target, property, receiver) {
        if (property === "signTypedData") return async () => Promise.reject(Object.assign(new Error("user rejected action"), { code: "ACTION_REJECTED", info: { error: { code: 4001 } } }));
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const wary = new PatientClient({ crypto, signer: declining, contractAddress: stack.contractAddress, blobs: stack.blobs });
    const rejected = errorView(await rejectionOf(wary.backupKeys()));
    expect(rejected).to.include({ kind: "user-rejected", title: "Declined in the wallet", retryable: true });
    expect(await stack.blobs.keyBackupOf(await signer.getAddress())).to.equal(undefined);

    const elsewhere = new PatientClient({ crypto, signer, contractAddress: stack.contractAddress, blobs: stack.blobs, chainId: 1n });
    const wrongChain = await rejectionOf(elsewhere.grantConsent(await stack.hospital.getAddress(), Math.floor(Date.now() / 1000) + 86_400, true));
    expect(wrongChain).to.be.instanceOf(WrongChainError);
    const view = errorView(wrongChain);
    expect(view).to.include({ kind: "wrong-chain", title: "Wrong network" });
    expect(view.next).to.contain("switch the wallet to the deployment's network 1");
    expect(errorView(wrongChain, { surface: "cli" }).next).to.equal("point PMHE_RPC_URL at the chain PMHE was deployed on");
  });

  it("lists the patient's consents as they stand: active, revoked, or expired by the chain's clock", async function () {
    const hospital = await stack.hospital.getAddress();
    expect(await client.consents()).to.deep.equal([]);
    const now = (await stack.provider.getBlock("latest"))!.timestamp;
    await client.grantConsent(hospital, now + 86_400, true);
    const [granted] = await client.consents();
    expect(granted).to.include({ hospital, hospitalName: LOCAL_HOSPITAL_NAME, expiresAt: now + 86_400, mayReceiveResults: true, active: true, status: "active" });

    await client.revokeConsent(hospital);
    expect((await client.consents())[0]).to.include({ status: "revoked", active: false, expiresAt: 0 });

    await client.grantConsent(hospital, now + 600, false);
    expect((await client.consents())[0]).to.include({ status: "active", mayReceiveResults: false });
    // The chain's clock decides, not this machine's: move it past the expiry (this test runs last for that reason).
    await stack.provider.send("evm_increaseTime", [3_600]);
    await stack.provider.send("evm_mine", []);
    expect((await client.consents())[0]).to.include({ status: "expired", active: false, expiresAt: now + 600 });

    // A second patient's consents are their own.
    const other = new Wallet(Wallet.createRandom().privateKey, stack.provider);
    await (await stack.admin.sendTransaction({ to: other.address, value: parseEther("1") })).wait();
    const otherClient = new PatientClient({ crypto, signer: new NonceManager(other), contractAddress: stack.contractAddress, blobs: stack.blobs });
    expect(await otherClient.consents()).to.deep.equal([]);
  });
});
