import { randomBytes } from "node:crypto";
import type { ReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { contentHash, isHash, type Hash } from "../../protocol/hash.js";

export class BlobHashMismatchError extends Error {
  constructor(readonly expected: Hash, readonly actual: Hash) {
    super(`content hashes to ${actual}, not ${expected}`);
    this.name = "BlobHashMismatchError";
  }
}

/** A blob opened for streaming: its size (for Content-Length) and a stream that closes the file when done. */
export interface OpenedBlob {
  size: number;
  stream: ReadStream;
}

const PARTIAL_SUFFIX = ".partial";

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

/**
 * Content-addressed blobs as files named by their keccak256. Only the hash goes on-chain and into queue jobs;
 * the bytes live here. Readers must still verify what they get against the on-chain hash: the store is not trusted.
 *
 * Uploads arrive as temporary files in the same directory (so the final rename is atomic on one file system) and
 * only take their name once checked; downloads stream from the file. Nothing here holds a whole upload in memory.
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
    if (await this.has(hash)) return { created: false };
    const temporary = await this.temporaryPath();
    let committed = false;
    try {
      await writeFile(temporary, bytes, { flag: "wx" });
      const result = await this.commit(temporary, hash);
      committed = true;
      return result;
    } finally {
      // `commit` renamed or removed it; anything else leaves it to remove here.
      if (!committed) await rm(temporary, { force: true });
    }
  }

  /**
   * A fresh name for an upload in progress, in the store's directory. The caller writes it (flag "wx") and either
   * `commit`s it or removes it; `removeStalePartials` collects what a crash left behind.
   */
  async temporaryPath(): Promise<string> {
    await this.ensureDirectory();
    return join(this.directory, `.${randomBytes(12).toString("hex")}${PARTIAL_SUFFIX}`);
  }

  /**
   * Gives a checked temporary file its content name. Rename, so a reader never sees a half-written blob under its
   * final name; if the blob is already there the temporary file is removed instead. Returns whether it was new.
   */
  async commit(temporary: string, hash: Hash): Promise<{ created: boolean }> {
    const path = this.pathOf(hash);
    if (await this.has(hash)) {
      await rm(temporary, { force: true });
      return { created: false };
    }
    await rename(temporary, path);
    return { created: true };
  }

  async get(hash: Hash): Promise<Uint8Array | undefined> {
    try {
      const buffer = await readFile(this.pathOf(hash));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Opens a blob for streaming, or undefined if there is none. The file is opened before its size is read, so a
   * concurrent deletion cannot make the stream and the size disagree (the open file outlives its name).
   */
  async open(hash: Hash): Promise<OpenedBlob | undefined> {
    let handle;
    try {
      handle = await open(this.pathOf(hash), "r");
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return undefined;
      }
      return { size: info.size, stream: handle.createReadStream({ autoClose: true }) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async has(hash: Hash): Promise<boolean> {
    try {
      return (await stat(this.pathOf(hash))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Size of a stored blob in bytes, or undefined if there is none. */
  async size(hash: Hash): Promise<number | undefined> {
    try {
      const info = await stat(this.pathOf(hash));
      return info.isFile() ? info.size : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Deletes a blob; returns whether there was one. */
  async delete(hash: Hash): Promise<boolean> {
    try {
      await rm(this.pathOf(hash));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /**
   * Removes temporary upload files last written before `olderThanMs` (epoch ms): what uploads cut off by a crash
   * left behind. Uploads in progress keep writing theirs, so a cutoff well past the longest request is safe.
   */
  async removeStalePartials(olderThanMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith(PARTIAL_SUFFIX)) continue;
      const path = join(this.directory, name);
      try {
        if ((await stat(path)).mtimeMs < olderThanMs) {
          await rm(path, { force: true });
          removed++;
        }
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return removed;
  }
}
