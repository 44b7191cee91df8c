import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { Wallet, type Signer } from "ethers";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { signedUploadHeaders, type UploadDomain, type UploadPurpose } from "../../protocol/upload-auth.js";

/**
 * The attacks `npm run soak` keeps up against a running coprocessor, each from throwaway wallets (or, where the
 * attack needs gas, from funded attacker patients). Every attack counts the answers it got by "<status> <code>";
 * the answers an attack expects are listed with it, and anything else (a 500, a success where a refusal belongs)
 * is counted as unexpected, which fails the soak.
 */

export interface AttackTally {
  /** Requests (or transactions) sent. */
  sent: number;
  /** Answers by "<status> <code>", e.g. "415 compressed_body_refused". */
  answers: Record<string, number>;
  /** Answers outside the attack's expected set, with one example each. */
  unexpected: Record<string, string>;
}

export function newTally(): AttackTally {
  return { sent: 0, answers: {}, unexpected: {} };
}

function count(tally: AttackTally, answer: string, expected: readonly string[], detail = ""): void {
  tally.answers[answer] = (tally.answers[answer] ?? 0) + 1;
  if (!expected.some((e) => answer === e || (e.endsWith(" *") && answer.startsWith(e.slice(0, -1))))) {
    tally.unexpected[answer] ??= detail.slice(0, 300);
  }
}

/** "<status> <code>" of a JSON error answer, or "<status>" for others. */
async function answerOf(response: Response): Promise<{ answer: string; detail: string }> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return { answer: body.error ? `${response.status} ${body.error}` : `${response.status}`, detail: body.message ?? text };
  } catch {
    return { answer: `${response.status}`, detail: text };
  }
}

/**
 * A network failure as an answer. A server that refuses a large upload before reading its body (quota, full store,
 * too large) answers and closes the connection while the client is still writing: the client sees EPIPE or a
 * reset, not the answer. Those count as refusals of uploads; a dead server shows up as the coprocessor exiting.
 */
function networkAnswer(err: unknown): string {
  const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
  return `network ${code ?? "error"}`;
}

/** What a large upload refused before its body was read looks like from the client's side. */
const EARLY_REFUSALS = ["network EPIPE", "network ECONNRESET", "network UND_ERR_SOCKET"] as const;

async function signedPut(
  apiUrl: string,
  signer: Signer,
  domain: UploadDomain,
  hash: Hash,
  purpose: UploadPurpose,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  const signed = await signedUploadHeaders(signer, domain, hash, purpose);
  return fetch(`${apiUrl}/blobs/${hash}`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", ...signed, ...headers },
    body,
    // Node's fetch needs this for streamed bodies.
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

export interface AttackContext {
  apiUrl: string;
  domain: UploadDomain;
  /** Keep going while this says so. */
  running(): boolean;
}

/** A body that inflates 1,000-fold: 16 MiB of zeros in about 16 KB of gzip. */
export async function compressedBodies(ctx: AttackContext, tally: AttackTally): Promise<void> {
  const bomb = gzipSync(Buffer.alloc(16 * 2 ** 20));
  while (ctx.running()) {
    const signer = Wallet.createRandom();
    const hash = contentHash(bomb);
    tally.sent++;
    try {
      const response = await signedPut(ctx.apiUrl, signer, ctx.domain, hash, "key-bundle", bomb, { "content-encoding": "gzip" });
      const { answer, detail } = await answerOf(response);
      count(tally, answer, ["415 compressed_body_refused", "429 rate_limited", "503 busy"], detail);
    } catch (err) {
      count(tally, networkAnswer(err), [], String(err));
    }
  }
}

/**
 * Bodies above every purpose's limit: one declaring its length (refused before the body is read), one streamed
 * without a length (refused as soon as the limit is passed, the connection closed).
 */
export async function oversizedBodies(ctx: AttackContext, tally: AttackTally): Promise<void> {
  const chunk = randomBytes(1 << 20);
  const totalChunks = 48; // 48 MiB
  let declared = true;
  while (ctx.running()) {
    const signer = Wallet.createRandom();
    const hash = `0x${randomBytes(32).toString("hex")}` as Hash;
    tally.sent++;
    try {
      let body: BodyInit;
      if (declared) {
        body = new Uint8Array(totalChunks * chunk.length);
      } else {
        let sent = 0;
        body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ >= totalChunks) controller.close();
            else controller.enqueue(new Uint8Array(chunk));
          },
        });
      }
      const response = await signedPut(ctx.apiUrl, signer, ctx.domain, hash, "key-bundle", body);
      const { answer, detail } = await answerOf(response);
      count(tally, answer, ["413 too_large", "429 rate_limited", "503 busy", "507 store_full"], detail);
    } catch (err) {
      // Refusing a streamed body mid-way closes the connection under the sender: that is the refusal.
      count(tally, networkAnswer(err), EARLY_REFUSALS, String(err));
    }
    declared = !declared;
  }
}

/**
 * Key bundles that are not what they claim: rotation steps repeated (what once grew a thread's heap by gigabytes),
 * a bundle naming another patient, and a model file posing as a key bundle.
 */
export async function badKeyBundles(ctx: AttackContext, tally: AttackTally, realBundle: Uint8Array, modelFile: Uint8Array): Promise<void> {
  const real = decodeEnvelope(realBundle, "key-bundle");
  const sections = [...real.sections.entries()];
  let variant = 0;
  while (ctx.running()) {
    const signer = Wallet.createRandom();
    const address = signer.address.toLowerCase();
    let bytes: Uint8Array;
    let expected: string;
    switch (variant++ % 3) {
      case 0:
        bytes = encodeEnvelope("key-bundle", { ...real.header, patient: address, galoisSteps: [1, 1, 2, 2, 4, 4, 8, 8] }, sections);
        expected = "422 bad_rotation_steps";
        break;
      case 1:
        bytes = realBundle; // names its own patient, not this signer
        expected = "422 owner_mismatch";
        break;
      default:
        bytes = modelFile;
        expected = "422 not_an_envelope";
    }
    tally.sent++;
    try {
      const response = await signedPut(ctx.apiUrl, signer, ctx.domain, contentHash(bytes), "key-bundle", bytes as Uint8Array<ArrayBuffer>);
      const { answer, detail } = await answerOf(response);
      // A full store refuses before it reads the body: that is a refusal too.
      count(tally, answer, [expected, "429 rate_limited", "503 busy", "507 store_full"], detail);
    } catch (err) {
      count(tally, networkAnswer(err), EARLY_REFUSALS, String(err));
    }
  }
}

/**
 * Valid key bundles from wallets that never register: each is stored, pending, until the global cap for wallets
 * with nothing on-chain refuses more (507) and the collector deletes them. This is what bounds the disk.
 */
export async function unregisteredBundles(ctx: AttackContext, tally: AttackTally, realBundle: Uint8Array): Promise<void> {
  const real = decodeEnvelope(realBundle, "key-bundle");
  const sections = [...real.sections.entries()];
  while (ctx.running()) {
    const signer = Wallet.createRandom();
    const bytes = encodeEnvelope("key-bundle", { ...real.header, patient: signer.address.toLowerCase() }, sections);
    tally.sent++;
    try {
      const response = await signedPut(ctx.apiUrl, signer, ctx.domain, contentHash(bytes), "key-bundle", bytes as Uint8Array<ArrayBuffer>);
      const { answer, detail } = await answerOf(response);
      count(tally, answer, ["201", "507 store_full", "429 rate_limited", "503 busy"], detail);
    } catch (err) {
      count(tally, networkAnswer(err), EARLY_REFUSALS, String(err));
    }
  }
}

/**
 * Where the slow readers connect from: another loopback address (all of 127/8 reaches this host on Linux), so that
 * the store sees them as the stranger they are, apart from the honest patients on 127.0.0.1.
 */
const STRANGER_ADDRESS = "127.0.0.2";

/**
 * Readers that take a large blob at a trickle (about 16 KB/s) and hold their connection: the server must stream,
 * cap concurrent downloads (503 busy) and those of one address (429), cut readers below the rate floor, and drop idle
 * sockets, not buffer.
 */
export async function slowReaders(ctx: AttackContext, tally: AttackTally, blobHash: Hash, concurrency: number): Promise<void> {
  const url = new URL(`${ctx.apiUrl}/blobs/${blobHash}`);
  const readOne = () =>
    new Promise<string>((resolve) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: "GET", localAddress: STRANGER_ADDRESS }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            try {
              resolve(`${status} ${(JSON.parse(text) as { error?: string }).error ?? ""}`.trim());
            } catch {
              resolve(String(status));
            }
          });
          return;
        }
        // Read 16 KB, pause a second, until the body ends, the server drops us, or the soak ends.
        res.pause();
        let done = false;
        const finish = (answer: string) => {
          if (!done) {
            done = true;
            resolve(answer);
          }
        };
        res.on("end", () => finish("200"));
        res.on("error", () => finish("200 dropped"));
        res.on("close", () => finish("200 dropped"));
        const tick = () => {
          if (done) return;
          if (!ctx.running()) {
            req.destroy();
            finish("200");
            return;
          }
          let taken = 0;
          let chunk: Buffer | null;
          while (taken < 16_384 && (chunk = res.read() as Buffer | null) !== null) taken += chunk.length;
          setTimeout(tick, 1_000);
        };
        tick();
      });
      req.on("error", (err) => resolve(networkAnswer(err)));
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (ctx.running()) {
        tally.sent++;
        const answer = await readOne();
        count(tally, answer, ["200", "200 dropped", "503 busy", "429 too_many_transfers", "429 rate_limited", "network ECONNRESET"], answer);
        // A refusal is answered at once: a stranger that asks again at once gains nothing, but would spin here.
        if (answer.startsWith("429") || answer.startsWith("503")) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }),
  );
}
