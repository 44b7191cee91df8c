import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { Wallet, type HDNodeWallet } from "ethers";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { BlobClient } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { KEY_BACKUP_HASH_HEADER, keyBackupDomain, MAX_KEY_BACKUP_BYTES, sealKeyBackup, signKeyBackup } from "../../protocol/key-backup.js";
import { uploadDomain } from "../../protocol/upload-auth.js";
import { blobApisOnRedis, errorOf, hashOf, keyBundleOf, signedDelete, signedPut, type BlobApiHarness } from "./blob-fixtures.js";

/**
 * The blob store's key backups: purpose `key-backup` (the header's patient must be the signer), `GET
 * /key-backups/:address` for the latest one, and their quota rules: like key bundles, an unregistered address is
 * anonymous (global cap) and its backup is collected unless the address registers, which pins it; a registered
 * patient's latest backup is kept for good and replaces the older one. In-process API over a real Redis ledger; the
 * chain's registrations are reported through the BlobLifecycle the listener drives.
 */
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const DOMAIN = uploadDomain(31337, CONTRACT);
const BACKUP_DOMAIN = keyBackupDomain(31337, CONTRACT);
const GC_AFTER_SECONDS = 3_600;

/** A real backup of `wallet`'s (stand-in) secret key: sealed under the wallet's own backup signature. */
async function backupOf(wallet: HDNodeWallet, secretKeyBytes = 4_096): Promise<Uint8Array> {
  const signature = await signKeyBackup(wallet, BACKUP_DOMAIN);
  const keyBundleHash = hashOf(keyBundleOf(wallet.address, 128));
  return sealKeyBackup({ secretKey: new Uint8Array(randomBytes(secretKeyBytes)), keyBundleHash, patient: wallet.address }, BACKUP_DOMAIN, signature);
}

describe("blob store: key backups by address (upload purpose key-backup, GET /key-backups/:address)", function () {
  const apis = blobApisOnRedis();
  const registered = new Map<string, Hash>();
  let chainDown = false;
  const uploads: UploadPolicyOptions = {
    domain: DOMAIN,
    hasRole: async () => false,
    currentKeyBundle: async (who) => {
      if (chainDown) throw new Error("chain unreachable");
      return registered.get(who.toLowerCase());
    },
  };
  let clock = Date.now();

  function start(options: { pendingBytesMax?: number } = {}): Promise<BlobApiHarness> {
    return apis.start({ uploads, pendingBytesMax: options.pendingBytesMax, gcAfterSeconds: GC_AFTER_SECONDS, now: () => clock });
  }

  function register(wallet: HDNodeWallet): Hash {
    const bundle = hashOf(keyBundleOf(wallet.address, 128));
    registered.set(wallet.address.toLowerCase(), bundle);
    return bundle;
  }

  const latest = (api: BlobApiHarness, address: string) => fetch(`${api.url}/key-backups/${address}`);
  const exists = async (api: BlobApiHarness, hash: Hash) => (await fetch(`${api.url}/blobs/${hash}`, { method: "HEAD" })).status === 200;
  /** One collection, as if `seconds` had passed: what the collector would do by then. */
  async function collectAfter(api: BlobApiHarness, seconds: number): Promise<void> {
    clock += seconds * 1000;
    await api.keeper.collect();
  }

  it("serves a patient's latest backup by address with its hash named, to anyone; 404 no_backup and 400 are JSON", async function () {
    const api = await start();
    const patient = Wallet.createRandom();
    const backup = await backupOf(patient);
    const stored = await signedPut(api.url, patient, DOMAIN, backup, "key-backup");
    expect(stored.status, await stored.clone().text()).to.equal(201);
    expect(((await stored.json()) as { purpose: string }).purpose).to.equal("key-backup");

    for (const address of [patient.address, patient.address.toLowerCase()]) {
      const response = await latest(api, address);
      expect(response.status).to.equal(200);
      expect(response.headers.get(KEY_BACKUP_HASH_HEADER)).to.equal(hashOf(backup));
      expect(response.headers.get("cache-control")).to.equal("no-store");
      expect(response.headers.get("content-type")).to.equal("application/octet-stream");
      expect(new Uint8Array(await response.arrayBuffer())).to.deep.equal(backup);
    }
    const client = new BlobClient(api.url);
    expect(await client.keyBackupOf(patient.address)).to.deep.equal({ hash: hashOf(backup), bytes: backup });
    expect(await client.keyBackupOf(Wallet.createRandom().address)).to.equal(undefined);

    const none = await errorOf(await latest(api, Wallet.createRandom().address), 404, "no_backup");
    expect(none.message).to.match(/^no backup for this address/);
    await errorOf(await latest(api, "0x1234"), 400, "invalid_address");
    // Mixed case with one letter's case flipped: a typo the checksum catches.
    await errorOf(await latest(api, "0xf39fd6e51aad88F6F4ce6aB8827279cffFb92266"), 400, "invalid_address");
  });

  it("takes a backup only from the patient it names: a throwaway wallet can neither upload over it nor delete it", async function () {
    const api = await start();
    const victim = Wallet.createRandom();
    register(victim);
    const backup = await backupOf(victim);
    expect((await signedPut(api.url, victim, DOMAIN, backup, "key-backup")).status).to.equal(201);

    const thief = Wallet.createRandom();
    // The victim's own backup bytes, re-signed by the thief: refused, the victim's index untouched.
    const replay = await backupOf(victim);
    const refused = await errorOf(await signedPut(api.url, thief, DOMAIN, replay, "key-backup"), 422, "owner_mismatch");
    expect(refused.message).to.contain(victim.address.toLowerCase());
    expect(await exists(api, hashOf(replay))).to.equal(false);
    // The thief's own backup is the thief's, and changes nothing for the victim.
    expect((await signedPut(api.url, thief, DOMAIN, await backupOf(thief), "key-backup")).status).to.equal(201);
    expect((await latest(api, victim.address)).headers.get(KEY_BACKUP_HASH_HEADER)).to.equal(hashOf(backup));
    await errorOf(await signedDelete(api.url, thief, DOMAIN, hashOf(backup)), 403, "not_owner");
    expect(await exists(api, hashOf(backup))).to.equal(true);

    // Not a backup at all, or more than a secret key can be: named refusals.
    await errorOf(await signedPut(api.url, victim, DOMAIN, keyBundleOf(victim.address), "key-backup"), 422, "wrong_kind");
    await errorOf(await signedPut(api.url, victim, DOMAIN, new Uint8Array(MAX_KEY_BACKUP_BYTES + 1), "key-backup"), 413, "too_large");
    // The patient may delete their own backup; the address then has none.
    expect((await signedDelete(api.url, victim, DOMAIN, hashOf(backup))).status).to.equal(200);
    await errorOf(await latest(api, victim.address), 404, "no_backup");
  });

  it("keeps a registered patient's latest backup for good and deletes the one it replaces", async function () {
    const api = await start();
    const patient = Wallet.createRandom();
    register(patient);
    const first = await backupOf(patient);
    const second = await backupOf(patient);
    expect((await signedPut(api.url, patient, DOMAIN, first, "key-backup")).status).to.equal(201);
    expect(await api.ledger.pendingBytesOf(patient.address)).to.equal(0); // kept at once: nothing counts against the quota
    expect((await signedPut(api.url, patient, DOMAIN, second, "key-backup")).status).to.equal(201);
    expect(await exists(api, hashOf(first))).to.equal(false);
    expect(api.deletions).to.deep.include({ reason: "owner", blobs: 1, bytes: first.length });
    expect((await latest(api, patient.address)).headers.get(KEY_BACKUP_HASH_HEADER)).to.equal(hashOf(second));
    // Long after: the collector leaves it.
    await collectAfter(api, 10 * GC_AFTER_SECONDS);
    expect(await exists(api, hashOf(second))).to.equal(true);
    expect((await latest(api, patient.address)).status).to.equal(200);
  });

  it("treats an unregistered address's backup like its key bundle: pending, under the global cap, collected if it never registers", async function () {
    const size = (await backupOf(Wallet.createRandom())).length;
    const api = await start({ pendingBytesMax: size + size / 2 });
    const first = Wallet.createRandom();
    const backup = await backupOf(first);
    expect((await signedPut(api.url, first, DOMAIN, backup, "key-backup")).status).to.equal(201);
    expect(await api.ledger.pendingBytesOf(first.address)).to.equal(backup.length);
    // A second anonymous address meets the cap; a registered patient does not.
    const second = Wallet.createRandom();
    await errorOf(await signedPut(api.url, second, DOMAIN, await backupOf(second), "key-backup"), 507, "store_full");
    const patient = Wallet.createRandom();
    register(patient);
    expect((await signedPut(api.url, patient, DOMAIN, await backupOf(patient), "key-backup")).status).to.equal(201);

    await collectAfter(api, GC_AFTER_SECONDS + 1);
    expect(await exists(api, hashOf(backup))).to.equal(false);
    await errorOf(await latest(api, first.address), 404, "no_backup");
    expect(await api.ledger.latestBackup(first.address), "the index forgets a collected backup").to.equal(undefined);
    expect(await api.ledger.pendingBytes()).to.equal(0);
    expect((await latest(api, patient.address)).status).to.equal(200);
  });

  it("pins an unregistered address's backup when the chain reports it registering keys, and keeps its later ones on arrival", async function () {
    const api = await start();
    const patient = Wallet.createRandom();
    const backup = await backupOf(patient);
    expect((await signedPut(api.url, patient, DOMAIN, backup, "key-backup")).status).to.equal(201);
    expect(await api.ledger.pendingBytesOf(patient.address)).to.equal(backup.length);

    // The listener's report of PatientKeysRegistered names the patient (the oracle here still says "not registered").
    const bundle = hashOf(keyBundleOf(patient.address, 128));
    await api.keeper.referenced([{ hash: bundle, kind: "key-bundle", patient: patient.address.toLowerCase() }]);
    await api.keeper.referenced([{ hash: bundle, kind: "key-bundle", patient: patient.address.toLowerCase() }]); // reported twice: no change
    expect(await api.ledger.pendingBytesOf(patient.address)).to.equal(0);
    expect((await api.ledger.status(hashOf(backup))).entry?.state).to.equal("kept");

    const later = await backupOf(patient);
    expect((await signedPut(api.url, patient, DOMAIN, later, "key-backup")).status).to.equal(201);
    expect((await api.ledger.status(hashOf(later))).entry?.state).to.equal("kept");
    expect(await exists(api, hashOf(backup))).to.equal(false); // replaced

    await collectAfter(api, 10 * GC_AFTER_SECONDS);
    expect((await latest(api, patient.address)).headers.get(KEY_BACKUP_HASH_HEADER)).to.equal(hashOf(later));
    // A registration report without a patient (an older listener's) pins no backup and breaks nothing.
    await api.keeper.referenced([{ hash: bundle, kind: "key-bundle" }]);
  });

  it("answers 503 chain_unavailable rather than guess that a backup's uploader is unregistered", async function () {
    const api = await start();
    const patient = Wallet.createRandom();
    chainDown = true;
    try {
      await errorOf(await signedPut(api.url, patient, DOMAIN, await backupOf(patient), "key-backup"), 503, "chain_unavailable");
    } finally {
      chainDown = false;
    }
    expect(await api.ledger.pendingBytes()).to.equal(0);
  });
});
