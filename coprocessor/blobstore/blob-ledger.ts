import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Hash } from "../../protocol/hash.js";
import { isUploadPurpose, type UploadPurpose } from "../../protocol/upload-auth.js";

/**
 * The blob store's book-keeping, in Redis (the files stay the data): what each upload is for and whose it is, which
 * uploads are still pending (not yet referenced on-chain) with their bytes counted against their uploader's quota and
 * a global cap, which hashes were erased for good (tombstones), and which manifests list a batch root.
 *
 * Every change is one Lua script, so concurrent uploads cannot both pass a quota check that only one fits, and a
 * report the chain listener repeats changes nothing the second time. All keys share one hash tag (the prefix), so
 * the scripts stay on one node of a Redis Cluster.
 *
 * Keys under `P` = prefix:
 *   P:blob:<hash>         HASH state (pending | kept | collecting), purpose, uploader, owner, bytes, at (ms), root
 *   P:pending:<uploader>  bytes pending (and reserved by uploads in flight) of one uploader; absent at zero
 *   P:pending-total       the same over all uploaders
 *   P:pending-since       ZSET pending hashes by upload time, for the collector
 *   P:collecting          ZSET hashes whose files the collector is deleting, by when it started
 *   P:reservations        ZSET `<uploader>|<bytes>|<id>` by time: bytes held by uploads in flight
 *   P:ref:<hash>          the chain referenced this hash before it was uploaded: keep it on arrival (expires)
 *   P:erased:<hash>       tombstone: erased on-chain, refused from now on (permanent)
 *   P:manifests:<root>    SET of manifest hashes that list this batch root
 *   P:backup:<patient>    the hash of the patient's latest key backup (forgotten when that blob leaves the store)
 *   P:registered:<patient> the chain listener saw the patient register keys: their backups are kept on arrival
 */

export type BlobState = "pending" | "kept" | "collecting";

export interface BlobEntry {
  state: BlobState;
  purpose: UploadPurpose;
  /** Lower-case address that signed the upload. */
  uploader: string;
  /** Lower-case address of the patient the blob names (patient purposes only). */
  owner?: string;
  bytes: number;
  /** Upload time, ms since the epoch. */
  at: number;
  /** Batch manifests: the root they list records under. */
  root?: Hash;
}

/** Bytes held for an upload in flight, until it is committed or released. */
export interface Reservation {
  uploader: string;
  bytes: number;
  /** The reservation's member in P:reservations. */
  readonly member: string;
}

export type CommitOutcome =
  /** New, counted against the uploader until referenced. */
  | "pending"
  /** New, and already referenced on-chain: kept, not counted. */
  | "kept"
  /** A manifest whose batch root is already referenced: kept; its records must be kept too. */
  | "kept-batch"
  /** Uploaded before (by anyone): nothing is counted again; if still pending, its collection clock restarts. */
  | "exists"
  /** Erased on-chain: refuse it. */
  | "erased"
  /** The collector is deleting an earlier copy right now: try again. */
  | "collecting";

export class QuotaExceededError extends Error {
  constructor(readonly pendingBytes: number, readonly quotaBytes: number, readonly requestedBytes: number) {
    super(`${pendingBytes} bytes of this uploader's are pending (not yet referenced on-chain); ${requestedBytes} more would pass the quota of ${quotaBytes}`);
    this.name = "QuotaExceededError";
  }
}

export class StoreFullError extends Error {
  constructor(readonly pendingBytes: number, readonly maxBytes: number) {
    super(`the store holds ${pendingBytes} pending bytes, its limit is ${maxBytes}`);
    this.name = "StoreFullError";
  }
}

export interface BlobLedgerOptions {
  /** Key prefix; must hold a Redis hash tag (`{...}`) when Redis is a cluster. */
  prefix: string;
  /** Most bytes one uploader may have pending. */
  quotaBytes: number;
  /** Most bytes pending over all uploaders, checked against uploads of uploaders with nothing on-chain. */
  pendingBytesMax: number;
  /** How long a reference that arrived before its upload is remembered. Default 7 days. */
  refTtlSeconds?: number;
  /** Clock in ms (tests move it). */
  now?: () => number;
}

export const DEFAULT_REF_TTL_SECONDS = 7 * 24 * 3600;

const PRELUDE = `
local P = ARGV[1]
local function decr(key, n)
  if n <= 0 then return end
  if redis.call('DECRBY', key, n) <= 0 then redis.call('DEL', key) end
end
local function unpend(uploader, bytes)
  decr(P .. ':pending:' .. uploader, bytes)
  decr(P .. ':pending-total', bytes)
end
local function unreserve(member)
  if redis.call('ZREM', P .. ':reservations', member) == 1 then
    local uploader, bytes = string.match(member, '^([^|]+)|(%d+)|')
    unpend(uploader, tonumber(bytes))
  end
end
local function unpend_blob(key)
  unpend(redis.call('HGET', key, 'uploader'), tonumber(redis.call('HGET', key, 'bytes')))
end
local function keep_pending(hash)
  local key = P .. ':blob:' .. hash
  if redis.call('HGET', key, 'state') ~= 'pending' then return end
  unpend_blob(key)
  redis.call('ZREM', P .. ':pending-since', hash)
  redis.call('HSET', key, 'state', 'kept')
end
-- a key backup leaving the store: its patient's index forgets it, unless a newer backup took its place
local function forget_backup(key, hash)
  if redis.call('HGET', key, 'purpose') ~= 'key-backup' then return end
  local index = P .. ':backup:' .. (redis.call('HGET', key, 'owner') or '')
  if redis.call('GET', index) == hash then redis.call('DEL', index) end
end
`;

const SCRIPTS = {
  // ARGV: P, uploader, bytes, quota, cap (-1: none), member, now
  reserve: `
local uploader, bytes = ARGV[2], tonumber(ARGV[3])
local mine = tonumber(redis.call('GET', P .. ':pending:' .. uploader) or '0')
if mine + bytes > tonumber(ARGV[4]) then return {'quota', tostring(mine)} end
local total = tonumber(redis.call('GET', P .. ':pending-total') or '0')
local cap = tonumber(ARGV[5])
if cap >= 0 and total + bytes > cap then return {'full', tostring(total)} end
redis.call('INCRBY', P .. ':pending:' .. uploader, bytes)
redis.call('INCRBY', P .. ':pending-total', bytes)
redis.call('ZADD', P .. ':reservations', ARGV[7], ARGV[6])
return {'ok', tostring(mine + bytes)}`,
  // ARGV: P, member
  release: `
unreserve(ARGV[2])
return 1`,
  // ARGV: P, member, hash, purpose, uploader, owner, bytes, now, root
  commit: `
local hash, root = ARGV[3], ARGV[9]
unreserve(ARGV[2])
if redis.call('EXISTS', P .. ':erased:' .. hash) == 1 then return 'erased' end
local key = P .. ':blob:' .. hash
local state = redis.call('HGET', key, 'state')
if state == 'collecting' then return 'collecting' end
if state then
  -- uploaded again while pending: the collector's clock starts over (the bytes are already counted)
  if state == 'pending' then
    redis.call('HSET', key, 'at', ARGV[8])
    redis.call('ZADD', P .. ':pending-since', ARGV[8], hash)
  end
  return 'exists'
end
local kept = redis.call('EXISTS', P .. ':ref:' .. hash) == 1
local batch = false
if root ~= '' then
  redis.call('SADD', P .. ':manifests:' .. root, hash)
  if redis.call('GET', P .. ':ref:' .. root) == 'batch-root' then kept = true; batch = true end
end
redis.call('HSET', key, 'purpose', ARGV[4], 'uploader', ARGV[5], 'owner', ARGV[6], 'bytes', ARGV[7], 'at', ARGV[8], 'root', root)
if kept then
  redis.call('HSET', key, 'state', 'kept')
  redis.call('DEL', P .. ':ref:' .. hash)
  if batch then return 'kept-batch' end
  return 'kept'
end
redis.call('HSET', key, 'state', 'pending')
redis.call('INCRBY', P .. ':pending:' .. ARGV[5], tonumber(ARGV[7]))
redis.call('INCRBY', P .. ':pending-total', tonumber(ARGV[7]))
redis.call('ZADD', P .. ':pending-since', ARGV[8], hash)
return 'pending'`,
  // ARGV: P, refTtl, mark ('1' or '0'), hash1, kind1, hash2, kind2, ...
  keep: `
local released = 0
for i = 4, #ARGV, 2 do
  local hash, kind = ARGV[i], ARGV[i + 1]
  local key = P .. ':blob:' .. hash
  local state = redis.call('HGET', key, 'state')
  if state == 'pending' then
    local bytes = tonumber(redis.call('HGET', key, 'bytes'))
    unpend_blob(key)
    redis.call('ZREM', P .. ':pending-since', hash)
    redis.call('HSET', key, 'state', 'kept')
    released = released + bytes
  elseif state ~= 'kept' and ARGV[3] == '1' then
    redis.call('SET', P .. ':ref:' .. hash, kind, 'EX', ARGV[2])
  end
end
return released`,
  // ARGV: P, hash, tombstone ('1' or '0')
  drop: `
local hash = ARGV[2]
if ARGV[3] == '1' then redis.call('SET', P .. ':erased:' .. hash, '1') end
local key = P .. ':blob:' .. hash
local state = redis.call('HGET', key, 'state')
if state == 'pending' then
  unpend_blob(key)
  redis.call('ZREM', P .. ':pending-since', hash)
end
local root = redis.call('HGET', key, 'root')
if root and root ~= '' then redis.call('SREM', P .. ':manifests:' .. root, hash) end
forget_backup(key, hash)
redis.call('ZREM', P .. ':collecting', hash)
redis.call('DEL', key, P .. ':ref:' .. hash)
return state or ''`,
  // ARGV: P, pending cutoff, stale cutoff, limit, now. Returns hash, bytes, hash, bytes, ...
  collect: `
local limit = tonumber(ARGV[4])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', P .. ':reservations', '-inf', ARGV[3], 'LIMIT', 0, limit)) do
  unreserve(member)
end
local out = {}
-- deletions a crashed collector started and never finished
for _, hash in ipairs(redis.call('ZRANGEBYSCORE', P .. ':collecting', '-inf', ARGV[3], 'LIMIT', 0, limit)) do
  local bytes = redis.call('HGET', P .. ':blob:' .. hash, 'bytes')
  if bytes then
    redis.call('ZADD', P .. ':collecting', ARGV[5], hash)
    table.insert(out, hash); table.insert(out, bytes)
  else
    redis.call('ZREM', P .. ':collecting', hash)
  end
end
for _, hash in ipairs(redis.call('ZRANGEBYSCORE', P .. ':pending-since', '-inf', ARGV[2], 'LIMIT', 0, limit)) do
  redis.call('ZREM', P .. ':pending-since', hash)
  local key = P .. ':blob:' .. hash
  if redis.call('HGET', key, 'state') == 'pending' then
    local bytes = redis.call('HGET', key, 'bytes')
    unpend_blob(key)
    redis.call('HSET', key, 'state', 'collecting')
    redis.call('ZADD', P .. ':collecting', ARGV[5], hash)
    table.insert(out, hash); table.insert(out, bytes)
  end
end
return out`,
  // ARGV: P, hash1, hash2, ... (files deleted): forget the ones still being collected
  collected: `
for i = 2, #ARGV do
  local hash = ARGV[i]
  local key = P .. ':blob:' .. hash
  redis.call('ZREM', P .. ':collecting', hash)
  if redis.call('HGET', key, 'state') == 'collecting' then
    local root = redis.call('HGET', key, 'root')
    if root and root ~= '' then redis.call('SREM', P .. ':manifests:' .. root, hash) end
    forget_backup(key, hash)
    redis.call('DEL', key)
  end
end
return 1`,
  // ARGV: P, patient, hash, registered ('1' or '0'). Returns the backup it replaces, or ''.
  backup: `
local patient, hash = ARGV[2], ARGV[3]
local index = P .. ':backup:' .. patient
local previous = redis.call('GET', index) or ''
redis.call('SET', index, hash)
if ARGV[4] == '1' or redis.call('EXISTS', P .. ':registered:' .. patient) == 1 then keep_pending(hash) end
if previous == hash then return '' end
return previous`,
  // ARGV: P, patient1, patient2, ... Returns the latest backups it kept.
  registered: `
local kept = {}
for i = 2, #ARGV do
  local patient = ARGV[i]
  redis.call('SET', P .. ':registered:' .. patient, '1')
  local hash = redis.call('GET', P .. ':backup:' .. patient)
  if hash then
    keep_pending(hash)
    table.insert(kept, hash)
  end
end
return kept`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Runner = (...args: Array<string | number>) => Promise<unknown>;

/** Collector batches: at most this many hashes per script call, so no call blocks Redis for long. */
const COLLECT_BATCH = 256;
/** Hashes per `keep` call (a manifest's records are pinned in a few calls). */
const KEEP_BATCH = 512;

function entryFrom(fields: Record<string, string>): BlobEntry | undefined {
  const state = fields.state;
  if (state !== "pending" && state !== "kept" && state !== "collecting") return undefined;
  const purpose = fields.purpose;
  if (!isUploadPurpose(purpose)) return undefined;
  return {
    state,
    purpose,
    uploader: fields.uploader ?? "",
    owner: fields.owner ? fields.owner : undefined,
    bytes: Number(fields.bytes ?? 0),
    at: Number(fields.at ?? 0),
    root: fields.root ? (fields.root as Hash) : undefined,
  };
}

export class BlobLedger {
  readonly prefix: string;
  private readonly scripts: Record<ScriptName, Runner>;
  private readonly now: () => number;
  private readonly refTtlSeconds: number;

  constructor(private readonly redis: Redis, private readonly options: BlobLedgerOptions) {
    this.prefix = options.prefix;
    this.now = options.now ?? Date.now;
    this.refTtlSeconds = options.refTtlSeconds ?? DEFAULT_REF_TTL_SECONDS;
    const scripts = {} as Record<ScriptName, Runner>;
    for (const [name, body] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
      // ioredis runs defined commands by EVALSHA, loading the script once per connection.
      const command = `pmheBlobLedger_${name}`;
      redis.defineCommand(command, { numberOfKeys: 0, lua: PRELUDE + body });
      scripts[name] = (...args) => (redis as unknown as Record<string, Runner>)[command]!(this.prefix, ...args);
    }
    this.scripts = scripts;
  }

  get quotaBytes(): number {
    return this.options.quotaBytes;
  }

  get pendingBytesMax(): number {
    return this.options.pendingBytesMax;
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  /**
   * Holds `bytes` of `uploader`'s quota for an upload about to be read, and, for an uploader with nothing on-chain
   * (`anonymous`), of the global cap too. Throws QuotaExceededError or StoreFullError when they do not fit.
   *
   * Why only anonymous uploads meet the cap: wallets cost nothing, so the per-signer quota alone does not bound what
   * throwaway wallets can park here, and the cap does; but if it applied to everyone, such a flood would fill it and
   * lock registered patients (who paid for their registration) out of uploading their records.
   */
  async reserve(uploader: string, bytes: number, options: { anonymous?: boolean } = {}): Promise<Reservation> {
    const who = uploader.toLowerCase();
    const member = `${who}|${bytes}|${randomBytes(8).toString("hex")}`;
    const cap = options.anonymous === false ? -1 : this.options.pendingBytesMax;
    const [outcome, pending] = (await this.scripts.reserve(who, bytes, this.options.quotaBytes, cap, member, this.now())) as [string, string];
    if (outcome === "quota") throw new QuotaExceededError(Number(pending), this.options.quotaBytes, bytes);
    if (outcome === "full") throw new StoreFullError(Number(pending), this.options.pendingBytesMax);
    return { uploader: who, bytes, member };
  }

  /** Gives a reservation back (the upload failed). Idempotent. */
  async release(reservation: Reservation): Promise<void> {
    await this.scripts.release(reservation.member);
  }

  /** Records an upload that passed every check, turning its reservation into its pending bytes (if it is new). */
  async commit(
    reservation: Reservation,
    blob: { hash: Hash; purpose: UploadPurpose; bytes: number; owner?: string; root?: Hash },
  ): Promise<CommitOutcome> {
    return (await this.scripts.commit(
      reservation.member,
      blob.hash,
      blob.purpose,
      reservation.uploader,
      blob.owner?.toLowerCase() ?? "",
      blob.bytes,
      this.now(),
      blob.root ?? "",
    )) as CommitOutcome;
  }

  /** Whether `hash` was erased on-chain, and what the ledger knows of it. */
  async status(hash: Hash): Promise<{ erased: boolean; entry?: BlobEntry }> {
    const answers = await this.redis.multi().exists(this.key("erased", hash)).hgetall(this.key("blob", hash)).exec();
    if (!answers) throw new Error("the ledger transaction was aborted");
    for (const [err] of answers) if (err) throw err;
    return { erased: answers[0]![1] === 1, entry: entryFrom(answers[1]![1] as Record<string, string>) };
  }

  async isErased(hash: Hash): Promise<boolean> {
    return (await this.redis.exists(this.key("erased", hash))) === 1;
  }

  /**
   * Keeps blobs for good: pending ones stop counting against their uploader. With `markMissing` (the default), hashes
   * not uploaded yet are remembered for `refTtlSeconds` and kept as soon as they arrive; without it they are not
   * (results: the worker stores them before it votes, so a marker per job would only fill Redis). Returns the
   * pending bytes released. Idempotent.
   */
  async keep(refs: ReadonlyArray<readonly [hash: Hash, kind: string]>, options: { markMissing?: boolean } = {}): Promise<number> {
    let released = 0;
    const mark = options.markMissing === false ? "0" : "1";
    for (let i = 0; i < refs.length; i += KEEP_BATCH) {
      const args = refs.slice(i, i + KEEP_BATCH).flatMap(([hash, kind]) => [hash, kind]);
      released += Number(await this.scripts.keep(this.refTtlSeconds, mark, ...args));
    }
    return released;
  }

  /** Forgets a blob (its file is being deleted), releasing its pending bytes; `tombstone` refuses it from now on. */
  async drop(hash: Hash, options: { tombstone: boolean }): Promise<BlobState | undefined> {
    const state = (await this.scripts.drop(hash, options.tombstone ? "1" : "0")) as string;
    return state === "" ? undefined : (state as BlobState);
  }

  /**
   * Makes `hash` `patient`'s latest key backup and returns the one it replaces (undefined if none, or the same). It is
   * kept for good at once when the patient is `registered` (the chain says so) or the listener has seen them register;
   * otherwise it stays pending until `patientsRegistered` names them, and is collected if that never comes.
   */
  async backupLanded(patient: string, hash: Hash, options: { registered: boolean }): Promise<Hash | undefined> {
    const previous = (await this.scripts.backup(patient.toLowerCase(), hash, options.registered ? "1" : "0")) as string;
    return previous === "" ? undefined : (previous as Hash);
  }

  /**
   * The chain says these patients registered keys: remembered (their later backups are kept on arrival), and each
   * one's latest backup is kept for good. Returns the backups kept. Idempotent.
   */
  async patientsRegistered(patients: readonly string[]): Promise<Hash[]> {
    if (patients.length === 0) return [];
    return (await this.scripts.registered(...patients.map((p) => p.toLowerCase()))) as Hash[];
  }

  /** The hash of `patient`'s latest key backup, if the ledger has one. */
  async latestBackup(patient: string): Promise<Hash | undefined> {
    return ((await this.redis.get(this.key("backup", patient.toLowerCase()))) ?? undefined) as Hash | undefined;
  }

  /** The manifests uploaded for a batch root. */
  async manifestsOf(root: Hash): Promise<Hash[]> {
    return (await this.redis.smembers(this.key("manifests", root))) as Hash[];
  }

  /**
   * Takes the next pending blobs uploaded before `cutoffMs` out of the books (their bytes released) and marks them
   * as being collected; also frees reservations and unfinished collections older than `staleCutoffMs`. The caller
   * deletes the files, then calls `collected`.
   */
  async collectBatch(cutoffMs: number, staleCutoffMs: number): Promise<Array<{ hash: Hash; bytes: number }>> {
    const flat = (await this.scripts.collect(cutoffMs, staleCutoffMs, COLLECT_BATCH, this.now())) as string[];
    const out: Array<{ hash: Hash; bytes: number }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ hash: flat[i] as Hash, bytes: Number(flat[i + 1]) });
    return out;
  }

  async collected(hashes: readonly Hash[]): Promise<void> {
    if (hashes.length > 0) await this.scripts.collected(...hashes);
  }

  /** Bytes pending over all uploaders (reservations of uploads in flight included). */
  async pendingBytes(): Promise<number> {
    return Number((await this.redis.get(this.key("pending-total"))) ?? 0);
  }

  /** Bytes pending of one uploader (reservations of uploads in flight included). */
  async pendingBytesOf(uploader: string): Promise<number> {
    return Number((await this.redis.get(this.key("pending", uploader.toLowerCase()))) ?? 0);
  }
}
