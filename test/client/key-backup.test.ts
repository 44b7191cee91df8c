import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gcm } from "@noble/ciphers/aes.js";
import { expect } from "chai";
import { getBytes, NonceManager, parseEther, Wallet, type Signer } from "ethers";
import { Redis } from "ioredis";
import { BlobKeeper } from "../../coprocessor/blobstore/blob-keeper.js";
import { BlobLedger } from "../../coprocessor/blobstore/blob-ledger.js";
import { FileBlobStore } from "../../coprocessor/blobstore/file-blob-store.js";
import { openLocalCrypto } from "../../client/crypto/local.js";
import type { PatientCrypto } from "../../client/crypto/patient-crypto.js";
import { errorView } from "../../client/error-view.js";
import { restoreKeys } from "../../client/key-backup.js";
import { readKeySet, writeKeySet } from "../../client/node/keystore.js";
import { PatientClient } from "../../client/patient-client.js";
import type { LocalStack } from "../../local/stack.js";
import { BlobStoreError } from "../../protocol/blob-client.js";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { decodeEnvelope } from "../../protocol/envelope.js";
import type { KeySet } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import { backupKeyFromSignature, KEY_BACKUP_PURPOSE, KEY_BACKUP_TYPES, KeyBackupError, keyBackupDomain, signKeyBackup } from "../../protocol/key-backup.js";
import { startLocalStackWithPatient, type LocalStackWithPatient } from "../helpers/local-stack-with-patient.js";
import { rejectionOf } from "../helpers/rejection.js";
import { waitFor } from "../helpers/wait.js";

/** Counts the typed-data signatures a wallet is asked for: a wrong wallet must not even be asked. */
function countingSigner(signer: Signer): { signer: Signer; signatures: () => number } {
  let count = 0;
  const proxy = new Proxy(signer, {
    get(target, property, receiver) {
      if (property === "signTypedData") {
        return (...args: Parameters<Signer["signTypedData"]>) => {
          count++;
          return target.signTypedData(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { signer: proxy, signatures: () => count };
}

describe("secret-key backup with the wallet, restored by the same wallet (hardhat node, redis-server, coprocessor, node-seal)", function () {
  let setup: LocalStackWithPatient;
  let stack: LocalStack;
  const cleanup: Array<() => Promise<unknown> | unknown> = [];

  before(async function () {
    setup = await startLocalStackWithPatient({ readings: 2, stack: { coprocessorEnv: { PMHE_OPERATOR_PORT: "0" } } });
    stack = setup.stack;
  });

  after(async function () {
    for (const step of cleanup.reverse()) await step();
    await setup?.stop();
  });

  /** A funded wallet whose private key the test holds (to use it again as "another device"). */
  async function fundedWallet(): Promise<Wallet> {
    const wallet = new Wallet(Wallet.createRandom().privateKey, stack.provider);
    await (await stack.admin.sendTransaction({ to: wallet.address, value: parseEther("1") })).wait();
    return wallet;
  }

  /** A patient client over in-process crypto for `wallet`, with a fresh key set (registered unless told not to). */
  async function patientOf(wallet: Wallet, options: { register?: boolean } = {}): Promise<{ client: PatientClient; keys: KeySet; crypto: PatientCrypto }> {
    const keys = setup.engine.generateKeySet({ patient: wallet.address });
    const crypto = await openLocalCrypto(keys, { engine: setup.engine });
    cleanup.push(() => crypto.dispose());
    const client = new PatientClient({ crypto, signer: new NonceManager(wallet), contractAddress: stack.contractAddress, blobs: stack.blobs, pollIntervalMs: 100 });
    if (options.register !== false) await client.register();
    return { client, keys, crypto };
  }

  /** Another device: the same private key, nothing else shared (a new wallet instance, a new key directory). */
  const sameWalletElsewhere = (wallet: Wallet) => new NonceManager(new Wallet(wallet.privateKey, stack.provider));

  it("backs up, restores into a fresh key directory with the same wallet alone, and decrypts an earlier result there", async function () {
    const wallet = await fundedWallet();
    const { client, keys } = await patientOf(wallet);
    const earlier = await client.predict(setup.ref, setup.readings[0]!);
    const receipt = await client.backupKeys();
    expect(receipt.keyBundleHash).to.equal(client.keyBundleHash);

    const device = sameWalletElsewhere(wallet);
    const restored = await restoreKeys({ signer: device, contractAddress: stack.contractAddress, blobs: stack.blobs });
    expect(restored).to.include({ keyBundleHash: client.keyBundleHash, backupHash: receipt.backupHash, current: true });
    const directory = await mkdtemp(join(tmpdir(), "pmhe-restored-"));
    cleanup.push(() => rm(directory, { recursive: true, force: true }));
    await writeKeySet(join(directory, "keys"), restored.keys);
    const fromDisk = await readKeySet(join(directory, "keys"));
    expect(fromDisk.secretKey).to.deep.equal(keys.secretKey);
    expect(fromDisk.keyBundle).to.deep.equal(keys.keyBundle);

    const crypto = await openLocalCrypto(fromDisk);
    cleanup.push(() => crypto.dispose());
    const elsewhere = new PatientClient({ crypto, signer: device, contractAddress: stack.contractAddress, blobs: stack.blobs, pollIntervalMs: 100 });
    const history = await elsewhere.history();
    expect(history.map((job) => [job.jobId, job.status, job.decryptable])).to.deep.equal([[earlier.jobId, "Finalized", true]]);
    const again = await elsewhere.predictionOf(earlier.jobId);
    expect(again.probability).to.equal(earlier.probability);
    expect(again.predictedClass).to.equal(earlier.predictedClass);
  });

  it("refuses a wrong wallet plainly, without asking it to sign; a wallet without a backup hears 'no backup for this address'", async function () {
    const owner = await fundedWallet();
    const { client } = await patientOf(owner);
    await client.backupKeys();
    const found = await stack.blobs.keyBackupOf(owner.address);
    expect(found).to.not.equal(undefined);

    const stranger = countingSigner(new NonceManager(await fundedWallet()));
    const wrong = await rejectionOf(restoreKeys({ signer: stranger.signer, contractAddress: stack.contractAddress, blobs: stack.blobs, backup: found!.bytes }));
    expect(wrong).to.be.instanceOf(KeyBackupError);
    expect(wrong.message).to.match(/^this backup was made with another wallet/);
    expect(stranger.signatures()).to.equal(0);
    expect(errorView(wrong, { surface: "cli" })).to.include({ kind: "key-backup", title: "Backup of another wallet", next: "set PMHE_PATIENT_KEY to the wallet that made the backup" });

    const none = await rejectionOf(restoreKeys({ signer: stranger.signer, contractAddress: stack.contractAddress, blobs: stack.blobs }));
    expect((none as KeyBackupError).code).to.equal("no_backup");
    expect(none.message).to.match(/^no backup for this address/);
  });

  it("collects the backup of an address that never registers, and keeps one made before registering once the address registers", async function () {
    const never = await fundedWallet();
    const { client: anonymous } = await patientOf(never, { register: false });
    const lost = await anonymous.backupKeys();
    const later = await fundedWallet();
    const { client: registering } = await patientOf(later, { register: false });
    const kept = await registering.backupKeys();

    // The books of the stack's store, in its Redis; the listener pins the backup once it sees the registration.
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
    cleanup.push(() => redis.disconnect());
    const { chainId } = await stack.provider.getNetwork();
    const ledgerOf = (now?: () => number) =>
      new BlobLedger(redis, { prefix: `pmhe:{blobs:${chainId}:${stack.contractAddress.toLowerCase()}}`, quotaBytes: 64 * 2 ** 20, pendingBytesMax: 2 ** 31, now });
    const state = async (hash: Hash) => (await ledgerOf().status(hash)).entry?.state;
    expect(await state(lost.backupHash)).to.equal("pending");
    expect(await state(kept.backupHash)).to.equal("pending");
    await registering.register();
    await waitFor("the listener to pin the backup of the address that registered", async () => ((await state(kept.backupHash)) === "kept" ? true : undefined), { timeoutMs: 30_000 });

    // The collector as it will run two hours from now, over the same ledger and directory.
    const future = Date.now() + 2 * 3_600_000;
    const collector = new BlobKeeper(ledgerOf(() => future), new FileBlobStore(stack.blobDir), { gcAfterSeconds: 3_600, staleAfterMs: 3_600_000, now: () => future });
    await collector.collect();
    expect(await stack.blobs.keyBackupOf(never.address)).to.equal(undefined);
    expect(await stack.blobs.get(lost.backupHash)).to.equal(undefined);
    expect((await stack.blobs.keyBackupOf(later.address))?.hash).to.equal(kept.backupHash);
    const restored = await restoreKeys({ signer: sameWalletElsewhere(later), contractAddress: stack.contractAddress, blobs: stack.blobs });
    expect(restored).to.include({ keyBundleHash: registering.keyBundleHash, current: true });
  });

  it("lets no throwaway wallet overwrite or delete another patient's backup, and gives it only ciphertext to read", async function () {
    const victimWallet = await fundedWallet();
    const { client: victim, keys } = await patientOf(victimWallet);
    const { backupHash } = await victim.backupKeys();
    const thief = new NonceManager(await fundedWallet());
    const domain = stack.uploadDomain;

    const stolen = (await stack.blobs.keyBackupOf(victimWallet.address))!;
    const overwrite = await rejectionOf(stack.blobs.put(stolen.bytes, { signer: thief, purpose: "key-backup", domain }));
    expect(overwrite).to.be.instanceOf(BlobStoreError);
    expect((overwrite as BlobStoreError).code).to.equal("owner_mismatch");
    expect(await stack.blobs.delete(backupHash, { signer: thief, domain }).catch((err: BlobStoreError) => err.code)).to.equal("not_owner");
    // The thief's own backup is filed under the thief.
    const { client: thiefClient } = await patientOf(new Wallet((thief.signer as Wallet).privateKey, stack.provider));
    await thiefClient.backupKeys();
    expect((await stack.blobs.keyBackupOf(victimWallet.address))?.hash).to.equal(backupHash);

    // What the thief can read: ciphertext. No 16-byte run of the secret key is in it, and a key derived from the
    // thief's own signature over the victim's backup message does not open it.
    const text = Buffer.from(stolen.bytes).toString("latin1");
    for (let i = 0; i + 16 <= keys.secretKey.length; i += 16) {
      expect(text.includes(Buffer.from(keys.secretKey.subarray(i, i + 16)).toString("latin1")), `secret key bytes at ${i}`).to.equal(false);
    }
    const { chainId } = await stack.provider.getNetwork();
    const backupDomain = keyBackupDomain(chainId, stack.contractAddress);
    const thiefSignature = await thief.signTypedData(backupDomain, KEY_BACKUP_TYPES, { purpose: KEY_BACKUP_PURPOSE, patient: victimWallet.address });
    const { header, sections } = decodeEnvelope(stolen.bytes, "key-backup");
    expect(() => gcm(backupKeyFromSignature(thiefSignature), getBytes(header.nonce as string), new TextEncoder().encode(canonicalJson(header))).decrypt(sections.get("ciphertext")!)).to.throw();
    // The victim's own signature is what opens it, and the thief cannot ask the victim's wallet for it.
    expect(await signKeyBackup(thief, backupDomain)).to.not.equal(await signKeyBackup(victimWallet, backupDomain));
  });
});
