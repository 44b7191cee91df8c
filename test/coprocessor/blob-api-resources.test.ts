import { expect } from "chai";
import { Wallet } from "ethers";
import { createWriteStream, type ReadStream } from "node:fs";
import { mkdir, rename, stat } from "node:fs/promises";
import { request, type ClientRequest, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { createKeccak } from "hash-wasm";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { FileBlobStore, type OpenedBlob } from "../../coprocessor/blobstore/file-blob-store.js";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { MAX_SHARE_BYTES } from "../../protocol/result-share.js";
import { uploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";
import { sleep } from "../helpers/wait.js";
import { blobApisOnRedis, errorOf, hashOf, keyBundleOf, shareOf, signedPut, signedPutHeaders, type BlobApiHarness, type HarnessOptions } from "./blob-fixtures.js";

/**
 * Bounds on what one client, or many, can make the server hold: memory (no body is inflated or buffered, no
 * download is buffered), transfers in flight, and sockets (header, request and idle deadlines). In-process API over a
 * real Redis ledger and a real HTTP server; clients are raw sockets where fetch would hide the behaviour.
 */
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const MiB = 1024 * 1024;

/** Polls until `probe` holds (a test deadline, not an assertion on time: mocha's timeout bounds it). */
async function eventually(probe: () => Promise<boolean> | boolean, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await probe()) return;
    await sleep(25);
  }
  throw new Error(`never happened: ${what}`);
}

/** Polls `sample` until it stops changing for `stable` consecutive reads: the server has done all it will. */
async function settled(sample: () => Promise<number> | number, stable = 8): Promise<number> {
  let last = await sample();
  let same = 0;
  while (same < stable) {
    await sleep(100);
    const now = await sample();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * Memory after a full garbage collection, so a measurement counts what is held, not garbage not yet collected
 * (`gc` exposed at run time: the test runner's flags are not ours to set).
 */
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const memory = async () => {
  // ArrayBuffer memory is returned by a background sweeper after the collection: give it time.
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage();
};

/** A store that remembers the streams it opened, so a test can see how far each download has read the file. */
class ObservedStore extends FileBlobStore {
  readonly streams: ReadStream[] = [];
  override async open(hash: Hash): Promise<OpenedBlob | undefined> {
    const opened = await super.open(hash);
    if (opened) this.streams.push(opened.stream);
    return opened;
  }
}

/** Writes a blob of `size` bytes (a repeated 1 MiB pattern) straight into the store, hashed as it goes: never in memory whole. */
async function writeLargeBlob(store: FileBlobStore, size: number): Promise<Hash> {
  await mkdir(store.directory, { recursive: true });
  const chunk = Buffer.alloc(MiB, 0);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
  const hasher = await createKeccak(256);
  hasher.init();
  const temporary = join(store.directory, ".large.partial");
  const out = createWriteStream(temporary);
  for (let written = 0; written < size; written += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
    hasher.update(piece);
    if (!out.write(piece)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const hash = `0x${hasher.digest("hex")}` as Hash;
  await rename(temporary, store.pathOf(hash));
  return hash;
}

interface StalledReader {
  socket: Socket;
  /** The status line and headers. */
  head: string;
  /** Body bytes that came with the headers. */
  firstBody: Buffer;
  received: () => number;
}

/** A raw GET that reads the status line and a first chunk, then stops reading: a slow (stalled) reader. */
async function stalledReader(url: string, hash: Hash, localAddress?: string): Promise<StalledReader> {
  const { hostname, port } = new URL(url);
  const socket = connect({ port: Number(port), host: hostname, ...(localAddress ? { localAddress } : {}) });
  let received = 0;
  let first: Buffer | undefined;
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (!first) {
        first = chunk;
        socket.pause();
        resolve();
      }
    });
    socket.write(`GET /blobs/${hash} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  });
  socket.on("error", () => undefined);
  const end = first!.indexOf("\r\n\r\n") + 4;
  return { socket, head: first!.subarray(0, end).toString("latin1"), firstBody: first!.subarray(end), received: () => received };
}

/** A raw upload with a body sent only as the test says: returns the request and a promise of the answer. */
function manualUpload(url: string, hash: Hash, headers: Record<string, string>): { req: ClientRequest; answer: Promise<{ status: number; body: string; closed: Promise<void> }> } {
  const req = request(`${url}/blobs/${hash}`, { method: "PUT", headers });
  const answer = new Promise<{ status: number; body: string; closed: Promise<void> }>((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (text: string) => (body += text));
      const closed = new Promise<void>((done) => req.socket?.once("close", () => done()) ?? done());
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body, closed }));
    });
  });
  answer.catch(() => undefined);
  return { req, answer };
}

describe("blob API resource bounds", function () {
  const apis = blobApisOnRedis();
  const uploads: UploadPolicyOptions = { domain: DOMAIN, hasRole: async () => false, currentKeyBundle: async () => undefined };

  function start(options: Partial<Omit<HarnessOptions, "redis">> = {}): Promise<BlobApiHarness> {
    return apis.start({ uploads, ...options });
  }

  describe("compressed bodies", function () {
    it("refuses every Content-Encoding but identity with 415 compressed_body_refused, before reading the body", async function () {
      const api = await start();
      const signer = Wallet.createRandom();
      const bundle = keyBundleOf(signer.address, 600);
      const hash = hashOf(bundle);
      const signed = await signedPutHeaders(signer, DOMAIN, hash, "key-bundle");
      const encodings: Array<[string, Uint8Array]> = [
        ["gzip", gzipSync(bundle)],
        ["deflate", deflateSync(bundle)],
        ["br", brotliCompressSync(bundle)],
        ["GZIP", gzipSync(bundle)],
        ["identity, gzip", gzipSync(bundle)],
        ["x-custom", bundle],
      ];
      for (const [encoding, body] of encodings) {
        const response = await fetch(`${api.url}/blobs/${hash}`, { method: "PUT", headers: { ...signed, "content-encoding": encoding }, body: body as Uint8Array<ArrayBuffer> });
        const refused = await errorOf(response, 415, "compressed_body_refused");
        expect(refused.message, encoding).to.include(encoding);
      }
      expect((await fetch(`${api.url}/blobs/${hash}`, { method: "HEAD" })).status).to.equal(404);
      expect(await api.ledger.pendingBytes()).to.equal(0);
      // identity is no encoding at all.
      const plain = await fetch(`${api.url}/blobs/${hash}`, { method: "PUT", headers: { ...signed, "content-encoding": "identity" }, body: bundle as Uint8Array<ArrayBuffer> });
      expect(plain.status).to.equal(201);
    });

    it("keeps memory flat under 80 gzip bombs of 16 KiB that would inflate to 16 MiB each (1.25 GiB in all)", async function () {
      const api = await start();
      const bomb = gzipSync(Buffer.alloc(16 * MiB, 0), { level: 9 });
      expect(bomb.length).to.be.below(20 * 1024);
      const signer = Wallet.createRandom();
      const hash = hashOf(bomb);
      const headers = { ...(await signedPutHeaders(signer, DOMAIN, hash, "key-bundle")), "content-encoding": "gzip" };
      const before = await memory();
      const answers = await Promise.all(Array.from({ length: 80 }, () => fetch(`${api.url}/blobs/${hash}`, { method: "PUT", headers, body: bomb })));
      const after = await memory();
      expect(answers.map((r) => r.status)).to.deep.equal(Array(80).fill(415));
      const growth = after.arrayBuffers - before.arrayBuffers;
      console.log(`      80 gzip bombs: ArrayBuffer growth ${(growth / MiB).toFixed(1)} MiB, RSS growth ${((after.rss - before.rss) / MiB).toFixed(1)} MiB`);
      // One inflated body alone would be 16 MiB of ArrayBuffer memory.
      expect(growth, `ArrayBuffer growth ${growth} bytes`).to.be.below(8 * MiB);
      expect(await api.ledger.pendingBytes()).to.equal(0);
    });
  });

  describe("streamed uploads", function () {
    it("stops reading at the purpose's limit: 413 too_large, connection closed, temporary file removed, reservation released", async function () {
      const api = await start();
      const signer = Wallet.createRandom();
      const claimed = hashOf(shareOf(signer.address));
      // Chunked: no length declared, so only counting the bytes can stop it.
      const { req, answer } = manualUpload(api.url, claimed, await signedPutHeaders(signer, DOMAIN, claimed, "result-share"));
      const chunk = Buffer.alloc(256 * 1024, 1);
      let sent = 0;
      let answered = false;
      void answer.then(() => (answered = true), () => (answered = true));
      req.on("error", () => undefined);
      while (!answered && !req.destroyed && sent < 64 * MiB) {
        sent += chunk.length;
        if (!req.write(chunk)) await Promise.race([new Promise((resolve) => req.once("drain", resolve)), answer.catch(() => undefined), sleep(200)]);
      }
      const { status, body, closed } = await answer;
      expect(status).to.equal(413);
      expect(JSON.parse(body)).to.include({ error: "too_large" });
      expect(JSON.parse(body).message).to.include(String(MAX_SHARE_BYTES));
      await closed; // the server closed the connection: nothing more is read
      req.destroy();
      // The client could only push what the kernel's socket buffers took after the server stopped reading.
      expect(sent, `${sent} bytes sent before the answer`).to.be.below(32 * MiB);
      await eventually(async () => (await api.files()).length === 0, "temporary file removed");
      await eventually(async () => (await api.ledger.pendingBytes()) === 0, "reservation released");
    });

    it("holds uploads in flight on disk, not in memory: 8 uploads of 12 MiB stalled at 10 MiB each", async function () {
      const api = await start({ api: { maxConcurrentUploads: 8 } });
      const chunk = Buffer.alloc(MiB, 3);
      const uploadsInFlight: ClientRequest[] = [];
      const before = await memory();
      for (let i = 0; i < 8; i++) {
        const signer = Wallet.createRandom();
        const claimed = hashOf(keyBundleOf(signer.address, 100 + i));
        const headers = { ...(await signedPutHeaders(signer, DOMAIN, claimed, "key-bundle")), "content-length": String(12 * MiB) };
        const { req } = manualUpload(api.url, claimed, headers);
        req.on("error", () => undefined);
        for (let m = 0; m < 10; m++) req.write(chunk);
        uploadsInFlight.push(req);
      }
      const partialBytes = async () => {
        let total = 0;
        for (const name of (await api.files()).filter((f) => f.endsWith(".partial"))) total += (await stat(join(api.directory, name)).catch(() => ({ size: 0 }))).size;
        return total;
      };
      await eventually(async () => (await partialBytes()) === 8 * 10 * MiB, "80 MiB written to temporary files", 2_000);
      const during = await memory();
      const growth = during.arrayBuffers - before.arrayBuffers;
      console.log(`      8 uploads stalled at 10 MiB: ArrayBuffer growth ${(growth / MiB).toFixed(1)} MiB, RSS growth ${((during.rss - before.rss) / MiB).toFixed(1)} MiB`);
      expect(growth, `ArrayBuffer growth ${growth} bytes with 80 MiB received`).to.be.below(16 * MiB);
      expect(await api.ledger.pendingBytes()).to.equal(8 * 12 * MiB); // reserved up front from Content-Length
      for (const req of uploadsInFlight) req.destroy();
      await eventually(async () => (await api.files()).length === 0, "temporary files of aborted uploads removed");
      await eventually(async () => (await api.ledger.pendingBytes()) === 0, "reservations of aborted uploads released");
    });
  });

  describe("concurrency caps", function () {
    it("answers 503 busy with Retry-After past PMHE_MAX_CONCURRENT_UPLOADS uploads in flight, and takes uploads again once they end", async function () {
      const api = await start({ api: { maxConcurrentUploads: 2 } });
      const signers = [0, 1, 2].map(() => Wallet.createRandom());
      const bundles = signers.map((s) => keyBundleOf(s.address, 2_048));
      const held = await Promise.all(
        [0, 1].map(async (i) => {
          const hash = hashOf(bundles[i]!);
          const upload = manualUpload(api.url, hash, { ...(await signedPutHeaders(signers[i]!, DOMAIN, hash, "key-bundle")), "content-length": String(bundles[i]!.length) });
          upload.req.write(bundles[i]!.subarray(0, 100)); // the rest comes later
          return upload;
        }),
      );
      await eventually(async () => (await api.ledger.pendingBytes()) === bundles[0]!.length + bundles[1]!.length, "both uploads in flight");
      const busy = await signedPut(api.url, signers[2]!, DOMAIN, bundles[2]!, "key-bundle");
      const body = await errorOf(busy, 503, "busy");
      expect(busy.headers.get("retry-after")).to.match(/^\d+$/);
      expect(body.message).to.include("2 uploads");
      held.forEach(({ req }, i) => req.end(bundles[i]!.subarray(100)));
      expect((await Promise.all(held.map(({ answer }) => answer))).map((a) => a.status)).to.deep.equal([201, 201]);
      expect((await signedPut(api.url, signers[2]!, DOMAIN, bundles[2]!, "key-bundle")).status).to.equal(201);
    });

    it("answers 503 busy past PMHE_MAX_CONCURRENT_DOWNLOADS streams, and serves again once a reader goes", async function () {
      const api = await start({ api: { maxConcurrentDownloads: 2 } });
      const hash = await writeLargeBlob(api.store, 48 * MiB);
      const readers = [await stalledReader(api.url, hash), await stalledReader(api.url, hash)];
      for (const reader of readers) expect(reader.head).to.match(/^HTTP\/1\.1 200/);
      const busy = await fetch(`${api.url}/blobs/${hash}`);
      await errorOf(busy, 503, "busy");
      expect(busy.headers.get("retry-after")).to.match(/^\d+$/);
      readers[0]!.socket.destroy();
      await eventually(async () => {
        const response = await fetch(`${api.url}/blobs/${hash}`, { method: "HEAD" });
        return response.status === 200;
      }, "HEAD works (it needs no slot)");
      let served: Response | undefined;
      await eventually(async () => {
        const response = await fetch(`${api.url}/blobs/${hash}`);
        if (response.status === 200) served = response;
        else await response.arrayBuffer();
        return response.status === 200;
      }, "a slot is free again");
      const got = new Uint8Array(await served!.arrayBuffer());
      expect(got.length).to.equal(48 * MiB);
      expect(hashOf(got)).to.equal(hash);
      readers[1]!.socket.destroy();
    });
  });

  describe("slow readers", function () {
    it("gives one address at most PMHE_MAX_DOWNLOADS_PER_ADDRESS streams (429 too_many_transfers), so another address still gets served", async function () {
      const api = await start({ api: { maxConcurrentDownloads: 4, maxDownloadsPerAddress: 2 } });
      const hash = await writeLargeBlob(api.store, 48 * MiB);
      // 127.0.0.2 is a stranger's address (all of 127/8 is this host on Linux); the test's fetch comes from 127.0.0.1.
      const readers = [await stalledReader(api.url, hash, "127.0.0.2"), await stalledReader(api.url, hash, "127.0.0.2")];
      try {
        const third = await stalledReader(api.url, hash, "127.0.0.2");
        expect(third.head).to.match(/^HTTP\/1\.1 429/);
        expect(third.head.toLowerCase()).to.match(/retry-after: \d+/);
        third.socket.destroy();
        const other = await fetch(`${api.url}/blobs/${hash}`);
        expect(other.status).to.equal(200);
        expect(hashOf(new Uint8Array(await other.arrayBuffer()))).to.equal(hash);
      } finally {
        for (const reader of readers) reader.socket.destroy();
      }
    });

    it("the blob client waits out 503 busy as Retry-After asks and gets the blob once a slot frees; with no wait budget it reports busy", async function () {
      const api = await start({ api: { maxConcurrentDownloads: 1, downloadFloor: { minBytesPerSecond: 8 * MiB, graceMs: 1_000 } } });
      const hash = await writeLargeBlob(api.store, 16 * MiB);
      const reader = await stalledReader(api.url, hash);
      try {
        const impatient = await new BlobClient(api.url, { busyWaitMs: 0 }).get(hash).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(impatient).to.be.instanceOf(BlobStoreError);
        expect((impatient as BlobStoreError).code).to.equal("busy");
        const got = await new BlobClient(api.url).get(hash);
        expect(got && hashOf(got)).to.equal(hash);
      } finally {
        reader.socket.destroy();
      }
    });

    it("cuts a reader that trickles below the download floor, so its slot serves an honest reader again", async function () {
      // A floor high enough that even what the kernel's socket buffers absorb falls below it within seconds.
      const api = await start({ api: { maxConcurrentDownloads: 1, downloadFloor: { minBytesPerSecond: 8 * MiB, graceMs: 1_000 } } });
      const hash = await writeLargeBlob(api.store, 48 * MiB);
      const reader = await stalledReader(api.url, hash);
      expect(reader.head).to.match(/^HTTP\/1\.1 200/);
      await errorOf(await fetch(`${api.url}/blobs/${hash}`), 503, "busy");
      let served: Response | undefined;
      await eventually(async () => {
        const response = await fetch(`${api.url}/blobs/${hash}`);
        if (response.status === 200) served = response;
        else await response.arrayBuffer();
        return response.status === 200;
      }, "the stalled reader's slot is free again");
      expect(hashOf(new Uint8Array(await served!.arrayBuffer()))).to.equal(hash);
      // The stalled reader was cut, not served: once it reads what reached it, the connection ends short of the blob.
      const closed = new Promise<void>((resolve) => reader.socket.once("close", () => resolve()));
      reader.socket.resume();
      await closed;
      expect(reader.received()).to.be.below(48 * MiB);
    });

    it("does not buffer a large blob for slow readers: 16 stalled readers of a 64 MiB blob", async function () {
      let store: ObservedStore | undefined;
      const api = await start({
        api: { maxConcurrentDownloads: 32 },
        store: (directory) => (store = new ObservedStore(directory)),
      });
      const size = 64 * MiB;
      const hash = await writeLargeBlob(api.store, size);
      const before = await memory();
      const readers = [];
      for (let i = 0; i < 16; i++) readers.push(await stalledReader(api.url, hash));
      for (const reader of readers) expect(reader.head).to.match(/^HTTP\/1\.1 200/);
      expect(readers[0]!.head.toLowerCase()).to.include(`content-length: ${size}`);
      // Wait until the server has read all it will read: backpressure has stopped every stream.
      const readFromDisk = await settled(() => store!.streams.reduce((sum, s) => sum + s.bytesRead, 0));
      const during = await memory();
      const perReader = Math.max(...store!.streams.map((s) => s.bytesRead));
      const arrayGrowth = during.arrayBuffers - before.arrayBuffers;
      const rssGrowth = during.rss - before.rss;
      console.log(`      16 stalled readers of 64 MiB: ${(readFromDisk / MiB).toFixed(1)} MiB read from disk in all (at most ${(perReader / MiB).toFixed(1)} MiB per reader, the rest waits on the socket), ArrayBuffer growth ${(arrayGrowth / MiB).toFixed(1)} MiB, RSS growth ${(rssGrowth / MiB).toFixed(1)} MiB`);
      // Buffering would read 64 MiB per reader (1 GiB) and hold it.
      expect(perReader).to.be.below(size / 2);
      expect(arrayGrowth).to.be.below(16 * MiB);
      expect(rssGrowth).to.be.below(96 * MiB);

      // The streams are correct, not just slow: one reader, let go, gets every byte.
      const first = readers[0]!;
      const hasher = await createKeccak(256);
      hasher.init();
      hasher.update(first.firstBody);
      let bodyBytes = first.firstBody.length;
      await new Promise<void>((resolve) => {
        first.socket.removeAllListeners("data");
        first.socket.on("data", (chunk: Buffer) => {
          hasher.update(chunk);
          bodyBytes += chunk.length;
          if (bodyBytes >= size) resolve();
        });
        first.socket.resume();
      });
      expect(bodyBytes).to.equal(size);
      expect(`0x${hasher.digest("hex")}`).to.equal(hash);
      for (const reader of readers) reader.socket.destroy();
    });
  });

  describe("socket deadlines (slowloris)", function () {
    this.timeout(20_000); // without the deadlines Node would hold these sockets for 60 s to 5 min
    const limits = { headersTimeoutMs: 300, requestTimeoutMs: 1_500, idleTimeoutMs: 600, keepAliveTimeoutMs: 200 };

    /** Opens a raw socket and resolves once the server has closed it, with what it answered. */
    function rawSocket(url: string): { socket: Socket; closed: Promise<string> } {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname);
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("error", () => undefined);
      return { socket, closed: new Promise((resolve) => socket.once("close", () => resolve(answer))) };
    }

    it("closes a connection whose headers trickle in and never end", async function () {
      const api = await start({ limits });
      const { socket, closed } = rawSocket(api.url);
      socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      let lines = 0;
      const trickle = setInterval(() => {
        lines++;
        if (!socket.destroyed) socket.write(`X-Slow-${lines}: 1\r\n`); // traffic keeps the idle timer from firing
      }, 100);
      const answer = await closed;
      clearInterval(trickle);
      expect(answer).to.match(/^HTTP\/1\.1 408/);
    });

    it("closes an upload whose body trickles in, and gives back its reservation and temporary file", async function () {
      const api = await start({ limits });
      const signer = Wallet.createRandom();
      const bundle = keyBundleOf(signer.address, 8_192);
      const hash = hashOf(bundle);
      const headers = await signedPutHeaders(signer, DOMAIN, hash, "key-bundle");
      const { socket, closed } = rawSocket(api.url);
      socket.write(`PUT /blobs/${hash} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}content-length: ${bundle.length}\r\n\r\n`);
      let offset = 0;
      const trickle = setInterval(() => {
        if (!socket.destroyed && offset < bundle.length) socket.write(bundle.subarray(offset, (offset += 16)));
      }, 100);
      await closed;
      clearInterval(trickle);
      expect(offset).to.be.below(bundle.length); // cut off, not finished
      await eventually(async () => (await api.ledger.pendingBytes()) === 0, "reservation released");
      await eventually(async () => (await api.files()).length === 0, "temporary file removed");
      expect((await fetch(`${api.url}/blobs/${hash}`, { method: "HEAD" })).status).to.equal(404);
    });

    it("closes a connection that says nothing", async function () {
      const api = await start({ limits });
      const { closed } = rawSocket(api.url);
      expect(await closed).to.match(/^(HTTP\/1\.1 408 |$)/); // closed by the server, with at most a 408
    });

    it("closes a download whose reader stops reading", async function () {
      const api = await start({ limits });
      const hash = await writeLargeBlob(api.store, 32 * MiB);
      const reader = await stalledReader(api.url, hash);
      const connections = () => new Promise<number>((resolve, reject) => api.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      expect(await connections()).to.equal(1);
      await eventually(async () => (await connections()) === 0, "the server dropped the stalled download", 800);
      // Reading what is left finds the connection closed short of the blob.
      const ended = new Promise<void>((resolve) => reader.socket.once("close", () => resolve()));
      reader.socket.resume();
      await ended;
      expect(reader.received()).to.be.below(32 * MiB);
    });
  });

  it("refuses an upload the client declares too large before reading it (no quota reserved)", async function () {
    const api = await start();
    const signer = Wallet.createRandom();
    const claimed = hashOf(shareOf(signer.address));
    const purpose: UploadPurpose = "result-share";
    const { req, answer } = manualUpload(api.url, claimed, { ...(await signedPutHeaders(signer, DOMAIN, claimed, purpose)), "content-length": String(64 * MiB) });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(1024));
    const { status, closed } = await answer;
    expect(status).to.equal(413);
    await closed;
    req.destroy();
    expect(await api.ledger.pendingBytes()).to.equal(0);
  });
});
