import { expect } from "chai";
import { Wallet, type HDNodeWallet, type TypedDataDomain, type TypedDataField } from "ethers";
import type { UploadPolicyOptions } from "../../coprocessor/api/upload-policy.js";
import { BlobClient, BlobStoreError } from "../../protocol/blob-client.js";
import type { Hash } from "../../protocol/hash.js";
import { SESSION_HEADERS, signedUploadHeaders, signUploadSession, uploadDomain, UPLOAD_HEADERS } from "../../protocol/upload-auth.js";
import { UploadSession, UploadSessionKeeper } from "../../protocol/upload-session.js";
import { blobApisOnRedis, errorOf, hashOf, keyBundleOf, recordOf, type BlobApiHarness } from "./blob-fixtures.js";

/**
 * Upload sessions: one wallet signature delegates uploads and deletions to an ephemeral key for at most 24 h
 * (protocol/upload-session.ts). In-process API over a real Redis ledger. What a stranger could try with a session is
 * tried here: speak for another wallet, stretch or reuse an expired delegation, sign with a key nobody delegated to,
 * replay a delegation from another deployment, delete someone else's blob.
 */
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const OTHER_DEPLOYMENT = uploadDomain(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");
const now = () => Math.floor(Date.now() / 1000);

/** A wallet that counts how often it is asked to sign typed data: what a person would have to confirm. */
class CountingWallet extends Wallet {
  prompts = 0;
  override signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    this.prompts++;
    return super.signTypedData(domain, types, value);
  }
}

describe("upload sessions: one wallet signature for a session's uploads and deletions", function () {
  const apis = blobApisOnRedis();
  const registered = new Map<string, Hash>();
  const uploads: UploadPolicyOptions = {
    domain: DOMAIN,
    hasRole: async () => false,
    currentKeyBundle: async (who) => registered.get(who.toLowerCase()),
  };
  const start = (): Promise<BlobApiHarness> => apis.start({ uploads });

  function newPatient(): { wallet: CountingWallet; bundle: Hash } {
    const wallet = new CountingWallet(Wallet.createRandom().privateKey);
    const bundle = hashOf(keyBundleOf(wallet.address, 128));
    registered.set(wallet.address.toLowerCase(), bundle);
    return { wallet, bundle };
  }

  const put = (api: BlobApiHarness, bytes: Uint8Array, headers: Record<string, string>) =>
    fetch(`${api.url}/blobs/${hashOf(bytes)}`, { method: "PUT", headers: { "content-type": "application/octet-stream", ...headers }, body: bytes as Uint8Array<ArrayBuffer> });

  it("takes a session-signed record as the delegating patient's (uploader = patient, sessionKey named) and lets the session delete it", async function () {
    const api = await start();
    const { wallet, bundle } = newPatient();
    const session = await UploadSession.open(wallet, DOMAIN);
    const record = recordOf(wallet.address, bundle);
    const response = await put(api, record, await session.uploadHeaders(hashOf(record), "record"));
    expect(response.status).to.equal(201);
    const receipt = (await response.json()) as { uploader: string; sessionKey: string };
    expect(receipt.uploader).to.equal(wallet.address);
    expect(receipt.sessionKey).to.equal(session.sessionKey);
    expect(await api.ledger.pendingBytesOf(wallet.address)).to.equal(record.length);
    const client = new BlobClient(api.url);
    expect(await client.delete(hashOf(record), { session })).to.equal(true);
    expect(await client.get(hashOf(record))).to.equal(undefined);
  });

  it("asks the wallet once for any number of uploads and deletions, and again only when the session is about to end", async function () {
    const api = await start();
    const { wallet, bundle } = newPatient();
    const keeper = new UploadSessionKeeper({ ttlSeconds: 3 * 3600 });
    const client = new BlobClient(api.url);
    const records = [1, 2, 3, 4, 5].map((n) => recordOf(wallet.address, bundle, 2_048 + n));
    // Five concurrent uploads share one signing request.
    await Promise.all(records.map(async (record) => client.put(record, { session: await keeper.session(wallet, DOMAIN), purpose: "record" })));
    expect(await client.delete(hashOf(records[0]!), { session: await keeper.session(wallet, DOMAIN) })).to.equal(true);
    expect(wallet.prompts).to.equal(1);
    // A session that ends within an upload signature's lifetime is not used: a new one is asked for.
    const shortKeeper = new UploadSessionKeeper({ ttlSeconds: 60 });
    await shortKeeper.session(wallet, DOMAIN);
    await shortKeeper.session(wallet, DOMAIN);
    expect(wallet.prompts).to.equal(3);
  });

  it("refuses a session key speaking for a wallet that did not delegate to it: 403 session_not_delegated", async function () {
    const api = await start();
    const victim = newPatient();
    const stranger = newPatient();
    const session = await UploadSession.open(stranger.wallet, DOMAIN);
    const record = recordOf(victim.wallet.address, victim.bundle);
    // The stranger's delegation, with the victim named as the signer.
    const headers = { ...(await session.uploadHeaders(hashOf(record), "record")), [UPLOAD_HEADERS.signer]: victim.wallet.address };
    const body = await errorOf(await put(api, record, headers), 403, "session_not_delegated");
    expect(body.message).to.include(victim.wallet.address);
    // And a delegation made on another deployment does not recover to the victim here either.
    const elsewhere = await UploadSession.open(victim.wallet, OTHER_DEPLOYMENT);
    await errorOf(await put(api, record, await elsewhere.uploadHeaders(hashOf(record), "record")), 403, "session_not_delegated");
    expect(await api.store.has(hashOf(record))).to.equal(false);
  });

  it("refuses an upload signed by another key than the delegated one (401 wrong_session_key), expired or over-long delegations, and partial session headers", async function () {
    const api = await start();
    const { wallet, bundle } = newPatient();
    const record = recordOf(wallet.address, bundle);
    const hash = hashOf(record);
    const delegated = Wallet.createRandom();
    const thief = Wallet.createRandom();
    const delegation = async (sessionKey: string, expiresAt: number) => ({
      [UPLOAD_HEADERS.signer]: wallet.address,
      [SESSION_HEADERS.key]: sessionKey,
      [SESSION_HEADERS.expires]: String(expiresAt),
      [SESSION_HEADERS.signature]: await signUploadSession(wallet, DOMAIN, { sessionKey, expiresAt }),
    });
    const signedBy = async (key: HDNodeWallet) => signedUploadHeaders(key, DOMAIN, hash, "record");

    await errorOf(await put(api, record, { ...(await signedBy(thief)), ...(await delegation(delegated.address, now() + 600)) }), 401, "wrong_session_key");
    await errorOf(await put(api, record, { ...(await signedBy(delegated)), ...(await delegation(delegated.address, now() - 1)) }), 401, "session_expired");
    const tooLong = await errorOf(await put(api, record, { ...(await signedBy(delegated)), ...(await delegation(delegated.address, now() + 25 * 3600)) }), 401, "session_too_long");
    expect(tooLong.message).to.include("86400");
    const partial: Record<string, string> = { ...(await signedBy(delegated)), ...(await delegation(delegated.address, now() + 600)) };
    delete partial[SESSION_HEADERS.signature];
    const missing = await errorOf(await put(api, record, partial), 401, "bad_session");
    expect(missing.message).to.include(SESSION_HEADERS.signature);
    // The delegation for one session key does not cover another (the key is inside the signed message).
    const swapped = { ...(await signedBy(thief)), ...(await delegation(delegated.address, now() + 600)), [SESSION_HEADERS.key]: thief.address };
    await errorOf(await put(api, record, swapped), 403, "session_not_delegated");
    expect(await api.store.has(hash)).to.equal(false);
    // The same record, properly signed by the delegated key, goes in.
    expect((await put(api, record, { ...(await signedBy(delegated)), ...(await delegation(delegated.address, now() + 600)) })).status).to.equal(201);
  });

  it("lets a session delete only its own patient's blobs: another patient's session gets 403 not_owner", async function () {
    const api = await start();
    const owner = newPatient();
    const other = newPatient();
    const record = recordOf(owner.wallet.address, owner.bundle);
    const client = new BlobClient(api.url);
    await client.put(record, { session: await UploadSession.open(owner.wallet, DOMAIN), purpose: "record" });
    const err = await client.delete(hashOf(record), { session: await UploadSession.open(other.wallet, DOMAIN) }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BlobStoreError);
    expect((err as BlobStoreError).code).to.equal("not_owner");
    expect(await api.store.has(hashOf(record))).to.equal(true);
  });

  it("refuses to open a session longer than the store takes, and one whose wallet signs for someone else", async function () {
    const wallet: HDNodeWallet = Wallet.createRandom();
    const tooLong = await UploadSession.open(wallet, DOMAIN, { ttlSeconds: 24 * 3600 + 1 }).catch((e: unknown) => e);
    expect(tooLong).to.be.instanceOf(RangeError);
    const liar = Object.assign(Wallet.createRandom(), { getAddress: async () => wallet.address });
    const refused = await UploadSession.open(liar, DOMAIN).catch((e: unknown) => e);
    expect((refused as Error).message).to.include("does not recover");
  });
});
