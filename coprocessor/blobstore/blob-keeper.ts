import type { Logger } from "pino";
import { parseBatchManifest, type BatchManifest } from "../../protocol/batch-manifest.js";
import type { Hash } from "../../protocol/hash.js";
import { isPatientPurpose, type PatientPurpose } from "../../protocol/upload-auth.js";
import type { BlobLedger } from "./blob-ledger.js";
import type { BlobLifecycle, BlobReference } from "./blob-lifecycle.js";
import { patientNamedIn } from "./blob-owner.js";
import type { FileBlobStore } from "./file-blob-store.js";

/** Why blobs left the store: collected as never referenced, erased on-chain, or deleted by their patient. */
export type DeletionReason = "gc" | "erasure" | "owner";

export interface BlobKeeperOptions {
  /** Pending uploads older than this are deleted. */
  gcAfterSeconds: number;
  /** Reservations, half-done collections and temporary files older than this were left by a crash. */
  staleAfterMs: number;
  /** Clock in ms (tests move it). */
  now?: () => number;
  /** Counts deletions (metrics). */
  onDeleted?: (reason: DeletionReason, blobs: number, bytes: number) => void;
  logger?: Logger;
}

/**
 * What the chain's references and erasures do to the store (the BlobLifecycle the chain listener drives), what a
 * patient's own deletion does, and the collector of pending uploads nobody referenced. The ledger keeps the books;
 * this class also deletes the files.
 */
export class BlobKeeper implements BlobLifecycle {
  private readonly now: () => number;

  constructor(
    readonly ledger: BlobLedger,
    readonly store: FileBlobStore,
    private readonly options: BlobKeeperOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async referenced(refs: ReadonlyArray<BlobReference>): Promise<void> {
    const entries = (kind: (typeof refs)[number]["kind"]) => refs.filter((ref) => ref.kind === kind).map((ref) => [ref.hash.toLowerCase() as Hash, ref.kind] as const);
    // Results are stored by the worker before its vote references them: no upload can follow, so nothing to await.
    await this.ledger.keep(entries("result"), { markMissing: false });
    await this.ledger.keep((["key-bundle", "record", "model", "result-share"] as const).flatMap(entries));
    // A registration also pins the patient's latest key backup, made before it or after.
    const registered = refs.flatMap((ref) => (ref.kind === "key-bundle" && ref.patient ? [ref.patient.toLowerCase()] : []));
    await this.ledger.patientsRegistered([...new Set(registered)]);
    for (const { hash } of refs.filter((ref) => ref.kind === "batch-root")) {
      const root = hash.toLowerCase() as Hash;
      // Remembered, so that a manifest of this root uploaded later is kept with its records.
      await this.ledger.keep([[root, "batch-root"]]);
      for (const manifestHash of await this.ledger.manifestsOf(root)) {
        await this.ledger.keep([[manifestHash, "batch-manifest"]]);
        const manifest = await this.readManifest(manifestHash);
        if (manifest) await this.manifestKept(manifest);
      }
    }
  }

  /** A kept manifest keeps every record it lists (those not uploaded yet are kept when they are). */
  async manifestKept(manifest: BatchManifest): Promise<void> {
    await this.ledger.keep(manifest.records.map((record) => [record, "record"] as const));
  }

  async erased(erasure: { patient: string; hash: Hash; kind: "record" | "batch-root" }): Promise<void> {
    const patient = erasure.patient.toLowerCase();
    const hash = erasure.hash.toLowerCase() as Hash;
    if (erasure.kind === "record") {
      await this.eraseOwned(hash, patient);
      return;
    }
    // A batch is erased through its manifest: the patient's own manifest(s) of this root, and the records they list
    // that are the patient's (a manifest can list any hash; erasing must not reach another patient's records).
    for (const manifestHash of await this.ledger.manifestsOf(hash)) {
      const manifest = await this.readManifest(manifestHash);
      if (!manifest || manifest.patient !== patient) continue;
      for (const record of manifest.records) await this.eraseOwned(record, patient);
      await this.eraseOwned(manifestHash, patient);
    }
  }

  /**
   * The patient a stored blob belongs to, and what it is: from the ledger, or read from the file for blobs stored
   * before the ledger existed. Undefined when the store has no such blob or it belongs to no patient.
   */
  async ownerOf(hash: Hash): Promise<{ purpose: PatientPurpose; owner: string } | undefined> {
    const { entry } = await this.ledger.status(hash);
    if (entry) return isPatientPurpose(entry.purpose) && entry.owner ? { purpose: entry.purpose, owner: entry.owner } : undefined;
    const bytes = await this.store.get(hash);
    return bytes ? patientNamedIn(bytes) : undefined;
  }

  /**
   * Erases a blob for good if it is `patient`'s or absent (then the hash is refused from now on): tombstone first, so
   * no upload racing the deletion can bring it back.
   */
  private async eraseOwned(hash: Hash, patient: string): Promise<void> {
    const stored = await this.store.has(hash);
    if (stored) {
      const owner = await this.ownerOf(hash);
      if (owner?.owner !== patient) {
        this.options.logger?.warn({ hash, patient }, "erasure names a blob that is not the patient's; left in place");
        return;
      }
    }
    const bytes = (await this.store.size(hash)) ?? 0;
    await this.ledger.drop(hash, { tombstone: true });
    if (await this.store.delete(hash)) this.options.onDeleted?.("erasure", 1, bytes);
  }

  /**
   * A key backup of `patient` was stored: it becomes their latest (kept for good if they are `registered`), and the
   * backup it replaces is deleted, if it is theirs. One backup per patient: the newest is what a restore opens.
   */
  async backupStored(patient: string, hash: Hash, options: { registered: boolean }): Promise<void> {
    const owner = patient.toLowerCase();
    const previous = await this.ledger.backupLanded(owner, hash, options);
    if (!previous) return;
    const { entry } = await this.ledger.status(previous);
    if (entry?.purpose !== "key-backup" || entry.owner !== owner) return;
    await this.deleteOwned(previous);
  }

  /** The hash of `patient`'s latest key backup while the store holds it; undefined otherwise. */
  async latestBackup(patient: string): Promise<Hash | undefined> {
    const hash = await this.ledger.latestBackup(patient);
    return hash && (await this.store.has(hash)) ? hash : undefined;
  }

  /** Deletes a blob at its patient's request (the caller checked ownership). No tombstone: the patient may upload it again. */
  async deleteOwned(hash: Hash): Promise<boolean> {
    const bytes = (await this.store.size(hash)) ?? 0;
    await this.ledger.drop(hash, { tombstone: false });
    const deleted = await this.store.delete(hash);
    if (deleted) this.options.onDeleted?.("owner", 1, bytes);
    return deleted;
  }

  /**
   * One collection: deletes every pending upload older than `gcAfterSeconds` (releasing its uploader's quota), and
   * whatever a crash left half done. Returns what it deleted.
   */
  async collect(): Promise<{ blobs: number; bytes: number }> {
    const now = this.now();
    const cutoff = now - this.options.gcAfterSeconds * 1000;
    const staleCutoff = now - this.options.staleAfterMs;
    let blobs = 0;
    let bytes = 0;
    for (;;) {
      const batch = await this.ledger.collectBatch(cutoff, staleCutoff);
      if (batch.length === 0) break;
      for (const blob of batch) {
        if (await this.store.delete(blob.hash)) {
          blobs++;
          bytes += blob.bytes;
        }
      }
      await this.ledger.collected(batch.map((blob) => blob.hash));
    }
    await this.store.removeStalePartials(staleCutoff);
    if (blobs > 0) {
      this.options.onDeleted?.("gc", blobs, bytes);
      this.options.logger?.info({ blobs, bytes }, "collected pending uploads nobody referenced");
    }
    return { blobs, bytes };
  }

  private async readManifest(hash: Hash): Promise<BatchManifest | undefined> {
    const bytes = await this.store.get(hash);
    if (!bytes) return undefined;
    try {
      return parseBatchManifest(bytes);
    } catch {
      return undefined;
    }
  }
}
