import { expect } from "chai";
import { Wallet, type HDNodeWallet, type Signer } from "ethers";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { BATCH_MANIFEST_FORMAT, MAX_BATCH_MANIFEST_BYTES, MAX_MANIFEST_RECORDS } from "../../protocol/batch-manifest.js";
import { maxUploadBytes } from "../../protocol/blob-validation.js";
import { BlobClient, BlobStoreError, type UploadAuth } from "../../protocol/blob-client.js";
import { canonicalJson } from "../../protocol/canonical-json.js";
import type { Hash } from "../../protocol/hash.js";
import { MAX_SHARE_BYTES } from "../../protocol/result-share.js";
import { uploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";
import { rejectionOf } from "../helpers/rejection.js";
import {
  errorOf,
  hashOf,
  keyBundleOf,
  manifestOf,
  modelBytes,
  recordOf,
  resultBlob,
  shareOf,
  signedPut,
  signedPutHeaders,
  startBlobApi,
  type BlobApiHarness,
} from "./blob-fixtures.js";

/**
 * The blob API in-process over a real store directory, a real Redis ledger and a real HTTP server, with a role table
 * and a key-bundle table standing in for the contract (against a deployed contract: blob-api-chain.test.ts).
 * Quotas, collection and erasure: blob-api-lifecycle.test.ts; resource bounds: blob-api-resources.test.ts.
 */
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");

describe("coprocessor blob API over HTTP", function () {
  let redisServer: LocalRedis;
  let redis: Redis;
  let api: BlobApiHarness;
  let base: string;
  const patient = Wallet.createRandom();
  const stranger = Wallet.createRandom();
  const hospital = Wallet.createRandom();
  const operator = Wallet.createRandom();
  const patientBundle = keyBundleOf(patient.address);
  /** The key bundle table of the stand-in chain: address (lower case) → current bundle. */
  const registered = new Map<string, Hash>();
  const bundleLookups: string[] = [];
  const roles = new Set([`HOSPITAL_ROLE:${hospital.address}`, `COPROCESSOR_ROLE:${operator.address}`]);
  const uploads: UploadPolicyOptions = {
    domain: DOMAIN,
    hasRole: async (role, account) => roles.has(`${role}:${account}`),
    currentKeyBundle: async (who) => {
      bundleLookups.push(who.toLowerCase());
      return registered.get(who.toLowerCase());
    },
  };

  before(async function () {
    redisServer = await startLocalRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    api = await startBlobApi({ redis, uploads });
    base = api.url;
    registered.set(patient.address.toLowerCase(), hashOf(patientBundle));
  });

  after(async function () {
    await api?.close();
    redis?.disconnect();
    await redisServer?.stop();
  });

  const put = (bytes: Uint8Array, purpose: UploadPurpose, signer: Signer = patient) => signedPut(base, signer, DOMAIN, bytes, purpose);
  const head = async (hash: Hash) => (await fetch(`${base}/blobs/${hash}`, { method: "HEAD" })).status;

  it("answers /healthz; readiness, metrics and the dashboard are not on the public API", async function () {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ status: "ok" });
    expect(response.headers.get("x-powered-by")).to.equal(null);
    for (const path of ["/readyz", "/metrics", "/admin/queues"]) await errorOf(await fetch(`${base}${path}`), 404, "not_found");
  });

  it("PUT stores under the hash: 201 the first time, 200 for the same bytes again; the file is named by the hash without 0x", async function () {
    const hash = hashOf(patientBundle);
    const first = await put(patientBundle, "key-bundle");
    expect(first.status).to.equal(201);
    expect(await first.json()).to.deep.equal({ hash, bytes: patientBundle.length, created: true, uploader: patient.address, purpose: "key-bundle" });
    const second = await put(patientBundle, "key-bundle");
    expect(second.status).to.equal(200);
    expect(await second.json()).to.deep.equal({ hash, bytes: patientBundle.length, created: false, uploader: patient.address, purpose: "key-bundle" });

    const onDisk = await readFile(join(api.directory, hash.slice(2)));
    expect(Buffer.compare(onDisk, Buffer.from(patientBundle))).to.equal(0);
    const files = await api.files();
    expect(files).to.include(hash.slice(2));
    expect(files.filter((f) => f.includes("partial"))).to.deep.equal([]);
    // Counted once against the patient's quota, however often it is uploaded.
    expect(await api.ledger.pendingBytesOf(patient.address)).to.equal(patientBundle.length);
  });

  it("GET streams identical bytes with Content-Length, never cacheable for patient blobs; HEAD answers 200 or 404", async function () {
    const record = recordOf(patient.address, hashOf(patientBundle), 20_000);
    const hash = hashOf(record);
    expect((await put(record, "record")).status).to.equal(201);

    const response = await fetch(`${base}/blobs/${hash}`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^application\/octet-stream/);
    expect(response.headers.get("content-length")).to.equal(String(record.length));
    expect(response.headers.get("cache-control")).to.equal("no-store");
    const got = new Uint8Array(await response.arrayBuffer());
    expect(Buffer.compare(Buffer.from(got), Buffer.from(record))).to.equal(0);

    // The address is case-insensitive in its hex digits.
    expect((await fetch(`${base}/blobs/0x${hash.slice(2).toUpperCase()}`)).status).to.equal(200);
    const headResponse = await fetch(`${base}/blobs/${hash}`, { method: "HEAD" });
    expect(headResponse.status).to.equal(200);
    expect(headResponse.headers.get("content-length")).to.equal(String(record.length));
    expect(headResponse.headers.get("cache-control")).to.equal("no-store");
    expect(await head(hashOf(resultBlob()))).to.equal(404);
  });

  it("lets caches keep model blobs (public documents) but nothing else", async function () {
    const model = await modelBytes();
    expect([200, 201]).to.include((await put(model, "model", hospital)).status);
    const response = await fetch(`${base}/blobs/${hashOf(model)}`);
    expect(response.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
    await response.arrayBuffer();
    // A share and a key bundle are a patient's: no-store, as are errors.
    const share = shareOf(patient.address);
    expect((await put(share, "result-share")).status).to.equal(201);
    expect((await fetch(`${base}/blobs/${hashOf(share)}`)).headers.get("cache-control")).to.equal("no-store");
    expect((await fetch(`${base}/blobs/${hashOf(patientBundle)}`)).headers.get("cache-control")).to.equal("no-store");
    expect((await fetch(`${base}/blobs/${hashOf(resultBlob())}`)).headers.get("cache-control")).to.equal("no-store");
  });

  it("GET of an unknown hash is 404 JSON not_found", async function () {
    const missing = hashOf(resultBlob());
    const body = await errorOf(await fetch(`${base}/blobs/${missing}`), 404, "not_found");
    expect(body.message).to.include(missing);
  });

  it("PUT of a body whose hash differs from the path is 422 hash_mismatch, stores nothing and holds no quota", async function () {
    const before = await api.files();
    const pendingBefore = await api.ledger.pendingBytesOf(patient.address);
    const bytes = shareOf(patient.address);
    const claimed = hashOf(shareOf(patient.address));
    const response = await fetch(`${base}/blobs/${claimed}`, { method: "PUT", headers: await signedPutHeaders(patient, DOMAIN, claimed, "result-share"), body: bytes as Uint8Array<ArrayBuffer> });
    const body = await errorOf(response, 422, "hash_mismatch");
    expect(body.message).to.include(hashOf(bytes));
    expect(await head(claimed)).to.equal(404);
    expect(await head(hashOf(bytes))).to.equal(404);
    expect(await api.files()).to.deep.equal(before);
    expect(await api.ledger.pendingBytesOf(patient.address)).to.equal(pendingBefore);
  });

  it("a malformed hash in the path is 400 invalid_hash for PUT, GET, HEAD and DELETE", async function () {
    const bytes = shareOf(patient.address);
    for (const path of ["abc", hashOf(bytes).slice(2), `0x${"g".repeat(64)}`, `${hashOf(bytes)}00`, "0x..%2F..%2Fetc"]) {
      const headers = await signedPutHeaders(patient, DOMAIN, `0x${"0".repeat(64)}`, "result-share");
      await errorOf(await fetch(`${base}/blobs/${path}`, { method: "PUT", headers, body: bytes as Uint8Array<ArrayBuffer> }), 400, "invalid_hash");
      await errorOf(await fetch(`${base}/blobs/${path}`), 400, "invalid_hash");
      await errorOf(await fetch(`${base}/blobs/${path}`, { method: "DELETE" }), 400, "invalid_hash");
      expect((await fetch(`${base}/blobs/${path}`, { method: "HEAD" })).status).to.equal(400);
    }
  });

  it("limits each purpose to the largest blob of its kind: 413 too_large past it, declared or not; exactly at it is fine", async function () {
    // A declared length past the limit is refused before the body is read.
    const oversizedShare = new Uint8Array(MAX_SHARE_BYTES + 1);
    const body = await errorOf(await put(oversizedShare, "result-share"), 413, "too_large");
    expect(body.message).to.include(String(MAX_SHARE_BYTES));
    expect(await head(hashOf(oversizedShare))).to.equal(404);
    // A result may not be a key bundle's size, whoever sends it.
    const bigResult = new Uint8Array(maxUploadBytes("result") + 1);
    await errorOf(await put(bigResult, "result", operator), 413, "too_large");
    const manifest = new Uint8Array(MAX_BATCH_MANIFEST_BYTES + 1);
    await errorOf(await put(manifest, "batch-manifest"), 413, "too_large");
    // The largest manifest there can be is accepted.
    const records = Array.from({ length: MAX_MANIFEST_RECORDS }, (_, i) => hashOf(new Uint8Array([i & 0xff, i >> 8, 7])));
    const largest = manifestOf(patient.address, records);
    expect(largest.length).to.equal(MAX_BATCH_MANIFEST_BYTES);
    expect((await put(largest, "batch-manifest")).status).to.equal(201);
  });

  it("a wrong content type is 415 and an empty body is 400", async function () {
    const bytes = shareOf(patient.address);
    const hash = hashOf(bytes);
    for (const type of ["application/json", "text/plain"]) {
      const headers = { ...(await signedPutHeaders(patient, DOMAIN, hash, "result-share")), "content-type": type };
      await errorOf(await fetch(`${base}/blobs/${hash}`, { method: "PUT", headers, body: bytes as Uint8Array<ArrayBuffer> }), 415, "unsupported_media_type");
    }
    expect(await head(hash)).to.equal(404);
    await errorOf(await put(new Uint8Array(0), "result-share"), 400, "empty_body");
  });

  describe("content checked against the purpose before anything is stored (422, with the validator's code)", function () {
    /** Refused with `code`, and the store is as it was (a blob stored before under its right purpose stays so). */
    async function refused(bytes: Uint8Array, purpose: UploadPurpose, code: string, signer: Signer = patient): Promise<string> {
      const hash = hashOf(bytes);
      const before = [await head(hash), (await api.ledger.status(hash)).entry];
      const body = await errorOf(await put(bytes, purpose, signer), 422, code);
      expect([await head(hash), (await api.ledger.status(hash)).entry], `${purpose} ${code}`).to.deep.equal(before);
      return body.message;
    }

    it("refuses a model file uploaded as a record, a key bundle or a share, and garbage as a model", async function () {
      const model = await modelBytes();
      await refused(model, "record", "not_an_envelope");
      await refused(model, "key-bundle", "not_an_envelope");
      await refused(model.subarray(0, 2_000), "result-share", "not_an_envelope");
      // The model file is stored as a model (an earlier test): refusing it as a record left it one.
      expect((await api.ledger.status(hashOf(model))).entry?.purpose).to.equal("model");
      await refused(new TextEncoder().encode('{"not":"a model"}'), "model", "invalid_model", hospital);
      await refused(keyBundleOf(patient.address, 320), "model", "wrong_kind", hospital);
    });

    it("refuses one kind of container uploaded as another", async function () {
      const record = recordOf(patient.address, hashOf(patientBundle), 256);
      await refused(record, "key-bundle", "wrong_kind");
      await refused(record, "result-share", "wrong_kind");
      await refused(record, "result", "wrong_kind", operator);
      await refused(keyBundleOf(patient.address, 512), "record", "wrong_kind");
    });

    it("refuses a key bundle, record, share or manifest that names another patient than its signer: owner_mismatch", async function () {
      registered.set(stranger.address.toLowerCase(), hashOf(keyBundleOf(stranger.address)));
      try {
        await refused(keyBundleOf(patient.address, 700), "key-bundle", "owner_mismatch", stranger);
        await refused(recordOf(patient.address, hashOf(patientBundle)), "record", "owner_mismatch", stranger);
        await refused(shareOf(patient.address), "result-share", "owner_mismatch", stranger);
        const message = await refused(manifestOf(patient.address, [hashOf(resultBlob())]), "batch-manifest", "owner_mismatch", stranger);
        expect(message).to.include(patient.address.toLowerCase());
      } finally {
        registered.delete(stranger.address.toLowerCase());
      }
    });

    it("takes a result share from the patient it names, and only a well-formed one", async function () {
      const share = shareOf(patient.address);
      const response = await put(share, "result-share");
      expect(response.status).to.equal(201);
      expect(await response.json()).to.include({ purpose: "result-share", uploader: patient.address });
      const tampered = share.slice();
      tampered[12]! ^= 0x01; // inside the canonical header: it no longer is its own canonical form, or no JSON
      expect((await put(tampered, "result-share")).status).to.equal(422);
      expect(await head(hashOf(tampered))).to.equal(404);
    });

    it("checks a batch manifest: canonical JSON, records ascending once each, the root they hash to", async function () {
      const records = [hashOf(resultBlob()), hashOf(resultBlob()), hashOf(resultBlob())];
      const good = manifestOf(patient.address, records);
      expect((await put(good, "batch-manifest")).status).to.equal(201);
      const manifest = JSON.parse(new TextDecoder().decode(good)) as { format: string; patient: string; root: string; records: string[] };
      expect(manifest.format).to.equal(BATCH_MANIFEST_FORMAT);
      const encode = (value: unknown) => new TextEncoder().encode(canonicalJson(value));
      await refused(encode({ ...manifest, root: hashOf(resultBlob()) }), "batch-manifest", "root_mismatch");
      await refused(encode({ ...manifest, records: [...manifest.records].reverse() }), "batch-manifest", "bad_manifest");
      await refused(encode({ ...manifest, records: [manifest.records[0], ...manifest.records] }), "batch-manifest", "bad_manifest");
      await refused(encode({ ...manifest, extra: 1 }), "batch-manifest", "bad_manifest");
      await refused(new TextEncoder().encode(JSON.stringify(manifest)), "batch-manifest", "non_canonical_manifest");
      await refused(keyBundleOf(patient.address, 640), "batch-manifest", "bad_manifest");
    });

    it("takes a parseable model from a hospital and a well-formed result from an operator", async function () {
      const result = resultBlob();
      expect((await put(result, "result", operator)).status).to.equal(201);
      const model = await modelBytes();
      expect([200, 201]).to.include((await put(model, "model", hospital)).status);
    });
  });

  describe("records and manifests only from registered patients, under their current key bundle", function () {
    it("refuses a record or manifest from an unregistered signer with 403 not_registered before reading its body", async function () {
      const unregistered = Wallet.createRandom();
      const record = recordOf(unregistered.address, hashOf(keyBundleOf(unregistered.address)));
      const body = await errorOf(await put(record, "record", unregistered), 403, "not_registered");
      expect(body.message).to.include(unregistered.address);
      await errorOf(await put(manifestOf(unregistered.address, [hashOf(record)]), "batch-manifest", unregistered), 403, "not_registered");
      expect(await head(hashOf(record))).to.equal(404);
      expect(await api.ledger.pendingBytesOf(unregistered.address)).to.equal(0);
      // Key bundles are uploaded before registering: anyone may.
      expect((await put(keyBundleOf(unregistered.address, 900), "key-bundle", unregistered)).status).to.equal(201);
    });

    it("refuses a record under another key bundle than the patient's current one: 422 key_bundle_not_current", async function () {
      const old = hashOf(keyBundleOf(patient.address, 333));
      const record = recordOf(patient.address, old);
      const body = await errorOf(await put(record, "record"), 422, "key_bundle_not_current");
      expect(body.message).to.include(hashOf(patientBundle));
      expect(await head(hashOf(record))).to.equal(404);
    });

    it("asks the chain again before refusing, so a record under a bundle registered a moment ago is taken", async function () {
      const rotated = keyBundleOf(patient.address, 444);
      const previous = registered.get(patient.address.toLowerCase())!;
      try {
        registered.set(patient.address.toLowerCase(), hashOf(rotated));
        bundleLookups.length = 0;
        const record = recordOf(patient.address, hashOf(rotated));
        expect((await put(record, "record")).status).to.equal(201);
        expect(bundleLookups.filter((who) => who === patient.address.toLowerCase()).length).to.be.at.least(1);
      } finally {
        registered.set(patient.address.toLowerCase(), previous);
      }
    });

    it("answers 503 chain_unavailable when the key bundle cannot be read", async function () {
      const down = await startBlobApi({ redis, uploads: { ...uploads, currentKeyBundle: async () => Promise.reject(new Error("rpc down: http://rpc/?key=secret")) } });
      try {
        const body = await errorOf(await signedPut(down.url, patient, DOMAIN, recordOf(patient.address, hashOf(patientBundle)), "record"), 503, "chain_unavailable");
        expect(body.message).to.not.include("secret");
      } finally {
        await down.close();
      }
    });
  });

  it("asks the role oracle for model and result uploads only: 403 forbidden without the role, 503 when it cannot answer", async function () {
    const asked: string[] = [];
    let down = false;
    const other = await startBlobApi({
      redis,
      uploads: {
        ...uploads,
        async hasRole(role, account) {
          asked.push(`${role}:${account}`);
          if (down) throw new Error("connect ECONNREFUSED http://rpc.internal:8545/?key=secret");
          return roles.has(`${role}:${account}`);
        },
      },
    });
    try {
      expect((await signedPut(other.url, patient, DOMAIN, keyBundleOf(patient.address, 555), "key-bundle")).status).to.equal(201);
      expect((await signedPut(other.url, patient, DOMAIN, shareOf(patient.address), "result-share")).status).to.equal(201);
      expect(asked).to.deep.equal([]);
      for (const [purpose, role, bytes] of [["model", "HOSPITAL_ROLE", await modelBytes()], ["result", "COPROCESSOR_ROLE", resultBlob()]] as const) {
        const body = await errorOf(await signedPut(other.url, patient, DOMAIN, bytes, purpose), 403, "forbidden");
        expect(body.message).to.include(role);
      }
      expect(asked).to.deep.equal([`HOSPITAL_ROLE:${patient.address}`, `COPROCESSOR_ROLE:${patient.address}`]);
      down = true;
      const body = await errorOf(await signedPut(other.url, hospital, DOMAIN, await modelBytes(), "model"), 503, "chain_unavailable");
      expect(body.message).to.not.include("secret");
    } finally {
      await other.close();
    }
  });

  it("sends helmet's security headers on every answer, errors included", async function () {
    for (const response of [await fetch(`${base}/healthz`), await fetch(`${base}/blobs/${hashOf(resultBlob())}`), await fetch(`${base}/nowhere`)]) {
      expect(response.headers.get("content-security-policy")).to.include("default-src 'self'");
      expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(response.headers.get("strict-transport-security")).to.match(/max-age=\d+/);
      expect(response.headers.get("x-frame-options")).to.equal("SAMEORIGIN");
      expect(response.headers.get("referrer-policy")).to.equal("no-referrer");
      expect(response.headers.get("cross-origin-opener-policy")).to.equal("same-origin");
      expect(response.headers.get("x-powered-by")).to.equal(null);
    }
  });

  it("rate-limits each address: 429 rate_limited JSON after the limit, /healthz exempt", async function () {
    const limited = await startBlobApi({ redis, uploads, api: { rateLimit: { windowMs: 60_000, limit: 3 } } });
    try {
      const missing = hashOf(resultBlob());
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${limited.url}/blobs/${missing}`);
        expect(response.status, `request ${i + 1}`).to.equal(404);
        expect(response.headers.get("ratelimit-policy")).to.match(/^3;w=60/);
      }
      const response = await fetch(`${limited.url}/blobs/${missing}`);
      const body = await errorOf(response, 429, "rate_limited");
      expect(body.message).to.include("3 requests");
      expect(Number(response.headers.get("retry-after"))).to.be.within(1, 60);
      // Uploads and deletions too, before any signature check.
      await errorOf(await fetch(`${limited.url}/blobs/${missing}`, { method: "PUT" }), 429, "rate_limited");
      await errorOf(await fetch(`${limited.url}/blobs/${missing}`, { method: "DELETE" }), 429, "rate_limited");
      expect((await fetch(`${limited.url}/healthz`)).status).to.equal(200);
      // Another app keeps its own count.
      expect((await fetch(`${base}/blobs/${missing}`)).status).to.equal(404);
    } finally {
      await limited.close();
    }
  });

  it("maps each on-chain job status to its answer (stand-in reader)", async function () {
    const id = (n: number) => hashOf(new Uint8Array([n]));
    const resultHash = hashOf(resultBlob());
    const zero = `0x${"0".repeat(64)}` as Hash;
    const jobs = new Map([
      [id(1), { status: 1 as const, deadline: 1_900_000_000, resultHash: zero, failureReason: 0 }],
      [id(2), { status: 2 as const, deadline: 1, resultHash, failureReason: 0 }],
      [id(3), { status: 3 as const, deadline: 1, resultHash: zero, failureReason: 7 }],
      [id(4), { status: 4 as const, deadline: 1, resultHash: zero, failureReason: 0 }],
    ]);
    const withJobs = await startBlobApi({
      redis,
      uploads,
      api: {
        jobs: async (jobId) => {
          if (jobId === id(9)) throw new Error("rpc down");
          return jobs.get(jobId);
        },
        jobRetryAfterSeconds: 7,
        publicUrl: "https://blobs.example/",
      },
    });
    try {
      const url = withJobs.url;
      const pending = await fetch(`${url}/jobs/${id(1)}`);
      expect(pending.status).to.equal(202);
      expect(pending.headers.get("retry-after")).to.equal("7");
      expect(await pending.json()).to.deep.equal({ jobId: id(1), status: "Requested", deadline: 1_900_000_000 });
      const done = await fetch(`${url}/jobs/${id(2).toUpperCase().replace("0X", "0x")}`);
      expect(await done.json()).to.deep.equal({ jobId: id(2), status: "Finalized", resultHash, resultUrl: `https://blobs.example/blobs/${resultHash}` });
      expect(await (await fetch(`${url}/jobs/${id(3)}`)).json()).to.deep.equal({ jobId: id(3), status: "Failed", reason: 7, reasonName: "MalformedRecord" });
      expect(await (await fetch(`${url}/jobs/${id(4)}`)).json()).to.deep.equal({ jobId: id(4), status: "Expired" });
      await errorOf(await fetch(`${url}/jobs/${id(5)}`), 404, "unknown_job");
      await errorOf(await fetch(`${url}/jobs/42`), 400, "invalid_job_id");
      await errorOf(await fetch(`${url}/jobs/${id(9)}`), 503, "chain_unavailable");
      // Without a reader the route does not exist.
      await errorOf(await fetch(`${base}/jobs/${id(1)}`), 404, "not_found");
    } finally {
      await withJobs.close();
    }
  });

  it("answers an unknown route and a malformed path with JSON", async function () {
    const body = await errorOf(await fetch(`${base}/nothing/here`), 404, "not_found");
    expect(body.message).to.include("/nothing/here");
    await errorOf(await fetch(`${base}/blobs/${hashOf(resultBlob())}`, { method: "POST" }), 404, "not_found");
    await errorOf(await fetch(`${base}/blobs`), 404, "not_found");
    await errorOf(await fetch(`${base}/blobs/%E0%A4%A`), 400, "bad_request");
  });

  describe("BlobClient", function () {
    const auth = (purpose: UploadPurpose): UploadAuth => ({ signer: patient, purpose, domain: DOMAIN });

    it("put returns the keccak256 of the bytes and get returns them; a second put is accepted", async function () {
      const client = new BlobClient(`${base}/`);
      const share = shareOf(patient.address);
      const hash = await client.put(share, auth("result-share"));
      expect(hash).to.equal(hashOf(share));
      expect(await client.put(share, auth("result-share"))).to.equal(hash);
      const got = await client.get(hash);
      expect(Buffer.compare(Buffer.from(got!), Buffer.from(share))).to.equal(0);
      expect(await client.get(hashOf(resultBlob()))).to.equal(undefined);
    });

    it("raises BlobStoreError with the status and code of an error response", async function () {
      const client = new BlobClient(base);
      const tooBig = new Uint8Array(MAX_SHARE_BYTES + 10);
      const putErr = await rejectionOf(client.put(tooBig, auth("result-share")));
      expect(putErr).to.be.instanceOf(BlobStoreError);
      expect((putErr as BlobStoreError).status).to.equal(413);
      expect((putErr as BlobStoreError).code).to.equal("too_large");
      expect(putErr.message).to.include(hashOf(tooBig));
      const unsigned = await rejectionOf(client.put(shareOf(patient.address)));
      expect((unsigned as BlobStoreError).status).to.equal(401);
      expect((unsigned as BlobStoreError).code).to.equal("signature_required");
      const getErr = await rejectionOf(client.get("0xnot-a-hash" as Hash));
      expect((getErr as BlobStoreError).status).to.equal(400);
      expect((getErr as BlobStoreError).code).to.equal("invalid_hash");
    });

    it("reports a store failure as 500 internal without leaking details", async function () {
      const { FileBlobStore } = await import("../../coprocessor/blobstore/file-blob-store.js");
      const { writeFile } = await import("node:fs/promises");
      // A store whose directory is a regular file cannot write anything.
      let blocker = "";
      const broken = await startBlobApi({
        redis,
        uploads,
        store: (directory) => {
          blocker = `${directory}-file`;
          return new FileBlobStore(blocker);
        },
      });
      try {
        await writeFile(blocker, "x");
        const err = await rejectionOf(new BlobClient(broken.url).put(shareOf(patient.address), auth("result-share")));
        expect((err as BlobStoreError).status).to.equal(500);
        expect((err as BlobStoreError).code).to.equal("internal");
        expect(err.message).to.not.include(blocker);
      } finally {
        await broken.close();
      }
    });
  });
});
