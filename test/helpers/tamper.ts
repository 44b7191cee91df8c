import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hash } from "../../protocol/hash.js";

/**
 * Alters one byte of a blob as stored on the blob store's disk (files are named by the hash without 0x), as an
 * attacker or a failing disk would: the name still claims the old hash, the bytes no longer hash to it.
 */
export async function alterStoredBlob(blobDir: string, hash: Hash, offsetFromEnd: number, mask = 0x01): Promise<void> {
  const path = join(blobDir, hash.slice(2));
  const bytes = await readFile(path);
  bytes[bytes.length - offsetFromEnd]! ^= mask;
  await writeFile(path, bytes);
}
