import { expect } from "chai";
import { keccak256 } from "ethers";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiApp } from "../../coprocessor/api/app.js";
import { FileBlobStore } from "../../coprocessor/blobstore/file-blob-store.js";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { rejectionOf } from "../helpers/rejection.js";

const MAX_BLOB_BYTES = 1024 * 64;

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
    server = createServer(createApiApp({ store: new FileBlobStore(join(directory, "blobs")), maxBlobBytes: MAX_BLOB_BYTES }));
    base = await listen(server);
    client = new BlobClient(`${base}/`);
  });

  after(async function () {
    await close(server);
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  function put(hash: string, body: Uint8Array, contentType = "application/octet-stream"): Promise<Response> {
    return fetch(`${base}/blobs/${hash}`, {
      method: "PUT",
      headers: { "content-type": contentType },
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
    expect(await first.json()).to.deep.equal({ hash, bytes: 5000, created: true });
    const second = await put(hash, bytes);
    expect(second.status).to.equal(200);
    expect(await second.json()).to.deep.equal({ hash, bytes: 5000, created: false });

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
      const hash = await client.put(bytes);
      expect(hash).to.equal(hashOf(bytes));
      expect(await client.put(bytes)).to.equal(hash);
      const got = await client.get(hash);
      expect(got).to.be.instanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(got!), Buffer.from(bytes))).to.equal(0);
    });

    it("get of a missing hash returns undefined", async function () {
      expect(await client.get(hashOf(blob()))).to.equal(undefined);
    });

    it("raises BlobStoreError with the status and code of an error response", async function () {
      const tooBig = blob(MAX_BLOB_BYTES + 10);
      const putErr = await rejectionOf(client.put(tooBig));
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
      const broken = createServer(createApiApp({ store: new FileBlobStore(blocker), maxBlobBytes: MAX_BLOB_BYTES }));
      try {
        const brokenClient = new BlobClient(await listen(broken));
        const err = await rejectionOf(brokenClient.put(blob()));
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
});
