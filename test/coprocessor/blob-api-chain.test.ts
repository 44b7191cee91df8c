import { expect } from "chai";
import { Wallet, type Signer } from "ethers";
import { Redis } from "ioredis";
import { contractKeyBundleReader, KeyBundleCache } from "../../coprocessor/api/key-bundles.js";
import { BlobLedger } from "../../coprocessor/blobstore/blob-ledger.js";
import { hardhatAccount, startLocalStack, type LocalStack } from "../../local/stack.js";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import { connectPmhe } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";
import { metricSample } from "../helpers/prometheus.js";
import { rejectionOf } from "../helpers/rejection.js";
import { sleep } from "../helpers/wait.js";
import { errorOf, hashOf, keyBundleOf, manifestOf, recordOf, signedPut } from "./blob-fixtures.js";

/**
 * The blob store of a running coprocessor (startCoprocessor: API, operator server, listener, worker) against a
 * deployed contract on a Hardhat node and a private redis-server: who may upload records is what the contract says,
 * and what the chain references and erases reaches the store through the listener.
 */

async function eventually(probe: () => Promise<boolean>, what: string, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await probe()) return;
    await sleep(100);
  }
  throw new Error(`never happened: ${what}`);
}

describe("blob store of a running coprocessor, against a deployed contract", function () {
  let stack: LocalStack;

  let redis: Redis;
  /** The running coprocessor's ledger, read directly (same Redis, same key prefix) for per-patient pending bytes. */
  let ledger: BlobLedger;

  before(async function () {
    stack = await startLocalStack({ coprocessorEnv: { PMHE_OPERATOR_PORT: "0", PMHE_EVALUATION_THREADS: "0" } });
    redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
    const { chainId } = await stack.provider.getNetwork();
    ledger = new BlobLedger(redis, { prefix: `pmhe:{blobs:${chainId}:${stack.contractAddress.toLowerCase()}}`, quotaBytes: 1, pendingBytesMax: 1 });
  });

  after(async function () {
    redis?.disconnect();
    await stack?.stop();
  });

  const pendingOf = (address: string) => ledger.pendingBytesOf(address);

  const metrics = async () => (await fetch(`${stack.coprocessor.operatorUrl}/metrics`)).text();
  const pendingBytes = async () => metricSample(await metrics(), "pmhe_blob_pending_bytes") ?? Number.NaN;
  const head = async (hash: Hash) => (await fetch(stack.blobs.urlOf(hash), { method: "HEAD" })).status;

  /** A funded wallet that uploads its key bundle and registers it on-chain. */
  async function registeredPatient(): Promise<{ signer: Signer; address: string; bundle: Hash }> {
    const signer = await stack.newPatient();
    const address = await signer.getAddress();
    const bytes = keyBundleOf(address, 1_000);
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, bytes, "key-bundle")).status).to.equal(201);
    await (await stack.contract.connect(signer).registerKeys(hashOf(bytes), stack.blobs.urlOf(hashOf(bytes)))).wait();
    return { signer, address, bundle: hashOf(bytes) };
  }

  it("serves /metrics, /readyz and the probes on the operator URL (loopback), not on the public API", async function () {
    const { apiUrl, operatorUrl } = stack.coprocessor;
    expect(operatorUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(operatorUrl).to.not.equal(apiUrl);
    const ready = await fetch(`${operatorUrl}/readyz`);
    expect(ready.status).to.equal(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(Object.keys(body.checks).sort()).to.deep.equal(["chain", "redis"]);
    expect(await metrics()).to.include("pmhe_blob_pending_bytes");
    for (const url of [apiUrl, operatorUrl]) expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    for (const path of ["/readyz", "/metrics"]) await errorOf(await fetch(`${apiUrl}${path}`), 404, "not_found");
  });

  it("takes records only from patients the contract knows, under the key bundle it holds for them now", async function () {
    const stranger = await stack.newPatient();
    const strangerAddress = await stranger.getAddress();
    const early = recordOf(strangerAddress, hashOf(keyBundleOf(strangerAddress)));
    const refused = await errorOf(await signedPut(stack.apiUrl, stranger, stack.uploadDomain, early, "record"), 403, "not_registered");
    expect(refused.message).to.include(strangerAddress);
    expect(await head(hashOf(early))).to.equal(404);

    const { signer, address, bundle } = await registeredPatient();
    const record = recordOf(address, bundle);
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, record, "record")).status).to.equal(201);
    const foreign = recordOf(address, hashOf(keyBundleOf(address, 1_001)));
    await errorOf(await signedPut(stack.apiUrl, signer, stack.uploadDomain, foreign, "record"), 422, "key_bundle_not_current");

    // Rotating keys: a record under the new bundle is taken at once (the cached answer is asked again), the old one no more.
    const rotated = keyBundleOf(address, 1_002);
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, rotated, "key-bundle")).status).to.equal(201);
    await (await stack.contract.connect(signer).registerKeys(hashOf(rotated), "rotated")).wait();
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, recordOf(address, hashOf(rotated)), "record")).status).to.equal(201);
    await errorOf(await signedPut(stack.apiUrl, signer, stack.uploadDomain, recordOf(address, bundle, 999), "record"), 422, "key_bundle_not_current");
    expect(metricSample(await metrics(), "pmhe_blob_upload_rejections_total", { code: "not_registered" })).to.be.at.least(1);
  });

  it("keeps a record once anchored (its quota released), and erases it once the patient erases it on-chain: 410 from then on", async function () {
    const { signer, address, bundle } = await registeredPatient();
    await eventually(async () => (await pendingOf(address)) === 0, "the registered key bundle is kept, no longer pending");
    const record = recordOf(address, bundle);
    const hash = hashOf(record);
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, record, "record")).status).to.equal(201);
    expect(await pendingOf(address)).to.equal(record.length);
    expect(await pendingBytes()).to.be.at.least(record.length); // the gauge the operator scrapes
    const mine = stack.contract.connect(signer);
    await (await mine.anchorRecord(hash)).wait();
    await eventually(async () => (await pendingOf(address)) === 0, "the anchored record is kept");

    await (await mine.eraseRecord(hash)).wait();
    await eventually(async () => (await head(hash)) === 410, "the erased record is gone for good");
    await errorOf(await fetch(stack.blobs.urlOf(hash)), 410, "erased");
    await errorOf(await signedPut(stack.apiUrl, signer, stack.uploadDomain, record, "record"), 410, "erased");
    expect(metricSample(await metrics(), "pmhe_blob_deletions_total", { reason: "erasure" })).to.be.at.least(1);
  });

  it("keeps a batch's manifest and records once the root is anchored, and erases them all when the batch is erased", async function () {
    const { signer, address, bundle } = await registeredPatient();
    await eventually(async () => (await pendingOf(address)) === 0, "the registered key bundle is kept");
    const records = [0, 1, 2].map((n) => recordOf(address, bundle, 700 + n));
    for (const bytes of records) expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, bytes, "record")).status).to.equal(201);
    const manifest = manifestOf(address, records.map(hashOf));
    expect((await signedPut(stack.apiUrl, signer, stack.uploadDomain, manifest, "batch-manifest")).status).to.equal(201);
    const root = JSON.parse(new TextDecoder().decode(manifest)).root as Hash;
    const mine = stack.contract.connect(signer);
    await (await mine.anchorBatch(root, records.length)).wait();
    expect(await pendingOf(address)).to.equal(manifest.length + records.reduce((n, r) => n + r.length, 0));
    await eventually(async () => (await pendingOf(address)) === 0, "the batch's manifest and records are kept");

    await (await mine.eraseBatch(root)).wait();
    for (const hash of [...records.map(hashOf), hashOf(manifest)]) await eventually(async () => (await head(hash)) === 410, `${hash} erased`);
  });

  it("lets a patient delete their own blob through BlobClient, and nobody else", async function () {
    const { signer, address, bundle } = await registeredPatient();
    const record = recordOf(address, bundle, 333);
    const hash = await stack.blobs.put(record, { signer, purpose: "record", domain: stack.uploadDomain });
    const err = await rejectionOf(stack.blobs.delete(hash, { signer: Wallet.createRandom(), domain: stack.uploadDomain }));
    expect(err).to.be.instanceOf(BlobStoreError);
    expect((err as BlobStoreError).status).to.equal(403);
    expect((err as BlobStoreError).code).to.equal("not_owner");
    expect(await stack.blobs.delete(hash, { signer, domain: stack.uploadDomain })).to.equal(true);
    expect(await stack.blobs.get(hash)).to.equal(undefined);
    expect(await new BlobClient(stack.apiUrl).delete(hash, { signer, domain: stack.uploadDomain })).to.equal(false);
    expect(metricSample(await metrics(), "pmhe_blob_deletions_total", { reason: "owner" })).to.be.at.least(1);
  });

  it("asks the contract once per patient and interval however many record uploads check it", async function () {
    const reader = connectPmhe(stack.contractAddress, stack.provider);
    let reads = 0;
    const read = contractKeyBundleReader(reader);
    let clock = 0;
    const cache = new KeyBundleCache(
      async (patient) => {
        reads++;
        return read(patient);
      },
      { ttlMs: 2_000, now: () => clock },
    );
    const { address, bundle } = await registeredPatient();
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.current(address)));
    expect(new Set(answers)).to.deep.equal(new Set([bundle]));
    expect(reads).to.equal(1);
    expect(await cache.current(Wallet.createRandom().address)).to.equal(undefined); // never registered
    expect(reads).to.equal(2);
    clock += 1_999;
    await cache.current(address);
    expect(reads).to.equal(2);
    clock += 1;
    await cache.current(address);
    expect(reads).to.equal(3);
    await cache.current(address, { fresh: true });
    expect(reads).to.equal(4);
    // A failure is not remembered.
    const failing = new KeyBundleCache(async () => Promise.reject(new Error("down")), { ttlMs: 60_000 });
    expect(await rejectionOf(failing.current(address))).to.be.instanceOf(Error);
    const operator = hardhatAccount(2, stack.provider);
    expect(await read(operator.address)).to.equal(undefined);
  });
});
