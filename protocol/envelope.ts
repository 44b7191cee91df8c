import { z } from "zod";
import { canonicalJson } from "./canonical-json.js";

/**
 * The container for every binary blob the system stores (key bundles, encrypted records, results):
 *
 *   "PMHE" | version u8 | header length u32 BE | header (canonical JSON) | section bytes, in header order
 *
 * The header says what the blob is (kind, CKKS parameter set, layout) so a reader can refuse the wrong thing
 * with a clear message before it hands bytes to SEAL; sections hold the SEAL-serialised objects.
 */
const MAGIC = [0x50, 0x4d, 0x48, 0x45] as const; // "PMHE"
const ENVELOPE_VERSION = 1;
export const ENVELOPE_PREFIX_BYTES = 9;
export const MAX_HEADER_BYTES = 64 * 1024;
const PREFIX_BYTES = ENVELOPE_PREFIX_BYTES;

export const BLOB_KINDS = ["key-bundle", "record", "result", "result-share", "key-backup"] as const;
export type BlobKind = (typeof BLOB_KINDS)[number];

/**
 * What is wrong with a blob at the container level, so a caller can answer with a precise reason:
 *   not-an-envelope  too short, bad magic or version, header length or header JSON unreadable
 *   wrong-kind       a well-formed container of another kind
 *   non-canonical    the header bytes are not the canonical JSON of what they parse to
 *   bad-sections     section list missing or malformed, a section past the end or missing, a name twice
 *   trailing-bytes   bytes after the last section
 *   encoding         refused while writing (duplicate names, header too large, reserved fields)
 */
export type EnvelopeErrorReason = "not-an-envelope" | "wrong-kind" | "non-canonical" | "bad-sections" | "trailing-bytes" | "encoding";

export class EnvelopeError extends Error {
  readonly reason: EnvelopeErrorReason;
  constructor(message: string, reason: EnvelopeErrorReason = "not-an-envelope") {
    super(message);
    this.name = "EnvelopeError";
    this.reason = reason;
  }
}

export interface Envelope {
  kind: BlobKind;
  header: Record<string, unknown>;
  sections: Map<string, Uint8Array>;
}

const SectionListSchema = z.array(
  z.object({ name: z.string().min(1).max(64), length: z.number().int().nonnegative() }),
);

export function encodeEnvelope(
  kind: BlobKind,
  header: Record<string, unknown>,
  sections: ReadonlyArray<readonly [name: string, bytes: Uint8Array]>,
): Uint8Array {
  if ("kind" in header || "sections" in header) throw new EnvelopeError("header may not set kind or sections", "encoding");
  const names = sections.map(([name]) => name);
  if (new Set(names).size !== names.length) throw new EnvelopeError("section names must be unique", "encoding");
  if (names.some((n) => n.length < 1 || n.length > 64)) throw new EnvelopeError("section names must be 1 to 64 characters", "encoding");
  const fullHeader = { ...header, kind, sections: sections.map(([name, bytes]) => ({ name, length: bytes.length })) };
  const headerBytes = new TextEncoder().encode(canonicalJson(fullHeader));
  if (headerBytes.length > MAX_HEADER_BYTES) throw new EnvelopeError(`header of ${headerBytes.length} bytes is too large`, "encoding");
  const total = PREFIX_BYTES + headerBytes.length + sections.reduce((n, [, b]) => n + b.length, 0);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[4] = ENVELOPE_VERSION;
  new DataView(out.buffer).setUint32(5, headerBytes.length, false);
  out.set(headerBytes, PREFIX_BYTES);
  let offset = PREFIX_BYTES + headerBytes.length;
  for (const [, bytes] of sections) {
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}

/** Whether the bytes start like a PMHE container (magic only): tells "another kind of blob" from "not a blob". */
export function looksLikeEnvelope(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Parses and checks the container; the caller validates the header's kind-specific fields.
 *
 * The header must be byte for byte the canonical JSON of what it parses to: blobs are named by their hash, and a
 * header that could be re-serialised (other key order, whitespace, number spelling, duplicate keys) would let the
 * same content pass under many hashes.
 */
export function decodeEnvelope(bytes: Uint8Array, expectedKind: BlobKind): Envelope {
  if (bytes.length < PREFIX_BYTES) throw new EnvelopeError(`${bytes.length} bytes is too short to be a PMHE blob`);
  if (!looksLikeEnvelope(bytes)) throw new EnvelopeError("not a PMHE blob (bad magic)");
  if (bytes[4] !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported envelope version ${bytes[4]}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, false);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > bytes.length) {
    throw new EnvelopeError(`header length ${headerLength} does not fit in a ${bytes.length}-byte blob`);
  }
  let header: Record<string, unknown>;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("header is not an object");
    header = parsed as Record<string, unknown>;
  } catch (err) {
    throw new EnvelopeError(`unreadable header: ${(err as Error).message}`);
  }
  if (header.kind !== expectedKind) {
    throw new EnvelopeError(`expected a ${expectedKind} blob, got ${JSON.stringify(header.kind)}`, "wrong-kind");
  }
  const list = SectionListSchema.safeParse(header.sections);
  if (!list.success) throw new EnvelopeError("header has no valid section list", "bad-sections");
  const sections = new Map<string, Uint8Array>();
  let offset = PREFIX_BYTES + headerLength;
  for (const { name, length } of list.data) {
    if (offset + length > bytes.length) throw new EnvelopeError(`section "${name}" runs past the end of the blob`, "bad-sections");
    if (sections.has(name)) throw new EnvelopeError(`section "${name}" appears twice`, "bad-sections");
    sections.set(name, bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new EnvelopeError(`${bytes.length - offset} trailing bytes after the last section`, "trailing-bytes");
  if (!isCanonical(header, text)) throw new EnvelopeError("header is not in canonical form", "non-canonical");
  const { kind: _kind, sections: _sections, ...rest } = header;
  return { kind: expectedKind, header: rest, sections };
}

function isCanonical(header: Record<string, unknown>, text: string): boolean {
  try {
    return canonicalJson(header) === text;
  } catch {
    return false; // a number JSON.parse turned into ±Infinity (1e999) has no canonical form
  }
}

export function requireSection(envelope: Envelope, name: string): Uint8Array {
  const bytes = envelope.sections.get(name);
  if (!bytes) throw new EnvelopeError(`${envelope.kind} blob has no "${name}" section`, "bad-sections");
  return bytes;
}
