import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, type Signer } from "ethers";
import { Redis } from "ioredis";
import { createApiApp, type ApiOptions } from "../../coprocessor/api/app.js";
import { closeServer, createHttpServer, listen, type ServerLimits, DEFAULT_SERVER_LIMITS } from "../../coprocessor/api/http-server.js";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { BlobKeeper, type DeletionReason } from "../../coprocessor/blobstore/blob-keeper.js";
import { BlobLedger } from "../../coprocessor/blobstore/blob-ledger.js";
import { FileBlobStore } from "../../coprocessor/blobstore/file-blob-store.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import { buildBatchManifest } from "../../protocol/batch-manifest.js";
import { encodeEnvelope } from "../../protocol/envelope.js";
import type { Hash } from "../../protocol/hash.js";
import { hospitalKeyPair, sealShare } from "../../protocol/result-share.js";
import { signedDeleteHeaders, signedUploadHeaders, type UploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";

/**
 * Blobs of every purpose, made without SEAL: real PMHE containers whose sections are well-formed SEAL headers over
 * random payloads, which is all the upload validator reads. And an in-process API over a real store directory, a
 * real Redis ledger and a real HTTP server.
 */

const ROOT = join(import.meta.dirname, "..", "..");
export const PARAMETER_SET = "ckks-n8192-d3";

/** Independent hash: ethers' keccak256, not the project's helper. */
export function hashOf(bytes: Uint8Array): Hash {
  return keccak256(bytes) as Hash;
}

/** One uncompressed SEAL object of `length` bytes (16-byte header: magic, header size, version 4.0, no compression, size). */
export function sealObject(length: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(length));
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xa15e, true);
  bytes[2] = 16;
  bytes[3] = 4;
  bytes[4] = 0;
  bytes[5] = 0;
  view.setUint16(6, 0, true);
  view.setBigUint64(8, BigInt(length), true);
  return bytes;
}

const lower = (address: string) => address.toLowerCase();

/** A feature-major key bundle (public key only) of `patient`. */
export function keyBundleOf(patient: string, publicKeyBytes = 4_096): Uint8Array {
  return encodeEnvelope("key-bundle", { parameterSet: PARAMETER_SET, galoisSteps: [], patient: lower(patient) }, [["publicKey", sealObject(publicKeyBytes)]]);
}

/** A single-record ciphertext of `patient` under `keyBundle`. */
export function recordOf(patient: string, keyBundle: Hash, ciphertextBytes = 2_048): Uint8Array {
  return encodeEnvelope(
    "record",
    { parameterSet: PARAMETER_SET, layout: "single-record", values: 14, patient: lower(patient), keyBundle },
    [["ciphertext", sealObject(ciphertextBytes)]],
  );
}

export function resultBlob(): Uint8Array {
  const hash = () => keccak256(randomBytes(32));
  return encodeEnvelope(
    "result",
    { parameterSet: PARAMETER_SET, stage: "linear", slot: 0, jobId: hash(), recordHash: hash(), modelHash: hash() },
    [["ciphertext", sealObject(1_024)]],
  );
}

export function shareOf(patient: string): Uint8Array {
  const hospital = hospitalKeyPair();
  const hash = () => keccak256(randomBytes(32)) as Hash;
  return sealShare({ jobId: hash(), modelId: hash(), probability: 0.42, predictedClass: 0 }, { patient, hospital: keccak256(randomBytes(20)).slice(0, 42), hospitalKey: hospital.publicKey });
}

export function manifestOf(patient: string, records: Hash[]): Uint8Array {
  return buildBatchManifest(patient, records).bytes;
}

/** A committed model document (parseable; the same bytes every call). */
export async function modelBytes(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
}

/** The headers of a signed upload, for requests made by hand. */
export async function signedPutHeaders(signer: Signer, domain: UploadDomain, hash: Hash, purpose: UploadPurpose): Promise<Record<string, string>> {
  return { "content-type": "application/octet-stream", ...(await signedUploadHeaders(signer, domain, hash, purpose)) };
}

export async function signedPut(base: string, signer: Signer, domain: UploadDomain, bytes: Uint8Array, purpose: UploadPurpose): Promise<Response> {
  const hash = hashOf(bytes);
  return fetch(`${base}/blobs/${hash}`, { method: "PUT", headers: await signedPutHeaders(signer, domain, hash, purpose), body: bytes as Uint8Array<ArrayBuffer> });
}

export async function signedDelete(base: string, signer: Signer, domain: UploadDomain, hash: Hash): Promise<Response> {
  return fetch(`${base}/blobs/${hash}`, { method: "DELETE", headers: await signedDeleteHeaders(signer, domain, hash) });
}

export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

export async function errorOf(response: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected ${status} ${code}, got ${response.status}: ${text}`);
  const body = JSON.parse(text) as ErrorBody;
  if (body.error !== code) throw new Error(`expected ${code}, got ${body.error}: ${body.message}`);
  if (typeof body.message !== "string" || body.message === "") throw new Error(`error ${code} has no message`);
  if (!(response.headers.get("content-type") ?? "").startsWith("application/json")) throw new Error(`error ${code} is not JSON`);
  return body;
}

export interface BlobApiHarness {
  url: string;
  directory: string;
  store: FileBlobStore;
  ledger: BlobLedger;
  keeper: BlobKeeper;
  server: Server;
  /** Deletions the keeper reported, by reason. */
  deletions: Array<{ reason: DeletionReason; blobs: number; bytes: number }>;
  /** Files in the store directory (temporary ones included). */
  files(): Promise<string[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  redis: Redis;
  uploads: UploadPolicyOptions;
  api?: Partial<Omit<ApiOptions, "keeper" | "uploads">>;
  quotaBytes?: number;
  pendingBytesMax?: number;
  gcAfterSeconds?: number;
  limits?: Partial<ServerLimits>;
  /** Clock of the ledger and keeper, ms. */
  now?: () => number;
  store?: (directory: string) => FileBlobStore;
}

/** An API over a fresh store directory and its own ledger prefix in `redis`, on a real HTTP server. */
export async function startBlobApi(options: HarnessOptions): Promise<BlobApiHarness> {
  const directory = await mkdtemp(join(tmpdir(), "pmhe-blob-api-"));
  const blobDir = join(directory, "blobs");
  const store = options.store?.(blobDir) ?? new FileBlobStore(blobDir);
  const ledger = new BlobLedger(options.redis, {
    prefix: `pmhe-test:{blobs:${randomBytes(6).toString("hex")}}`,
    quotaBytes: options.quotaBytes ?? 64 * 1024 * 1024,
    pendingBytesMax: options.pendingBytesMax ?? 2 * 1024 * 1024 * 1024,
    now: options.now,
  });
  const deletions: BlobApiHarness["deletions"] = [];
  const keeper = new BlobKeeper(ledger, store, {
    gcAfterSeconds: options.gcAfterSeconds ?? 3_600,
    staleAfterMs: 240_000,
    now: options.now,
    onDeleted: (reason, blobs, bytes) => deletions.push({ reason, blobs, bytes }),
  });
  const app = createApiApp({ keeper, uploads: options.uploads, rateLimit: false, ...options.api });
  const server = createHttpServer({ ...DEFAULT_SERVER_LIMITS, ...options.limits }, app);
  const port = await listen(server, "127.0.0.1", 0);
  return {
    url: `http://127.0.0.1:${port}`,
    directory: blobDir,
    store,
    ledger,
    keeper,
    server,
    deletions,
    async files() {
      try {
        return await readdir(blobDir);
      } catch {
        return [];
      }
    },
    async close() {
      server.closeAllConnections();
      await closeServer(server);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A redis-server for the tests of a describe block, and blob APIs over it. */
export interface BlobApisOnRedis {
  /** The server's URL, from the block's `before` hook on. */
  readonly redisUrl: string;
  /** `startBlobApi` over the server (one client for all), closed after the test. */
  start(options: Omit<HarnessOptions, "redis">): Promise<BlobApiHarness>;
}

/**
 * To call in a describe block: registers its hooks that start a redis-server (and a client) before the block's tests,
 * close the blob APIs started through `start` after each test, and stop the server after them all.
 */
export function blobApisOnRedis(): BlobApisOnRedis {
  let server: LocalRedis | undefined;
  let client: Redis | undefined;
  const open: BlobApiHarness[] = [];
  before(async function () {
    server = await startLocalRedis();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((api) => api.close()));
  });
  after(async function () {
    client?.disconnect();
    await server?.stop();
  });
  const notYet = () => new Error("the redis-server starts in the describe block's before hook");
  return {
    get redisUrl() {
      if (!server) throw notYet();
      return server.url;
    },
    async start(options) {
      if (!client) throw notYet();
      const api = await startBlobApi({ ...options, redis: client });
      open.push(api);
      return api;
    },
  };
}
