import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { contentHash, isHash, type Hash } from "../../protocol/hash.js";

export class BlobHashMismatchError extends Error {
  constructor(readonly expected: Hash, readonly actual: Hash) {
    super(`content hashes to ${actual}, not ${expected}`);
    this.name = "BlobHashMismatchError";
  }
}

/**
 * Content-addressed blobs as files named by their keccak256. Only the hash goes on-chain and into queue jobs;
 * the bytes live here. Readers must still verify what they get against the on-chain hash: the store is not trusted.
 */
export class FileBlobStore {
  private ready: Promise<void> | undefined;

  constructor(readonly directory: string) {}

  private ensureDirectory(): Promise<void> {
    this.ready ??= mkdir(this.directory, { recursive: true }).then(() => undefined);
    return this.ready;
  }

  pathOf(hash: Hash): string {
    if (!isHash(hash)) throw new TypeError(`not a blob hash: ${String(hash)}`);
    return join(this.directory, hash.slice(2));
  }

  /** Stores bytes under their hash; refuses bytes that do not hash to `expected`. Returns whether it was new. */
  async put(expected: Hash, bytes: Uint8Array): Promise<{ created: boolean }> {
    const actual = contentHash(bytes);
    if (actual !== expected) throw new BlobHashMismatchError(expected, actual);
    return this.write(expected, bytes);
  }

  /** Stores bytes under the hash it computes (for bytes made here, such as results). Returns the hash. */
  async add(bytes: Uint8Array): Promise<{ hash: Hash; created: boolean }> {
    const hash = contentHash(bytes);
    return { hash, ...(await this.write(hash, bytes)) };
  }

  private async write(hash: Hash, bytes: Uint8Array): Promise<{ created: boolean }> {
    await this.ensureDirectory();
    const path = this.pathOf(hash);
    if (await this.has(hash)) return { created: false };
    // Write then rename, so a reader never sees a half-written blob under its final name.
    const temporary = `${path}.${randomBytes(6).toString("hex")}.partial`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
    return { created: true };
  }

  async get(hash: Hash): Promise<Uint8Array | undefined> {
    try {
      const buffer = await readFile(this.pathOf(hash));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async has(hash: Hash): Promise<boolean> {
    try {
      return (await stat(this.pathOf(hash))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }
}
