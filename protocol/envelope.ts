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
const PREFIX_BYTES = 9;
const MAX_HEADER_BYTES = 64 * 1024;

export const BLOB_KINDS = ["key-bundle", "record", "result"] as const;
export type BlobKind = (typeof BLOB_KINDS)[number];

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvelopeError";
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
  if ("kind" in header || "sections" in header) throw new EnvelopeError("header may not set kind or sections");
  const names = sections.map(([name]) => name);
  if (new Set(names).size !== names.length) throw new EnvelopeError("section names must be unique");
  if (names.some((n) => n.length < 1 || n.length > 64)) throw new EnvelopeError("section names must be 1 to 64 characters");
  const fullHeader = { ...header, kind, sections: sections.map(([name, bytes]) => ({ name, length: bytes.length })) };
  const headerBytes = new TextEncoder().encode(canonicalJson(fullHeader));
  if (headerBytes.length > MAX_HEADER_BYTES) throw new EnvelopeError(`header of ${headerBytes.length} bytes is too large`);
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

/** Parses and checks the container; the caller validates the header's kind-specific fields. */
export function decodeEnvelope(bytes: Uint8Array, expectedKind: BlobKind): Envelope {
  if (bytes.length < PREFIX_BYTES) throw new EnvelopeError(`${bytes.length} bytes is too short to be a PMHE blob`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new EnvelopeError("not a PMHE blob (bad magic)");
  if (bytes[4] !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported envelope version ${bytes[4]}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, false);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > bytes.length) {
    throw new EnvelopeError(`header length ${headerLength} does not fit in a ${bytes.length}-byte blob`);
  }
  let header: Record<string, unknown>;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("header is not an object");
    header = parsed as Record<string, unknown>;
  } catch (err) {
    throw new EnvelopeError(`unreadable header: ${(err as Error).message}`);
  }
  if (header.kind !== expectedKind) {
    throw new EnvelopeError(`expected a ${expectedKind} blob, got ${JSON.stringify(header.kind)}`);
  }
  const list = SectionListSchema.safeParse(header.sections);
  if (!list.success) throw new EnvelopeError("header has no valid section list");
  const sections = new Map<string, Uint8Array>();
  let offset = PREFIX_BYTES + headerLength;
  for (const { name, length } of list.data) {
    if (offset + length > bytes.length) throw new EnvelopeError(`section "${name}" runs past the end of the blob`);
    if (sections.has(name)) throw new EnvelopeError(`section "${name}" appears twice`);
    sections.set(name, bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new EnvelopeError(`${bytes.length - offset} trailing bytes after the last section`);
  const { kind: _kind, sections: _sections, ...rest } = header;
  return { kind: expectedKind, header: rest, sections };
}

export function requireSection(envelope: Envelope, name: string): Uint8Array {
  const bytes = envelope.sections.get(name);
  if (!bytes) throw new EnvelopeError(`${envelope.kind} blob has no "${name}" section`);
  return bytes;
}
