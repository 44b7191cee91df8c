import { createWriteStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createKeccak, type IHasher } from "hash-wasm";
import type { Hash } from "../../protocol/hash.js";

/** The body went past the purpose's limit; nothing more was read. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body exceeds the ${limit} bytes this purpose can take`);
    this.name = "BodyTooLargeError";
  }
}

/** The client went away before the body ended. */
export class BodyAbortedError extends Error {
  constructor() {
    super("the client closed the connection before the body ended");
    this.name = "BodyAbortedError";
  }
}

/**
 * keccak256 state machines for uploads in flight. Each is a small WebAssembly instance; reused rather than made per
 * upload (one per concurrent upload at most, since the API caps those).
 */
const idle: IHasher[] = [];

async function takeHasher(): Promise<IHasher> {
  return (idle.pop() ?? (await createKeccak(256))).init();
}

/**
 * Streams a request body into `path` (created, never overwritten) while hashing it and counting its bytes, with the
 * write stream's backpressure pausing the socket: memory holds a chunk or two, never the body. Past `limit` bytes it
 * stops reading and throws BodyTooLargeError at once (the caller answers 413 and the connection is closed); the
 * caller removes `path` whatever happens.
 */
export async function receiveBody(req: IncomingMessage, path: string, limit: number): Promise<{ hash: Hash; bytes: number }> {
  const hasher = await takeHasher();
  try {
    const bytes = await new Promise<number>((resolve, reject) => {
      const out = createWriteStream(path, { flags: "wx" });
      let received = 0;
      let settled = false;
      const finish = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("error", onAbort);
        req.off("close", onClose);
        if (err) {
          req.pause();
          out.destroy();
          // The descriptor must be closed before the caller removes the file.
          if (out.closed) reject(err);
          else out.once("close", () => reject(err));
        } else {
          resolve(received);
        }
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received > limit) {
          finish(new BodyTooLargeError(limit));
          return;
        }
        hasher.update(chunk);
        if (!out.write(chunk)) {
          req.pause();
          out.once("drain", () => req.resume());
        }
      };
      const onEnd = () => {
        out.end();
        out.once("close", () => finish(undefined));
      };
      const onAbort = () => finish(new BodyAbortedError());
      const onClose = () => {
        if (!req.complete) finish(new BodyAbortedError());
      };
      out.once("error", (err) => finish(err));
      req.on("data", onData);
      req.once("end", onEnd);
      req.once("error", onAbort);
      req.once("close", onClose);
      req.resume();
    });
    return { hash: `0x${hasher.digest("hex")}`, bytes };
  } finally {
    idle.push(hasher);
  }
}
