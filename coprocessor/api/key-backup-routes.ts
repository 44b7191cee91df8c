import { pipeline } from "node:stream";
import { DEFAULT_DOWNLOAD_FLOOR, enforceDownloadFloor, type DownloadFloor } from "./download-floor.js";
import { isAddress } from "ethers";
import { Router } from "express";
import type { Logger } from "pino";
import { KEY_BACKUP_HASH_HEADER } from "../../protocol/key-backup.js";
import type { BlobKeeper } from "../blobstore/blob-keeper.js";
import { ledger } from "./blob-routes.js";
import { HttpError } from "./errors.js";
import type { TransferSlots } from "./slots.js";

export interface KeyBackupRouteOptions {
  keeper: BlobKeeper;
  downloadSlots: TransferSlots;
  /** See blob-routes.ts: a trickling reader is cut once it runs below this. */
  downloadFloor?: DownloadFloor;
  logger?: Logger;
}

/**
 * GET /key-backups/:address: the latest key backup of a patient (protocol/key-backup.ts), streamed, with its content
 * hash in `x-pmhe-blob-hash`; 404 `no_backup` when the store keeps none for the address. Public like every blob: a
 * backup is AES-GCM ciphertext under a key only the patient's wallet signature gives. A new device knows nothing but
 * the wallet address, which is why backups are found by address and not by hash.
 */
export function keyBackupRoutes({ keeper, downloadSlots, downloadFloor = DEFAULT_DOWNLOAD_FLOOR, logger }: KeyBackupRouteOptions): Router {
  const router = Router();
  router.get("/key-backups/:address", async (req, res) => {
    const address = String(req.params.address);
    if (!isAddress(address)) throw new HttpError(400, "invalid_address", "a patient address is 0x followed by 40 hex digits (a mixed-case one with a valid checksum)");
    const patient = address.toLowerCase();
    const noBackup = () => new HttpError(404, "no_backup", `no backup for this address: the store keeps no key backup of ${patient}`);
    const hash = await ledger(() => keeper.latestBackup(patient));
    if (!hash) throw noBackup();
    const releaseSlot = downloadSlots.acquire(req.ip);
    let opened;
    try {
      opened = await keeper.store.open(hash);
    } catch (err) {
      releaseSlot();
      throw err;
    }
    if (!opened) {
      releaseSlot();
      throw noBackup(); // collected or replaced since the ledger answered
    }
    res.once("close", releaseSlot);
    enforceDownloadFloor(res, downloadFloor, (rate) => logger?.warn({ hash, bytesPerSecond: Math.round(rate) }, "key backup download cut: slower than the floor"));
    res.status(200).set({
      "Content-Type": "application/octet-stream",
      "Content-Length": String(opened.size),
      "Cache-Control": "no-store",
      [KEY_BACKUP_HASH_HEADER]: hash,
    });
    pipeline(opened.stream, res, (err) => {
      if (err && err.code !== "ERR_STREAM_PREMATURE_CLOSE") logger?.warn({ hash, err: err.message }, "key backup download failed");
    });
  });
  return router;
}
