import type { BrowserContext, Page, Request } from "playwright-core";

/**
 * Every request that leaves a browser profile, to any origin: the page's (documents, scripts, the chain's JSON-RPC,
 * the coprocessor's API) and its workers' (Chromium reports a dedicated worker's requests to the context too; the
 * FHE worker's fetch of SEAL's WASM is one). Bodies are kept whole (Playwright hands over multi-MB uploads).
 */
export interface LoggedRequest {
  profile: string;
  /**
   * "worker" for a worker's request (its referrer is the worker's script), "page" for the rest. Known once the log
   * is settled.
   */
  source: "page" | "worker";
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** The body's declared size (content-length), when the request declared one. */
  declaredLength: number | undefined;
}

export class RequestLog {
  readonly entries: LoggedRequest[] = [];
  /** The scripts of every worker the profiles' pages started. */
  readonly workers = new Set<string>();
  private readonly pending: Array<Promise<void>> = [];

  /** Records every request of `context` from now on, labelled `profile`. */
  attach(context: BrowserContext, profile: string): void {
    const watch = (page: Page) => page.on("worker", (worker) => this.workers.add(worker.url()));
    context.pages().forEach(watch);
    context.on("page", watch);
    context.on("request", (request: Request) => {
      const entry: LoggedRequest = {
        profile,
        source: "page",
        method: request.method(),
        url: request.url(),
        headers: request.headers(),
        body: request.postDataBuffer(),
        declaredLength: undefined,
      };
      this.entries.push(entry);
      this.pending.push(
        request.allHeaders().then(
          (headers) => {
            entry.headers = headers;
            const length = headers["content-length"];
            if (length !== undefined) entry.declaredLength = Number(length);
          },
          () => undefined,
        ),
      );
    });
  }

  /** Waits until every recorded request's full headers are in, and tells the workers' requests apart. */
  async settle(): Promise<void> {
    await Promise.all(this.pending);
    for (const entry of this.entries) if (this.workers.has(entry.headers.referer ?? "")) entry.source = "worker";
  }
}

/** A secret to look for: its bytes (searched raw, as base64, base64url and hex) or a text (searched as it is). */
export type Secret = { name: string; bytes: Uint8Array } | { name: string; text: string };

/** A typed reading: its values by input name (the numbers a person typed into the form). */
export type TypedReading = Record<string, number>;

export interface Leak {
  secret: string;
  as: string;
  request: Pick<LoggedRequest, "profile" | "source" | "method" | "url">;
}

/** How many windows of a long secret are looked for: any leaked stretch longer than 1/WINDOWS of it is found. */
const WINDOWS = 48;

/**
 * Needles for a byte secret: the whole of it, and 32-byte windows spread evenly over it (not its first 256 bytes: a
 * serialisation header other blobs share), each raw, as hex, and as base64 and base64url in all three alignments.
 */
function byteNeedles(bytes: Uint8Array): Array<{ as: string; needle: Buffer }> {
  const data = Buffer.from(bytes);
  const needles: Array<{ as: string; needle: Buffer }> = [];
  const window = Math.min(32, data.length);
  const skip = data.length > 512 ? 256 : 0;
  const step = Math.max(64, Math.floor((data.length - skip - 64) / WINDOWS));
  const starts: number[] = [];
  if (data.length <= 64) starts.push(0);
  else for (let start = skip; start + 64 <= data.length; start += step) starts.push(start);
  needles.push({ as: "raw bytes (whole)", needle: data });
  for (const start of [...new Set(starts)]) {
    const raw = data.subarray(start, start + window);
    needles.push({ as: `raw bytes [${start}, +${window})`, needle: raw });
    needles.push({ as: `hex [${start}]`, needle: Buffer.from(raw.toString("hex")) });
    needles.push({ as: `HEX [${start}]`, needle: Buffer.from(raw.toString("hex").toUpperCase()) });
    // Base64 depends on where the encoding started: one of three alignments matches any framing.
    for (const shift of [0, 1, 2]) {
      const slice = data.subarray(start + shift, start + shift + 48);
      if (slice.length < 48) continue;
      needles.push({ as: `base64 [${start + shift}]`, needle: Buffer.from(slice.toString("base64")) });
      needles.push({ as: `base64url [${start + shift}]`, needle: Buffer.from(slice.toString("base64url")) });
    }
  }
  return needles;
}

const RPC_ENVELOPE_KEYS = new Set(["id", "jsonrpc"]);

/** Leaves of a JSON document that hold a number (or a decimal string) equal to one of `values`. */
function jsonLeavesEqual(document: unknown, values: Map<number, string>, path: string[] = []): string[] {
  if (typeof document === "number") return values.has(document) ? [`${path.join(".")}=${document} (${values.get(document)})`] : [];
  if (typeof document === "string") {
    if (!/^\s*-?\d+(\.\d+)?\s*$/.test(document)) return [];
    const n = Number(document);
    return values.has(n) ? [`${path.join(".")}="${document}" (${values.get(n)})`] : [];
  }
  if (Array.isArray(document)) return document.flatMap((item, i) => jsonLeavesEqual(item, values, [...path, String(i)]));
  if (document && typeof document === "object") {
    return Object.entries(document).flatMap(([key, value]) => (RPC_ENVELOPE_KEYS.has(key) ? [] : jsonLeavesEqual(value, values, [...path, key])));
  }
  return [];
}

function parseJson(body: Buffer): unknown {
  const text = body.toString("utf8").trim();
  if (!text.startsWith("{") && !text.startsWith("[")) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Which requests carry a secret: its bytes in the body, the URL or a header (raw, base64, base64url, hex), a text
 * secret as it is; or a typed reading's value: as a number (or decimal string) anywhere in a JSON body (JSON-RPC's
 * `id` and `jsonrpc` aside), as a query parameter's value, or as `"name": value` in any body.
 */
export function findLeaks(requests: readonly LoggedRequest[], secrets: readonly Secret[], readings: readonly TypedReading[]): Leak[] {
  const leaks: Leak[] = [];
  const needles = secrets.flatMap((secret) =>
    "bytes" in secret
      ? byteNeedles(secret.bytes).map((n) => ({ secret: secret.name, ...n }))
      : [{ secret: secret.name, as: "text", needle: Buffer.from(secret.text) }, { secret: secret.name, as: "text (lower case)", needle: Buffer.from(secret.text.toLowerCase()) }],
  );
  const values = new Map<number, string>();
  const pairs: Array<{ name: string; value: number; pattern: RegExp }> = [];
  for (const reading of readings) {
    for (const [name, value] of Object.entries(reading)) {
      values.set(value, name);
      pairs.push({ name, value, pattern: new RegExp(`(?<![A-Za-z0-9_])"?${escapeRegExp(name)}"?\\s*[:=]\\s*"?${escapeRegExp(String(value))}(?![0-9])`) });
    }
  }
  for (const request of requests) {
    const where = { profile: request.profile, source: request.source, method: request.method, url: request.url };
    const haystacks: Array<{ part: string; bytes: Buffer }> = [
      { part: "url", bytes: Buffer.from(request.url) },
      { part: "headers", bytes: Buffer.from(Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`).join("\n")) },
      ...(request.body ? [{ part: "body", bytes: request.body }] : []),
    ];
    for (const { part, bytes } of haystacks) {
      for (const n of needles) if (n.needle.length > 0 && bytes.includes(n.needle)) leaks.push({ secret: n.secret, as: `${n.as} in the ${part}`, request: where });
      const text = bytes.toString("latin1");
      for (const p of pairs) if (p.pattern.test(text)) leaks.push({ secret: `reading ${p.name}=${p.value}`, as: `name and value in the ${part}`, request: where });
    }
    if (request.body) {
      const document = parseJson(request.body);
      if (document !== undefined) for (const hit of jsonLeavesEqual(document, values)) leaks.push({ secret: `reading value ${hit}`, as: "a JSON body's value", request: where });
    }
    try {
      for (const [key, value] of new URL(request.url).searchParams) {
        const n = Number(value);
        if (value.trim() !== "" && values.has(n)) leaks.push({ secret: `reading ${values.get(n)}=${value}`, as: `query parameter ${key}`, request: where });
      }
    } catch {
      // not a URL with a query
    }
  }
  return leaks;
}
