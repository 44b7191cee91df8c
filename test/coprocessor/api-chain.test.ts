import { randomBytes as nodeRandomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, keccak256, Network, randomBytes, Wallet, type Signer } from "ethers";
import { Redis } from "ioredis";
import { PredictionFailedError } from "../../client/errors.js";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { chainBlockNumber, redisPing } from "../../coprocessor/api/health-routes.js";
import { contractJobReader } from "../../coprocessor/api/job-routes.js";
import { createOperatorApp } from "../../coprocessor/api/operator-app.js";
import { contractRoleChecker } from "../../coprocessor/api/upload-policy.js";
import { freePort } from "../../local/child-process.js";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalRedis } from "../../local/redis-server.js";
import { hardhatAccount, LOCAL_HOSPITAL_NAME, type LocalStack } from "../../local/stack.js";
import { BlobStoreError } from "../../protocol/blob-client.js";
import { connectPmhe, jobIdFromReceipt, modelIdOf } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { modelBytes, modelHash as hashOfModel, parseModel, type Model, type Reading } from "../../protocol/model.js";
import { hospitalKeyPair } from "../../protocol/result-share.js";
import { signUpload, uploadDomain, UPLOAD_HEADERS, type UploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { metricSample } from "../helpers/prometheus.js";
import { rejectionOf } from "../helpers/rejection.js";
import { alterStoredBlob } from "../helpers/tamper.js";
import { keyBundleOf, recordOf, resultBlob, startBlobApi } from "./blob-fixtures.js";

const ADMIN_TOKEN = nodeRandomBytes(24).toString("hex");

interface ErrorBody {
  error: string;
  message: string;
}

async function expectJsonError(response: Response, status: number, code: string): Promise<ErrorBody> {
  const body = (await response.json()) as ErrorBody;
  expect(response.status, JSON.stringify(body)).to.equal(status);
  expect(response.headers.get("content-type") ?? "").to.match(/^application\/json/);
  expect(body.error).to.equal(code);
  expect(body.message).to.be.a("string").and.not.equal("");
  return body;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("coprocessor API against a deployed contract (hardhat node, redis-server, BullMQ)", function () {
  let setup: LocalStackWithPatient;
  let stack: LocalStack;
  let model: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let patientSigner: Signer;
  let patient: PatientClient;

  before(async function () {
    setup = await startLocalStackWithPatient({
      readings: 4,
      stack: { coprocessorEnv: { PMHE_ADMIN_TOKEN: ADMIN_TOKEN, PMHE_JOB_RETRY_AFTER_SECONDS: "3", PMHE_OPERATOR_PORT: "0" } },
    });
    ({ stack, model, ref, readings, patientSigner, patient } = setup);
  });

  after(async function () {
    await setup?.stop();
  });

  describe("signed uploads", function () {
    interface SignedPutOptions {
      signer: Wallet | Signer;
      purpose?: UploadPurpose;
      /** What the signature covers, when it should differ from the request. */
      signedHash?: Hash;
      signedPurpose?: string;
      expiresAt?: number;
      domain?: UploadDomain;
      /** The address claimed in x-pmhe-signer, if not the signer's. */
      claimed?: string;
      omit?: string[];
    }

    async function signedPut(bytes: Uint8Array, options: SignedPutOptions): Promise<Response> {
      const hash = keccak256(bytes) as Hash;
      const purpose = options.purpose ?? "record";
      const expiresAt = options.expiresAt ?? Math.floor(Date.now() / 1000) + 120;
      const signature = await signUpload(options.signer, options.domain ?? stack.uploadDomain, {
        blobHash: options.signedHash ?? hash,
        purpose: (options.signedPurpose ?? purpose) as UploadPurpose,
        expiresAt,
      });
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
        [UPLOAD_HEADERS.signer]: options.claimed ?? (await options.signer.getAddress()),
        [UPLOAD_HEADERS.purpose]: purpose,
        [UPLOAD_HEADERS.expires]: String(expiresAt),
        [UPLOAD_HEADERS.signature]: signature,
      };
      for (const name of options.omit ?? []) delete headers[name];
      return fetch(stack.blobs.urlOf(hash), { method: "PUT", headers, body: bytes as Uint8Array<ArrayBuffer> });
    }

    async function stored(bytes: Uint8Array): Promise<boolean> {
      return (await fetch(stack.blobs.urlOf(keccak256(bytes) as Hash), { method: "HEAD" })).status === 200;
    }

    it("stores a validly signed record (of a registered patient) or key bundle (from any wallet) and names the recovered uploader", async function () {
      const stranger = Wallet.createRandom(); // no funds, no role, never registered
      const blobs = [
        [patientSigner, "record", recordOf(await patientSigner.getAddress(), patient.keyBundleHash)],
        [stranger, "key-bundle", keyBundleOf(stranger.address)],
      ] as const;
      for (const [signer, purpose, bytes] of blobs) {
        const response = await signedPut(bytes, { signer, purpose });
        expect(response.status).to.equal(201);
        expect(await response.json()).to.deep.equal({
          hash: keccak256(bytes),
          bytes: bytes.length,
          created: true,
          uploader: await signer.getAddress(),
          purpose,
        });
        expect(await stored(bytes)).to.equal(true);
      }
    });

    it("refuses an upload with any signature header missing: 401 signature_required", async function () {
      for (const name of Object.values(UPLOAD_HEADERS)) {
        const bytes = randomBytes(512);
        const body = await expectJsonError(await signedPut(bytes, { signer: patientSigner, omit: [name] }), 401, "signature_required");
        expect(body.message).to.include(name);
        expect(await stored(bytes)).to.equal(false);
      }
    });

    it("refuses a signature forged by another key, or made for another hash, purpose or deployment: 401 bad_signature", async function () {
      const patientAddress = await patientSigner.getAddress();
      const otherDeployment = uploadDomain(stack.uploadDomain.chainId, Wallet.createRandom().address);
      const otherChain = uploadDomain(1, stack.contractAddress);
      const cases: Array<[string, SignedPutOptions]> = [
        ["another key", { signer: Wallet.createRandom(), claimed: patientAddress }],
        ["another hash", { signer: patientSigner, signedHash: keccak256(randomBytes(32)) as Hash }],
        ["another purpose", { signer: patientSigner, purpose: "key-bundle", signedPurpose: "record" }],
        ["another contract", { signer: patientSigner, domain: otherDeployment }],
        ["another chain", { signer: patientSigner, domain: otherChain }],
      ];
      for (const [what, options] of cases) {
        const bytes = randomBytes(512);
        const response = await signedPut(bytes, options);
        await expectJsonError(response, 401, "bad_signature");
        expect(await stored(bytes), what).to.equal(false);
      }
      // A garbled signature, and a signer header that is no address.
      const bytes = randomBytes(512);
      const hash = keccak256(bytes);
      for (const [header, value] of [[UPLOAD_HEADERS.signature, "0x1234"], [UPLOAD_HEADERS.signer, "patient"]] as const) {
        const expiresAt = Math.floor(Date.now() / 1000) + 60;
        const headers = {
          "content-type": "application/octet-stream",
          [UPLOAD_HEADERS.signer]: patientAddress,
          [UPLOAD_HEADERS.purpose]: "record",
          [UPLOAD_HEADERS.expires]: String(expiresAt),
          [UPLOAD_HEADERS.signature]: await signUpload(patientSigner, stack.uploadDomain, { blobHash: hash as Hash, purpose: "record", expiresAt }),
          [header]: value,
        };
        await expectJsonError(await fetch(stack.blobs.urlOf(hash as Hash), { method: "PUT", headers, body: bytes as Uint8Array<ArrayBuffer> }), 401, "bad_signature");
      }
      expect(await stored(bytes)).to.equal(false);
    });

    it("refuses an expired signature and one valid for more than an hour: 401 signature_expired", async function () {
      const now = Math.floor(Date.now() / 1000);
      for (const expiresAt of [now - 5, now + 3_600 + 120]) {
        const bytes = randomBytes(512);
        await expectJsonError(await signedPut(bytes, { signer: patientSigner, expiresAt }), 401, "signature_expired");
        expect(await stored(bytes)).to.equal(false);
      }
    });

    it("refuses an unknown purpose: 400 bad_purpose", async function () {
      const bytes = randomBytes(512);
      const body = await expectJsonError(await signedPut(bytes, { signer: patientSigner, purpose: "weights" as UploadPurpose }), 400, "bad_purpose");
      expect(body.message).to.include("key-bundle");
      expect(await stored(bytes)).to.equal(false);
    });

    it("takes models only from HOSPITAL_ROLE holders, as the contract says at the time of the upload: 403 forbidden otherwise", async function () {
      const bytes = randomBytes(1024);
      const body = await expectJsonError(await signedPut(bytes, { signer: patientSigner, purpose: "model" }), 403, "forbidden");
      expect(body.message).to.include("HOSPITAL_ROLE");
      expect(await stored(bytes)).to.equal(false);
      // The hospital may (publishModel signed its upload in before()); a hospital registered later counts at once,
      // and so does a revocation. Each upload is a model document of its own (another version), so each is new.
      const variant = (version: number) => modelBytes(parseModel({ ...model, version }));
      expect((await signedPut(variant(101), { signer: stack.hospital, purpose: "model" })).status).to.equal(201);
      const newcomer = await stack.newPatient();
      const role = await stack.contract.HOSPITAL_ROLE();
      await expectJsonError(await signedPut(variant(102), { signer: newcomer, purpose: "model" }), 403, "forbidden");
      await (await stack.contract.registerHospital(await newcomer.getAddress(), hospitalKeyPair().publicKey, "Newcomer")).wait();
      expect((await signedPut(variant(102), { signer: newcomer, purpose: "model" })).status).to.equal(201);
      await (await stack.contract.revokeRole(role, await newcomer.getAddress())).wait();
      await expectJsonError(await signedPut(variant(103), { signer: newcomer, purpose: "model" }), 403, "forbidden");
    });

    it("takes results only from COPROCESSOR_ROLE holders", async function () {
      const bytes = resultBlob();
      await expectJsonError(await signedPut(bytes, { signer: stack.hospital, purpose: "result" }), 403, "forbidden");
      await expectJsonError(await signedPut(bytes, { signer: patientSigner, purpose: "result" }), 403, "forbidden");
      expect(await stored(bytes)).to.equal(false);
      const operator = hardhatAccount(2, stack.provider);
      const response = await signedPut(bytes, { signer: operator, purpose: "result" });
      expect(response.status).to.equal(201);
      expect(((await response.json()) as { uploader: string }).uploader).to.equal(stack.coprocessor.operator);
    });

    it("BlobClient without a signer gets 401 signature_required", async function () {
      const err = await rejectionOf(stack.blobs.put(randomBytes(100)));
      expect(err).to.be.instanceOf(BlobStoreError);
      expect((err as BlobStoreError).status).to.equal(401);
      expect((err as BlobStoreError).code).to.equal("signature_required");
    });
  });

  describe("job status, probes and metrics", function () {
    let metricsBefore: string;

    // Metrics are the operator server's, not the public API's.
    const scrape = async () => {
      const response = await fetch(`${stack.coprocessor.operatorUrl}/metrics`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
      return response.text();
    };

    before(async function () {
      metricsBefore = await scrape();
    });

    it("answers 400 invalid_job_id for a malformed id and 404 unknown_job for one the contract does not know", async function () {
      for (const bad of ["1", "0x1234", `0x${"z".repeat(64)}`]) await expectJsonError(await fetch(`${stack.apiUrl}/jobs/${bad}`), 400, "invalid_job_id");
      const unknown = keccak256(randomBytes(32));
      const body = await expectJsonError(await fetch(`${stack.apiUrl}/jobs/${unknown}`), 404, "unknown_job");
      expect(body.message).to.include(unknown);
    });

    it("answers 200 Finalized with the result hash and a URL that serves the committed bytes", async function () {
      const result = await patient.predict(ref, readings[0]!);
      const response = await fetch(`${stack.apiUrl}/jobs/${result.jobId}`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("cache-control")).to.equal("no-store");
      const body = (await response.json()) as { status: string; resultHash: string; resultUrl: string };
      expect(body).to.deep.equal({
        jobId: result.jobId,
        status: "Finalized",
        resultHash: result.resultHash,
        resultUrl: `${stack.apiUrl}/blobs/${result.resultHash}`,
      });
      const bytes = new Uint8Array(await (await fetch(body.resultUrl)).arrayBuffer());
      expect(keccak256(bytes)).to.equal(result.resultHash);
    });

    it("moves the job metrics after a job: latency, evaluation time, uploads by purpose, queue depth gauges", async function () {
      const after = await scrape();
      const delta = (name: string, labels: Record<string, string> = {}) => (metricSample(after, name, labels) ?? 0) - (metricSample(metricsBefore, name, labels) ?? 0);
      expect(delta("pmhe_job_latency_seconds_count", { outcome: "committed" })).to.equal(1);
      expect(metricSample(after, "pmhe_job_latency_seconds_sum", { outcome: "committed" })).to.be.greaterThan(0);
      expect(delta("pmhe_evaluation_seconds_count")).to.equal(1);
      expect(metricSample(after, "pmhe_evaluation_seconds_sum")).to.be.greaterThan(0);
      expect(delta("pmhe_blob_uploads_total", { purpose: "record", status: "201" })).to.equal(1);
      // The worker writes results straight into its own store, not through its API.
      expect(delta("pmhe_blob_uploads_total", { purpose: "result", status: "201" })).to.equal(0);
      expect(metricSample(after, "pmhe_evaluation_threads_busy")).to.equal(0);
      expect(metricSample(after, "pmhe_evaluation_thread_deaths_total")).to.equal(0);
      // Refused uploads of the previous tests are counted by status.
      expect(metricSample(after, "pmhe_blob_uploads_total", { purpose: "model", status: "403" })).to.be.at.least(3);
      expect(metricSample(after, "pmhe_blob_uploads_total", { purpose: "invalid", status: "400" })).to.equal(1);
      for (const state of ["waiting", "active", "delayed", "failed"]) {
        expect(metricSample(after, "pmhe_queue_jobs", { state }), state).to.equal(0);
      }
      expect(metricSample(after, "process_resident_memory_bytes")).to.be.greaterThan(0);
    });

    it("answers 200 Failed with the reason code and name, and counts the failure by reason", async function () {
      const recordHash = await patient.uploadReading(model, readings[1]!);
      await alterStoredBlob(stack.blobDir, recordHash, 1_000);
      const { jobId } = await patient.anchorAndRequest(recordHash, ref.id);
      const err = await rejectionOf(patient.waitForResult(jobId, 60_000));
      expect(err).to.be.instanceOf(PredictionFailedError);

      const response = await fetch(`${stack.apiUrl}/jobs/${jobId}`);
      expect(response.status).to.equal(200);
      expect(await response.json()).to.deep.equal({ jobId, status: "Failed", reason: 2, reasonName: "RecordHashMismatch" });
      const metrics = await scrape();
      expect(metricSample(metrics, "pmhe_job_failures_total", { reason: "RecordHashMismatch" })).to.equal(1);
      expect(metricSample(metrics, "pmhe_job_latency_seconds_count", { outcome: "failed" })).to.equal(1);
    });

    it("answers /healthz (API and operator server) and /readyz (operator server) 200 with Redis and the chain both answering", async function () {
      for (const url of [stack.apiUrl, stack.coprocessor.operatorUrl]) expect(await (await fetch(`${url}/healthz`)).json()).to.deep.equal({ status: "ok" });
      const response = await fetch(`${stack.coprocessor.operatorUrl}/readyz`);
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { status: string; checks: Record<string, { ok: boolean }> };
      expect(body.status).to.equal("ready");
      expect(Object.keys(body.checks).sort()).to.deep.equal(["chain", "redis"]);
      expect(body.checks.redis!.ok).to.equal(true);
      expect(body.checks.chain!.ok).to.equal(true);
    });

    it("answers /readyz 503 naming Redis once the test's own redis-server is stopped, and the chain once its RPC is gone", async function () {
      const redisServer = await startLocalRedis();
      const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
      redis.on("error", () => undefined);
      const deadRpc = new JsonRpcProvider(`http://127.0.0.1:${await freePort()}`, undefined, { staticNetwork: Network.from(31337) });
      const directory = await mkdtemp(join(tmpdir(), "pmhe-readyz-"));
      // Checked on every probe (no cache), so each answer reflects the dependencies at that moment.
      const app = (chain: JsonRpcProvider) =>
        createOperatorApp({ readiness: { checks: { redis: redisPing(redis), chain: chainBlockNumber(chain) }, timeoutMs: 1_000 }, readyCacheMs: 0 });
      const healthy = createServer(app(stack.provider));
      const broken = createServer(app(deadRpc));
      try {
        const [healthyUrl, brokenUrl] = [await listen(healthy), await listen(broken)];
        await redis.ping();
        expect((await fetch(`${healthyUrl}/readyz`)).status).to.equal(200);

        await redisServer.stop();
        const response = await fetch(`${healthyUrl}/readyz`);
        expect(response.status).to.equal(503);
        const body = (await response.json()) as { status: string; failed: string[]; checks: Record<string, { ok: boolean; error?: string }> };
        expect(body.status).to.equal("not_ready");
        expect(body.failed).to.deep.equal(["redis"]);
        expect(body.checks.redis!.ok).to.equal(false);
        expect(body.checks.chain!.ok).to.equal(true);

        const both = (await (await fetch(`${brokenUrl}/readyz`)).json()) as { failed: string[] };
        expect(both.failed).to.deep.equal(["redis", "chain"]);
      } finally {
        redis.disconnect();
        deadRpc.destroy();
        await Promise.all([close(healthy), close(broken)]);
        await redisServer.stop();
        await rm(directory, { recursive: true, force: true });
      }
    });

    it("answers 202 with Retry-After while a job waits (its record not uploaded yet, or no coprocessor serving it), and 200 Expired once expired on-chain", async function () {
      // On the stack: a record anchored but not uploaded keeps its job Requested through ~15 s of retries.
      const mine = stack.contract.connect(patientSigner);
      const missingRecord = keccak256(randomBytes(32));
      const waiting = jobIdFromReceipt(mine, (await (await mine.anchorAndRequest(missingRecord, ref.id)).wait())!);
      const onStack = await fetch(`${stack.apiUrl}/jobs/${waiting}`);
      expect(onStack.status).to.equal(202);
      expect(onStack.headers.get("retry-after")).to.equal("3"); // PMHE_JOB_RETRY_AFTER_SECONDS
      expect(await onStack.json()).to.deep.equal({ jobId: waiting, status: "Requested", deadline: Number((await stack.contract.jobOf(waiting)).deadline) });

      // A second deployment on the same chain that no coprocessor serves, and an API reading it.
      const hospital = await stack.hospital.getAddress();
      const second = await deployPmhe(stack.admin, {
        hospitals: [{ address: hospital, encryptionKey: stack.hospitalKeys.publicKey, name: LOCAL_HOSPITAL_NAME }],
        coprocessors: [],
      });
      const reader = connectPmhe(second.address, stack.provider);
      const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
      const api = await startBlobApi({
        redis,
        uploads: { domain: uploadDomain(stack.uploadDomain.chainId, second.address), hasRole: contractRoleChecker(reader) },
        api: { jobs: contractJobReader(reader), jobRetryAfterSeconds: 5 },
      });
      try {
        const url = api.url;
        await (await second.contract.connect(stack.hospital).publishModel(hashOfModel(model), model.name, model.version, "unused")).wait();
        const owner = second.contract.connect(await stack.newPatient());
        await (await owner.registerKeys(keccak256(randomBytes(32)), "unused")).wait();
        const recordHash = keccak256(randomBytes(32));
        const unserved = jobIdFromReceipt(owner, (await (await owner.anchorAndRequest(recordHash, modelIdOf(hospital, hashOfModel(model)))).wait())!);

        const pending = await fetch(`${url}/jobs/${unserved}`);
        expect(pending.status).to.equal(202);
        expect(pending.headers.get("retry-after")).to.equal("5");
        expect(await pending.json()).to.deep.equal({ jobId: unserved, status: "Requested", deadline: Number((await reader.jobOf(unserved)).deadline) });
        // Each API knows only its own deployment's jobs.
        await expectJsonError(await fetch(`${stack.apiUrl}/jobs/${unserved}`), 404, "unknown_job");
        await expectJsonError(await fetch(`${url}/jobs/${waiting}`), 404, "unknown_job");

        // Past the deadline anyone may expire a pending job.
        await stack.provider.send("evm_increaseTime", [Number(await reader.jobTimeout()) + 1]);
        await stack.provider.send("evm_mine", []);
        await (await owner.expireJob(unserved)).wait();
        await (await mine.expireJob(waiting)).wait();
        for (const [base, jobId] of [[url, unserved], [stack.apiUrl, waiting]] as const) {
          const expired = await fetch(`${base}/jobs/${jobId}`);
          expect(expired.status).to.equal(200);
          expect(await expired.json()).to.deep.equal({ jobId, status: "Expired" });
        }
      } finally {
        await api.close();
        redis.disconnect();
      }
    });
  });

  describe("queue dashboard and headers", function () {
    it("keeps /admin/queues (on the operator server) behind the admin bearer token: 401 JSON without it or with a wrong one, 200 with it", async function () {
      const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      for (const authorization of [undefined, "Bearer wrong-token-wrong-token", `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, basic("admin", "nope"), `${ADMIN_TOKEN}`]) {
        const response = await fetch(`${stack.coprocessor.operatorUrl}/admin/queues`, { headers: authorization ? { authorization } : {} });
        await expectJsonError(response, 401, "unauthorized");
        expect(response.headers.get("www-authenticate")).to.match(/^Bearer/);
        await expectJsonError(await fetch(`${stack.coprocessor.operatorUrl}/admin/queues/api/queues`, { headers: authorization ? { authorization } : {} }), 401, "unauthorized");
      }
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const page = await fetch(`${stack.coprocessor.operatorUrl}/admin/queues`, { headers });
      expect(page.status).to.equal(200);
      expect(page.headers.get("content-type")).to.match(/^text\/html/);
      expect(page.headers.get("x-powered-by")).to.equal(null);
      const api = await fetch(`${stack.coprocessor.operatorUrl}/admin/queues/api/queues`, { headers });
      expect(api.status).to.equal(200);
      const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
      expect(queues.map((q) => q.name)).to.deep.equal(["pmhe-predictions"]);
      // The page's own assets sit behind the token too; a browser can present it as the Basic password.
      const script = /src="(static\/js\/main[^"]+)"/.exec(await page.text())![1]!;
      expect((await fetch(`${stack.coprocessor.operatorUrl}/admin/queues/${script}`)).status).to.equal(401);
      const asset = await fetch(`${stack.coprocessor.operatorUrl}/admin/queues/${script}`, { headers: { authorization: basic("admin", ADMIN_TOKEN) } });
      expect(asset.status).to.equal(200);
      expect(asset.headers.get("content-type")).to.match(/javascript/);
    });

    it("sends the security headers from the running coprocessor", async function () {
      const response = await fetch(`${stack.apiUrl}/healthz`);
      expect(response.headers.get("content-security-policy")).to.include("default-src 'self'");
      expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(response.headers.get("strict-transport-security")).to.match(/max-age=\d+/);
      expect(response.headers.get("x-powered-by")).to.equal(null);
    });
  });
});
