import { expect } from "chai";
import { keccak256, Wallet } from "ethers";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiApp, type ApiOptions } from "../../coprocessor/api/app.js";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { FileBlobStore } from "../../coprocessor/blobstore/file-blob-store.js";
import { BlobClient, BlobStoreError, type UploadAuth } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { signedUploadHeaders, uploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";
import { rejectionOf } from "../helpers/rejection.js";

const MAX_BLOB_BYTES = 1024 * 64;

/**
 * These tests run the API in-process with a role table standing in for the contract; the signature policy against
 * a deployed contract is in api-chain.test.ts.
 */
const uploader = Wallet.createRandom();
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const UPLOADS: UploadPolicyOptions = { domain: DOMAIN, hasRole: async () => false };
const AUTH: UploadAuth = { signer: uploader, purpose: "record", domain: DOMAIN };

function apiApp(store: FileBlobStore, extra: Partial<ApiOptions> = {}) {
  return createApiApp({ store, maxBlobBytes: MAX_BLOB_BYTES, uploads: UPLOADS, ...extra });
}

interface ErrorBody {
  error: string;
  message: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function close(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Bytes that differ per call, so tests do not depend on each other's uploads. */
let counter = 0;
function blob(length = 1000): Uint8Array {
  counter++;
  return Uint8Array.from({ length }, (_, i) => (i * 31 + counter * 17 + (i >> 8)) & 0xff);
}

/** Independent hash: ethers' keccak256, not the project's helper. */
function hashOf(bytes: Uint8Array): Hash {
  return keccak256(bytes) as Hash;
}

async function expectJsonError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).to.equal(status);
  expect(response.headers.get("content-type") ?? "").to.match(/^application\/json/);
  const body = (await response.json()) as ErrorBody;
  expect(body.error).to.equal(code);
  expect(body.message).to.be.a("string").and.not.equal("");
  expect(Object.keys(body).sort()).to.deep.equal(["error", "message"]);
  return body;
}

describe("coprocessor blob API over HTTP", function () {
  let directory: string;
  let server: Server;
  let base: string;
  let client: BlobClient;

  before(async function () {
    directory = await mkdtemp(join(tmpdir(), "pmhe-blob-api-"));
    server = createServer(apiApp(new FileBlobStore(join(directory, "blobs"))));
    base = await listen(server);
    client = new BlobClient(`${base}/`);
  });

  after(async function () {
    await close(server);
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** A PUT signed by `uploader` for `hash` (a malformed hash is signed as the zero hash: it never gets that far). */
  async function put(hash: string, body: Uint8Array, contentType = "application/octet-stream", purpose: UploadPurpose = "record"): Promise<Response> {
    const signedFor = (/^0x[0-9a-fA-F]{64}$/.test(hash) ? hash.toLowerCase() : `0x${"0".repeat(64)}`) as Hash;
    return fetch(`${base}/blobs/${hash}`, {
      method: "PUT",
      headers: { "content-type": contentType, ...(await signedUploadHeaders(uploader, DOMAIN, signedFor, purpose)) },
      body: body as Uint8Array<ArrayBuffer>,
    });
  }

  async function storedFiles(): Promise<string[]> {
    try {
      return await readdir(join(directory, "blobs"));
    } catch {
      return [];
    }
  }

  it("answers /healthz", async function () {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ status: "ok" });
    expect(response.headers.get("x-powered-by")).to.equal(null);
  });

  it("PUT stores under the hash: 201 the first time, 200 for the same bytes again; the file is named by the hash without 0x", async function () {
    const bytes = blob(5000);
    const hash = hashOf(bytes);
    const first = await put(hash, bytes);
    expect(first.status).to.equal(201);
    expect(await first.json()).to.deep.equal({ hash, bytes: 5000, created: true, uploader: uploader.address, purpose: "record" });
    const second = await put(hash, bytes, "application/octet-stream", "key-bundle");
    expect(second.status).to.equal(200);
    expect(await second.json()).to.deep.equal({ hash, bytes: 5000, created: false, uploader: uploader.address, purpose: "key-bundle" });

    const onDisk = await readFile(join(directory, "blobs", hash.slice(2)));
    expect(Buffer.compare(onDisk, Buffer.from(bytes))).to.equal(0);
    const files = await storedFiles();
    expect(files).to.include(hash.slice(2));
    expect(files.filter((f) => f.includes("partial"))).to.deep.equal([]);
  });

  it("GET returns identical bytes as application/octet-stream; HEAD answers 200 or 404", async function () {
    const bytes = blob(20_000);
    bytes[0] = 0;
    bytes[1] = 0x7b; // "{": must not be treated as JSON
    const hash = hashOf(bytes);
    expect((await put(hash, bytes)).status).to.equal(201);

    const response = await fetch(`${base}/blobs/${hash}`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^application\/octet-stream/);
    const got = new Uint8Array(await response.arrayBuffer());
    expect(Buffer.compare(Buffer.from(got), Buffer.from(bytes))).to.equal(0);

    // The address is case-insensitive in its hex digits.
    const upper = `0x${hash.slice(2).toUpperCase()}`;
    expect((await fetch(`${base}/blobs/${upper}`)).status).to.equal(200);

    expect((await fetch(`${base}/blobs/${hash}`, { method: "HEAD" })).status).to.equal(200);
    const missing = hashOf(blob());
    expect((await fetch(`${base}/blobs/${missing}`, { method: "HEAD" })).status).to.equal(404);
  });

  it("GET of an unknown hash is 404 JSON not_found", async function () {
    const missing = hashOf(blob());
    const body = await expectJsonError(await fetch(`${base}/blobs/${missing}`), 404, "not_found");
    expect(body.message).to.include(missing);
  });

  it("PUT of a body whose hash differs from the path is 422 hash_mismatch and stores nothing", async function () {
    const before = await storedFiles();
    const bytes = blob();
    const claimed = hashOf(blob());
    const body = await expectJsonError(await put(claimed, bytes), 422, "hash_mismatch");
    expect(body.message).to.include(hashOf(bytes));
    expect((await fetch(`${base}/blobs/${claimed}`, { method: "HEAD" })).status).to.equal(404);
    expect((await fetch(`${base}/blobs/${hashOf(bytes)}`, { method: "HEAD" })).status).to.equal(404);
    expect(await storedFiles()).to.deep.equal(before);
  });

  it("a malformed hash in the path is 400 invalid_hash for PUT, GET and HEAD", async function () {
    const bytes = blob();
    const bad = ["abc", hashOf(bytes).slice(2), `0x${"g".repeat(64)}`, `${hashOf(bytes)}00`, "0x..%2F..%2Fetc"];
    for (const path of bad) {
      await expectJsonError(await put(path, bytes), 400, "invalid_hash");
      await expectJsonError(await fetch(`${base}/blobs/${path}`), 400, "invalid_hash");
      expect((await fetch(`${base}/blobs/${path}`, { method: "HEAD" })).status).to.equal(400);
    }
  });

  it("a body over the limit is 413 payload_too_large and is not stored", async function () {
    const bytes = blob(MAX_BLOB_BYTES + 1);
    const hash = hashOf(bytes);
    await expectJsonError(await put(hash, bytes), 413, "payload_too_large");
    expect((await fetch(`${base}/blobs/${hash}`, { method: "HEAD" })).status).to.equal(404);
    // Exactly at the limit is fine.
    const atLimit = blob(MAX_BLOB_BYTES);
    expect((await put(hashOf(atLimit), atLimit)).status).to.equal(201);
  });

  it("a wrong content type is 415 and an empty body is 400", async function () {
    const bytes = blob();
    const hash = hashOf(bytes);
    await expectJsonError(await put(hash, bytes, "application/json"), 415, "unsupported_media_type");
    await expectJsonError(await put(hash, bytes, "text/plain"), 415, "unsupported_media_type");
    expect((await fetch(`${base}/blobs/${hash}`, { method: "HEAD" })).status).to.equal(404);

    const empty = new Uint8Array(0);
    await expectJsonError(await put(hashOf(empty), empty), 400, "empty_body");
  });

  it("an unknown route is 404 JSON", async function () {
    const body = await expectJsonError(await fetch(`${base}/nothing/here`), 404, "not_found");
    expect(body.message).to.include("/nothing/here");
    await expectJsonError(await fetch(`${base}/blobs/${hashOf(blob())}`, { method: "POST" }), 404, "not_found");
    await expectJsonError(await fetch(`${base}/blobs`), 404, "not_found");
  });

  describe("BlobClient", function () {
    it("put returns the keccak256 of the bytes and get returns them; a second put is accepted", async function () {
      const bytes = blob(3000);
      const hash = await client.put(bytes, AUTH);
      expect(hash).to.equal(hashOf(bytes));
      expect(await client.put(bytes, AUTH)).to.equal(hash);
      const got = await client.get(hash);
      expect(got).to.be.instanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(got!), Buffer.from(bytes))).to.equal(0);
    });

    it("get of a missing hash returns undefined", async function () {
      expect(await client.get(hashOf(blob()))).to.equal(undefined);
    });

    it("raises BlobStoreError with the status and code of an error response", async function () {
      const tooBig = blob(MAX_BLOB_BYTES + 10);
      const putErr = await rejectionOf(client.put(tooBig, AUTH));
      expect(putErr).to.be.instanceOf(BlobStoreError);
      expect((putErr as BlobStoreError).status).to.equal(413);
      expect((putErr as BlobStoreError).code).to.equal("payload_too_large");
      expect(putErr.message).to.include(hashOf(tooBig));

      const getErr = await rejectionOf(client.get("0xnot-a-hash" as Hash));
      expect(getErr).to.be.instanceOf(BlobStoreError);
      expect((getErr as BlobStoreError).status).to.equal(400);
      expect((getErr as BlobStoreError).code).to.equal("invalid_hash");
    });

    it("reports a store failure as 500 internal without leaking details", async function () {
      // A store whose directory is a regular file cannot write anything.
      const blocker = join(directory, "not-a-directory");
      await writeFile(blocker, "x");
      const broken = createServer(apiApp(new FileBlobStore(blocker)));
      try {
        const brokenClient = new BlobClient(await listen(broken));
        const err = await rejectionOf(brokenClient.put(blob(), AUTH));
        expect(err).to.be.instanceOf(BlobStoreError);
        expect((err as BlobStoreError).status).to.equal(500);
        expect((err as BlobStoreError).code).to.equal("internal");
        expect(err.message).to.not.include(blocker);
      } finally {
        await close(broken);
      }
    });

    it("falls back to the status line when an error response is not JSON", async function () {
      const plain = createServer((_req, res) => {
        res.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance");
      });
      try {
        const plainClient = new BlobClient(await listen(plain));
        const err = await rejectionOf(plainClient.get(hashOf(blob())));
        expect(err).to.be.instanceOf(BlobStoreError);
        expect((err as BlobStoreError).status).to.equal(503);
        expect((err as BlobStoreError).code).to.equal("http_error");
      } finally {
        await close(plain);
      }
    });
  });

  describe("hardening (in-process, stand-ins for the chain)", function () {
    /** Starts an extra app for one test; closed in afterEach. */
    const extra: Server[] = [];
    async function start(options: Partial<ApiOptions>): Promise<string> {
      const server = createServer(apiApp(new FileBlobStore(join(directory, "extra-blobs")), options));
      extra.push(server);
      return listen(server);
    }
    afterEach(async function () {
      await Promise.all(extra.splice(0).map(close));
    });

    it("refuses an unsigned upload with 401 signature_required before reading its body, even one over the size limit", async function () {
      for (const size of [100, MAX_BLOB_BYTES * 2]) {
        const bytes = blob(size);
        const response = await fetch(`${base}/blobs/${hashOf(bytes)}`, {
          method: "PUT",
          headers: { "content-type": "application/octet-stream" },
          body: bytes as Uint8Array<ArrayBuffer>,
        });
        const body = await expectJsonError(response, 401, "signature_required");
        expect(body.message).to.include("x-pmhe-signature");
        expect(response.headers.get("www-authenticate")).to.match(/^PMHE-EIP712/);
        expect((await fetch(`${base}/blobs/${hashOf(bytes)}`, { method: "HEAD" })).status).to.equal(404);
      }
      const err = await rejectionOf(client.put(blob()));
      expect(err).to.be.instanceOf(BlobStoreError);
      expect((err as BlobStoreError).status).to.equal(401);
      expect((err as BlobStoreError).code).to.equal("signature_required");
    });

    it("asks the role oracle for model and result uploads only: 403 forbidden without the role, 503 when it cannot answer", async function () {
      const asked: string[] = [];
      const roles = new Set<string>();
      let down = false;
      const url = await start({
        uploads: {
          domain: DOMAIN,
          async hasRole(role, account) {
            asked.push(`${role}:${account}`);
            if (down) throw new Error("connect ECONNREFUSED http://rpc.internal:8545/?key=secret");
            return roles.has(`${role}:${account}`);
          },
        },
      });
      const store = new BlobClient(url);
      for (const purpose of ["key-bundle", "record"] as const) {
        expect((await store.upload(blob(), { ...AUTH, purpose })).purpose).to.equal(purpose);
      }
      expect(asked).to.deep.equal([]);
      for (const [purpose, role] of [["model", "HOSPITAL_ROLE"], ["result", "COPROCESSOR_ROLE"]] as const) {
        const err = await rejectionOf(store.put(blob(), { ...AUTH, purpose }));
        expect((err as BlobStoreError).status, purpose).to.equal(403);
        expect((err as BlobStoreError).code).to.equal("forbidden");
        expect(err.message).to.include(role);
        roles.add(`${role}:${uploader.address}`);
        const receipt = await store.upload(blob(), { ...AUTH, purpose });
        expect(receipt).to.include({ uploader: uploader.address, purpose, created: true });
      }
      expect(asked).to.deep.equal([`HOSPITAL_ROLE:${uploader.address}`, `HOSPITAL_ROLE:${uploader.address}`, `COPROCESSOR_ROLE:${uploader.address}`, `COPROCESSOR_ROLE:${uploader.address}`]);
      down = true;
      const err = await rejectionOf(store.put(blob(), { ...AUTH, purpose: "model" }));
      expect((err as BlobStoreError).status).to.equal(503);
      expect((err as BlobStoreError).code).to.equal("chain_unavailable");
      expect(err.message).to.not.include("secret");
    });

    it("sends helmet's security headers on every answer, errors included", async function () {
      for (const response of [await fetch(`${base}/healthz`), await fetch(`${base}/blobs/${hashOf(blob())}`), await fetch(`${base}/nowhere`)]) {
        expect(response.headers.get("content-security-policy")).to.include("default-src 'self'");
        expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
        expect(response.headers.get("strict-transport-security")).to.match(/max-age=\d+/);
        expect(response.headers.get("x-frame-options")).to.equal("SAMEORIGIN");
        expect(response.headers.get("referrer-policy")).to.equal("no-referrer");
        expect(response.headers.get("cross-origin-opener-policy")).to.equal("same-origin");
        expect(response.headers.get("x-powered-by")).to.equal(null);
      }
    });

    it("rate-limits each address: 429 rate_limited JSON after the limit, probes exempt", async function () {
      const url = await start({ rateLimit: { windowMs: 60_000, limit: 3 } });
      const missing = hashOf(blob());
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${url}/blobs/${missing}`);
        expect(response.status, `request ${i + 1}`).to.equal(404);
        expect(response.headers.get("ratelimit-policy")).to.match(/^3;w=60/);
      }
      const limited = await fetch(`${url}/blobs/${missing}`);
      const body = await expectJsonError(limited, 429, "rate_limited");
      expect(body.message).to.include("3 requests");
      expect(Number(limited.headers.get("retry-after"))).to.be.within(1, 60);
      // Uploads too, before any signature check.
      await expectJsonError(await fetch(`${url}/blobs/${missing}`, { method: "PUT" }), 429, "rate_limited");
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      expect((await fetch(`${url}/readyz`)).status).to.equal(200);
      // Another app keeps its own count.
      expect((await fetch(`${base}/blobs/${missing}`)).status).to.equal(404);
    });

    it("/readyz answers 200 when every check answers and 503 naming the one that timed out or failed, without its error text", async function () {
      expect(await (await fetch(`${base}/readyz`)).json()).to.deep.equal({ status: "ready", checks: {} });
      const url = await start({
        readiness: {
          timeoutMs: 150,
          checks: {
            fine: async () => 1,
            stuck: () => new Promise(() => undefined),
            broken: async () => {
              throw Object.assign(new Error("request to https://rpc.example/v3/SECRETKEY failed"), { code: "ECONNREFUSED" });
            },
          },
        },
      });
      const response = await fetch(`${url}/readyz`);
      expect(response.status).to.equal(503);
      const text = await response.text();
      expect(text).to.not.include("SECRETKEY");
      const body = JSON.parse(text) as { status: string; failed: string[]; checks: Record<string, { ok: boolean; error?: string }> };
      expect(body.status).to.equal("not_ready");
      expect(body.failed).to.deep.equal(["stuck", "broken"]);
      expect(body.checks.fine!.ok).to.equal(true);
      expect(body.checks.stuck).to.include({ ok: false, error: "no answer within 150 ms" });
      expect(body.checks.broken).to.include({ ok: false, error: "ECONNREFUSED" });
    });

    it("maps each on-chain job status to its answer (stand-in reader)", async function () {
      const id = (n: number) => hashOf(new Uint8Array([n]));
      const resultHash = hashOf(blob());
      const jobs = new Map([
        [id(1), { status: 1 as const, deadline: 1_900_000_000, resultHash: `0x${"0".repeat(64)}` as Hash, failureReason: 0 }],
        [id(2), { status: 2 as const, deadline: 1, resultHash, failureReason: 0 }],
        [id(3), { status: 3 as const, deadline: 1, resultHash: `0x${"0".repeat(64)}` as Hash, failureReason: 7 }],
        [id(4), { status: 4 as const, deadline: 1, resultHash: `0x${"0".repeat(64)}` as Hash, failureReason: 0 }],
      ]);
      const url = await start({
        jobs: async (jobId) => {
          if (jobId === id(9)) throw new Error("rpc down");
          return jobs.get(jobId);
        },
        jobRetryAfterSeconds: 7,
        publicUrl: "https://blobs.example/",
      });
      const pending = await fetch(`${url}/jobs/${id(1)}`);
      expect(pending.status).to.equal(202);
      expect(pending.headers.get("retry-after")).to.equal("7");
      expect(await pending.json()).to.deep.equal({ jobId: id(1), status: "Requested", deadline: 1_900_000_000 });
      const done = await fetch(`${url}/jobs/${id(2).toUpperCase().replace("0X", "0x")}`);
      expect(done.status).to.equal(200);
      expect(await done.json()).to.deep.equal({ jobId: id(2), status: "Finalized", resultHash, resultUrl: `https://blobs.example/blobs/${resultHash}` });
      expect(await (await fetch(`${url}/jobs/${id(3)}`)).json()).to.deep.equal({ jobId: id(3), status: "Failed", reason: 7, reasonName: "MalformedRecord" });
      expect(await (await fetch(`${url}/jobs/${id(4)}`)).json()).to.deep.equal({ jobId: id(4), status: "Expired" });
      await expectJsonError(await fetch(`${url}/jobs/${id(5)}`), 404, "unknown_job");
      await expectJsonError(await fetch(`${url}/jobs/42`), 400, "invalid_job_id");
      await expectJsonError(await fetch(`${url}/jobs/${id(9)}`), 503, "chain_unavailable");
      // Without a reader the route does not exist.
      await expectJsonError(await fetch(`${base}/jobs/${id(1)}`), 404, "not_found");
    });

    it("has no dashboard without an admin token, and answers malformed paths with JSON", async function () {
      await expectJsonError(await fetch(`${base}/admin/queues`), 404, "not_found");
      await expectJsonError(await fetch(`${base}/blobs/%E0%A4%A`), 400, "bad_request");
    });
  });
});
