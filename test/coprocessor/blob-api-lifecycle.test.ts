import { expect } from "chai";
import { Wallet, type HDNodeWallet, type Signer } from "ethers";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { BlobClient } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { signUpload, uploadDomain, UPLOAD_HEADERS, type UploadPurpose } from "../../protocol/upload-auth.js";
import { blobApisOnRedis, errorOf, hashOf, keyBundleOf, manifestOf, modelBytes, recordOf, shareOf, signedDelete, signedPut, type BlobApiHarness } from "./blob-fixtures.js";

/**
 * What happens to blobs after they are uploaded: pending bytes against a per-signer quota and a global cap, kept once
 * the chain references them, collected if it never does, erased for good, deleted by their patient. In-process API
 * over a real Redis ledger; the chain's reports are made by calling the BlobLifecycle the listener drives.
 */
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const GC_AFTER_SECONDS = 3_600;

describe("blob store lifecycle: quotas, references, collection, erasure, deletion", function () {
  const apis = blobApisOnRedis();
  const registered = new Map<string, Hash>();
  const uploads: UploadPolicyOptions = {
    domain: DOMAIN,
    hasRole: async (role) => role === "HOSPITAL_ROLE",
    currentKeyBundle: async (who) => registered.get(who.toLowerCase()),
  };
  let clock = Date.now();

  function start(options: { quotaBytes?: number; pendingBytesMax?: number; maxConcurrentUploads?: number } = {}): Promise<BlobApiHarness> {
    return apis.start({
      uploads,
      quotaBytes: options.quotaBytes,
      pendingBytesMax: options.pendingBytesMax,
      gcAfterSeconds: GC_AFTER_SECONDS,
      now: () => clock,
      api: { maxConcurrentUploads: options.maxConcurrentUploads ?? 64 },
    });
  }

  /** A fresh wallet registered on the stand-in chain, with its bundle. */
  function newPatient(): { wallet: HDNodeWallet; bundle: Hash } {
    const wallet = Wallet.createRandom();
    const bundle = hashOf(keyBundleOf(wallet.address, 128));
    registered.set(wallet.address.toLowerCase(), bundle);
    return { wallet, bundle };
  }

  const status = async (api: BlobApiHarness, hash: Hash) => (await fetch(`${api.url}/blobs/${hash}`, { method: "HEAD" })).status;

  describe("quota and cap", function () {
    it("answers 429 quota_exceeded with the pending bytes once a signer's unreferenced uploads reach the quota; a reference releases them", async function () {
      const size = keyBundleOf(Wallet.createRandom().address).length;
      const api = await start({ quotaBytes: 2 * size + 100 });
      const uploader = Wallet.createRandom();
      const own = (n: number) => keyBundleOf(uploader.address, 4_096 + n); // distinct bundles of (nearly) one size
      const [a, b, c] = [own(0), own(1), own(2)];
      expect((await signedPut(api.url, uploader, DOMAIN, a, "key-bundle")).status).to.equal(201);
      expect((await signedPut(api.url, uploader, DOMAIN, b, "key-bundle")).status).to.equal(201);
      const refused = await errorOf(await signedPut(api.url, uploader, DOMAIN, c, "key-bundle"), 429, "quota_exceeded");
      expect(refused.pendingBytes).to.equal(a.length + b.length);
      expect(refused.quotaBytes).to.equal(2 * size + 100);
      expect(refused.message).to.include(String(a.length + b.length));
      expect(await status(api, hashOf(c))).to.equal(404);
      // Another signer has a quota of its own.
      const other = Wallet.createRandom();
      expect((await signedPut(api.url, other, DOMAIN, keyBundleOf(other.address), "key-bundle")).status).to.equal(201);

      // The chain registers bundle a: kept for good, no longer pending. Reported twice, it changes nothing more.
      await api.keeper.referenced([{ hash: hashOf(a), kind: "key-bundle" }]);
      await api.keeper.referenced([{ hash: hashOf(a), kind: "key-bundle" }]);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(b.length);
      expect((await signedPut(api.url, uploader, DOMAIN, c, "key-bundle")).status).to.equal(201);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(b.length + c.length);
    });

    it("cannot be passed by uploading in parallel: of 12 concurrent uploads with room for 3, exactly 3 are stored", async function () {
      const uploader = Wallet.createRandom();
      const blobs = Array.from({ length: 12 }, (_, i) => keyBundleOf(uploader.address, 4_096 + i));
      const api = await start({ quotaBytes: 3 * (blobs[11]!.length) + 10 });
      const answers = await Promise.all(blobs.map((bytes) => signedPut(api.url, uploader, DOMAIN, bytes, "key-bundle")));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).to.have.length(3);
      expect(statuses.filter((s) => s === 429)).to.have.length(9);
      const stored = (await api.files()).filter((f) => !f.includes("partial"));
      expect(stored).to.have.length(3);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.be.at.most(3 * blobs[11]!.length);
    });

    it("answers 507 store_full once all signers together reach the global cap of pending bytes", async function () {
      const first = keyBundleOf(Wallet.createRandom().address);
      const api = await start({ pendingBytesMax: 2 * first.length + 100 });
      for (let i = 0; i < 2; i++) {
        const signer = Wallet.createRandom();
        expect((await signedPut(api.url, signer, DOMAIN, keyBundleOf(signer.address), "key-bundle")).status).to.equal(201);
      }
      const late = Wallet.createRandom();
      const bytes = keyBundleOf(late.address);
      await errorOf(await signedPut(api.url, late, DOMAIN, bytes, "key-bundle"), 507, "store_full");
      expect(await status(api, hashOf(bytes))).to.equal(404);
      expect(await api.ledger.pendingBytes()).to.equal(2 * first.length);
    });

    it("keeps the global cap for wallets with nothing on-chain: a flood of them cannot lock registered patients out", async function () {
      const first = keyBundleOf(Wallet.createRandom().address);
      const api = await start({ pendingBytesMax: 2 * first.length + 100 });
      // Throwaway wallets fill the cap with key bundles nobody will ever register.
      for (let i = 0; i < 3; i++) {
        const signer = Wallet.createRandom();
        const expected = i < 2 ? 201 : 507;
        expect((await signedPut(api.url, signer, DOMAIN, keyBundleOf(signer.address), "key-bundle")).status).to.equal(expected);
      }
      // A registered patient still uploads a record, and rotates to a new key bundle, within their own quota.
      const { wallet, bundle } = newPatient();
      expect((await signedPut(api.url, wallet, DOMAIN, recordOf(wallet.address, bundle), "record")).status).to.equal(201);
      expect((await signedPut(api.url, wallet, DOMAIN, keyBundleOf(wallet.address, 64), "key-bundle")).status).to.equal(201);
      expect(await api.ledger.pendingBytes()).to.be.greaterThan(2 * first.length);
    });

    it("does not count results the worker writes itself, nor uploads the chain referenced before they arrived", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      await api.store.add(new Uint8Array([1, 2, 3, 4])); // as the worker does (FileBlobStore.add)
      expect(await api.ledger.pendingBytes()).to.equal(0);
      const record = recordOf(wallet.address, bundle);
      await api.keeper.referenced([{ hash: hashOf(record), kind: "record" }]); // anchored before the upload
      expect((await signedPut(api.url, wallet, DOMAIN, record, "record")).status).to.equal(201);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      expect((await api.ledger.status(hashOf(record))).entry?.state).to.equal("kept");
    });
  });

  describe("collection of uploads nobody referenced", function () {
    it("deletes pending uploads older than PMHE_BLOB_GC_AFTER_SECONDS, releases their quota and keeps referenced ones; idempotent", async function () {
      const api = await start();
      const uploader = Wallet.createRandom();
      const [kept, dropped, young] = [0, 1, 2].map((n) => keyBundleOf(uploader.address, 600 + n));
      for (const bytes of [kept!, dropped!]) expect((await signedPut(api.url, uploader, DOMAIN, bytes, "key-bundle")).status).to.equal(201);
      await api.keeper.referenced([{ hash: hashOf(kept!), kind: "key-bundle" }]);
      clock += (GC_AFTER_SECONDS - 60) * 1000;
      expect((await signedPut(api.url, uploader, DOMAIN, young!, "key-bundle")).status).to.equal(201);
      clock += 61 * 1000; // `dropped` is now just past the limit, `young` a minute old

      expect(await api.keeper.collect()).to.deep.equal({ blobs: 1, bytes: dropped!.length });
      expect(await status(api, hashOf(dropped!))).to.equal(404);
      expect(await status(api, hashOf(kept!))).to.equal(200);
      expect(await status(api, hashOf(young!))).to.equal(200);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(young!.length);
      expect(api.deletions).to.deep.equal([{ reason: "gc", blobs: 1, bytes: dropped!.length }]);
      expect(await api.keeper.collect()).to.deep.equal({ blobs: 0, bytes: 0 });
      // Collected is not erased: it may be uploaded again.
      expect((await signedPut(api.url, uploader, DOMAIN, dropped!, "key-bundle")).status).to.equal(201);
    });

    it("restarts the collection clock of a pending blob uploaded again", async function () {
      const api = await start();
      const uploader = Wallet.createRandom();
      const bytes = keyBundleOf(uploader.address, 700);
      expect((await signedPut(api.url, uploader, DOMAIN, bytes, "key-bundle")).status).to.equal(201);
      clock += (GC_AFTER_SECONDS - 10) * 1000;
      expect((await signedPut(api.url, uploader, DOMAIN, bytes, "key-bundle")).status).to.equal(200);
      clock += 20 * 1000;
      expect((await api.keeper.collect()).blobs).to.equal(0);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(bytes.length); // counted once
      clock += GC_AFTER_SECONDS * 1000;
      expect((await api.keeper.collect()).blobs).to.equal(1);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(0);
    });

    it("gives back what a crashed upload left: its reservation and its temporary file", async function () {
      const api = await start();
      const uploader = Wallet.createRandom();
      await api.ledger.reserve(uploader.address, 5_000); // an upload whose process died before it finished
      await mkdir(api.directory, { recursive: true });
      const partial = join(api.directory, ".deadbeef.partial");
      await writeFile(partial, "half a blob");
      const old = new Date(clock - 3_600_000);
      await utimes(partial, old, old);
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(5_000);
      clock += 300_000; // past staleAfterMs (240 s)
      await api.keeper.collect();
      expect(await api.ledger.pendingBytesOf(uploader.address)).to.equal(0);
      expect(await api.ledger.pendingBytes()).to.equal(0);
      expect((await api.files()).filter((f) => f.endsWith(".partial"))).to.deep.equal([]);
    });
  });

  describe("batches", function () {
    it("keeps a batch's manifest and every record it lists once its root is referenced, uploaded before or after", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const records = [0, 1, 2].map((n) => recordOf(wallet.address, bundle, 300 + n));
      const hashes = records.map(hashOf);
      const manifest = manifestOf(wallet.address, hashes);
      for (const bytes of [records[0]!, records[1]!]) expect((await signedPut(api.url, wallet, DOMAIN, bytes, "record")).status).to.equal(201);
      expect((await signedPut(api.url, wallet, DOMAIN, manifest, "batch-manifest")).status).to.equal(201);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(records[0]!.length + records[1]!.length + manifest.length);

      const root = JSON.parse(new TextDecoder().decode(manifest)).root as Hash;
      await api.keeper.referenced([{ hash: root, kind: "batch-root" }]);
      await api.keeper.referenced([{ hash: root, kind: "batch-root" }]);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      // The third record, uploaded after the anchor, is kept at once.
      expect((await signedPut(api.url, wallet, DOMAIN, records[2]!, "record")).status).to.equal(201);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      for (const hash of [...hashes, hashOf(manifest)]) expect((await api.ledger.status(hash)).entry?.state, hash).to.equal("kept");

      // A root referenced before its manifest arrives: the manifest and its records are kept when it does.
      const later = [3, 4].map((n) => recordOf(wallet.address, bundle, 300 + n));
      const laterManifest = manifestOf(wallet.address, later.map(hashOf));
      await api.keeper.referenced([{ hash: JSON.parse(new TextDecoder().decode(laterManifest)).root as Hash, kind: "batch-root" }]);
      expect((await signedPut(api.url, wallet, DOMAIN, laterManifest, "batch-manifest")).status).to.equal(201);
      expect((await signedPut(api.url, wallet, DOMAIN, later[0]!, "record")).status).to.equal(201);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      clock += 2 * GC_AFTER_SECONDS * 1000;
      expect((await api.keeper.collect()).blobs).to.equal(0);
    });
  });

  describe("erasure (RecordErased, BatchErased)", function () {
    it("deletes an erased record and refuses its hash from then on: 410 erased for GET, HEAD, PUT and DELETE", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const record = recordOf(wallet.address, bundle);
      const hash = hashOf(record);
      expect((await signedPut(api.url, wallet, DOMAIN, record, "record")).status).to.equal(201);
      await api.keeper.erased({ patient: wallet.address, hash, kind: "record" });
      await api.keeper.erased({ patient: wallet.address, hash, kind: "record" }); // reported again after a restart
      expect((await api.files()).includes(hash.slice(2))).to.equal(false);
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      await errorOf(await fetch(`${api.url}/blobs/${hash}`), 410, "erased");
      expect(await status(api, hash)).to.equal(410);
      await errorOf(await signedPut(api.url, wallet, DOMAIN, record, "record"), 410, "erased");
      await errorOf(await signedDelete(api.url, wallet, DOMAIN, hash), 410, "erased");
      expect((await api.files()).includes(hash.slice(2))).to.equal(false);
      expect(api.deletions).to.deep.equal([{ reason: "erasure", blobs: 1, bytes: record.length }]);
    });

    it("refuses a hash erased before it was ever uploaded", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const record = recordOf(wallet.address, bundle);
      await api.keeper.erased({ patient: wallet.address, hash: hashOf(record), kind: "record" });
      await errorOf(await signedPut(api.url, wallet, DOMAIN, record, "record"), 410, "erased");
      expect(await status(api, hashOf(record))).to.equal(410);
    });

    it("leaves a record in place when the erasure names another patient than the one it belongs to", async function () {
      const api = await start();
      const victim = newPatient();
      const record = recordOf(victim.wallet.address, victim.bundle);
      expect((await signedPut(api.url, victim.wallet, DOMAIN, record, "record")).status).to.equal(201);
      await api.keeper.erased({ patient: Wallet.createRandom().address, hash: hashOf(record), kind: "record" });
      expect(await status(api, hashOf(record))).to.equal(200);
    });

    it("erases a batch through its manifest: the manifest and the patient's records it lists, never another patient's", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const other = newPatient();
      const mine = [0, 1].map((n) => recordOf(wallet.address, bundle, 500 + n));
      const theirs = recordOf(other.wallet.address, other.bundle);
      for (const bytes of mine) expect((await signedPut(api.url, wallet, DOMAIN, bytes, "record")).status).to.equal(201);
      expect((await signedPut(api.url, other.wallet, DOMAIN, theirs, "record")).status).to.equal(201);
      // The manifest lists someone else's record too (anyone can list any hash).
      const manifest = manifestOf(wallet.address, [...mine.map(hashOf), hashOf(theirs)]);
      expect((await signedPut(api.url, wallet, DOMAIN, manifest, "batch-manifest")).status).to.equal(201);
      const root = JSON.parse(new TextDecoder().decode(manifest)).root as Hash;
      await api.keeper.referenced([{ hash: root, kind: "batch-root" }]);

      await api.keeper.erased({ patient: wallet.address, hash: root, kind: "batch-root" });
      await api.keeper.erased({ patient: wallet.address, hash: root, kind: "batch-root" });
      for (const hash of [...mine.map(hashOf), hashOf(manifest)]) expect(await status(api, hash), hash).to.equal(410);
      expect(await status(api, hashOf(theirs))).to.equal(200);
    });
  });

  describe("DELETE /blobs/:hash by the blob's patient", function () {
    it("deletes the signer's own record, key bundle, share or manifest and releases its quota; the patient may upload it again", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const blobs: Array<[Uint8Array, UploadPurpose]> = [
        [recordOf(wallet.address, bundle), "record"],
        [keyBundleOf(wallet.address, 256), "key-bundle"],
        [shareOf(wallet.address), "result-share"],
        [manifestOf(wallet.address, [bundle]), "batch-manifest"],
      ];
      for (const [bytes, purpose] of blobs) {
        expect((await signedPut(api.url, wallet, DOMAIN, bytes, purpose)).status).to.equal(201);
        const response = await signedDelete(api.url, wallet, DOMAIN, hashOf(bytes));
        expect(response.status, purpose).to.equal(200);
        expect(await response.json()).to.deep.equal({ hash: hashOf(bytes), deleted: true, purpose });
        await errorOf(await fetch(`${api.url}/blobs/${hashOf(bytes)}`), 404, "not_found");
      }
      expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(0);
      expect(api.deletions.map((d) => d.reason)).to.deep.equal(["owner", "owner", "owner", "owner"]);
      expect((await signedPut(api.url, wallet, DOMAIN, blobs[0]![0], "record")).status).to.equal(201);
    });

    it("refuses anyone but the patient (403 not_owner), models and results (403), absent blobs (404) and bad signatures (401)", async function () {
      const api = await start();
      const { wallet, bundle } = newPatient();
      const record = recordOf(wallet.address, bundle);
      const hash = hashOf(record);
      expect((await signedPut(api.url, wallet, DOMAIN, record, "record")).status).to.equal(201);
      await errorOf(await signedDelete(api.url, Wallet.createRandom(), DOMAIN, hash), 403, "not_owner");
      const hospital = Wallet.createRandom();
      const model = await modelBytes();
      expect([200, 201]).to.include((await signedPut(api.url, hospital, DOMAIN, model, "model")).status);
      await errorOf(await signedDelete(api.url, hospital, DOMAIN, hashOf(model)), 403, "not_owner");
      await errorOf(await signedDelete(api.url, wallet, DOMAIN, hashOf(shareOf(wallet.address))), 404, "not_found");

      const del = (headers: Record<string, string>) => fetch(`${api.url}/blobs/${hash}`, { method: "DELETE", headers });
      const body = await errorOf(await del({}), 401, "signature_required");
      expect(body.message).to.include(UPLOAD_HEADERS.signature);
      const expiresAt = Math.floor(Date.now() / 1000) + 60;
      // An upload signature for the same hash is not a deletion signature.
      const uploadSignature = await signUpload(wallet, DOMAIN, { blobHash: hash, purpose: "record", expiresAt });
      await errorOf(await del({ [UPLOAD_HEADERS.signer]: wallet.address, [UPLOAD_HEADERS.expires]: String(expiresAt), [UPLOAD_HEADERS.signature]: uploadSignature }), 401, "bad_signature");
      const otherDomain = uploadDomain(1, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
      await errorOf(await signedDelete(api.url, wallet, otherDomain, hash), 401, "bad_signature");
      const stale = { [UPLOAD_HEADERS.signer]: wallet.address, [UPLOAD_HEADERS.expires]: String(expiresAt - 3_600), [UPLOAD_HEADERS.signature]: uploadSignature };
      await errorOf(await del(stale), 401, "signature_expired");
      expect(await status(api, hash)).to.equal(200);
    });

    it("deletes a blob stored before the ledger existed, reading its owner from the file; BlobClient.delete", async function () {
      const api = await start();
      const { wallet } = newPatient();
      const share = shareOf(wallet.address);
      const { hash } = await api.store.add(share); // no ledger entry
      expect((await api.ledger.status(hash)).entry).to.equal(undefined);
      const client = new BlobClient(api.url);
      const err = await client.delete(hash, { signer: Wallet.createRandom(), domain: DOMAIN }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).to.equal("not_owner");
      expect(await client.delete(hash, { signer: wallet, domain: DOMAIN })).to.equal(true);
      expect(await client.delete(hash, { signer: wallet, domain: DOMAIN })).to.equal(false);
      expect(await client.get(hash)).to.equal(undefined);
    });
  });
});
