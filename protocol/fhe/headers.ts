import { z } from "zod";
import { decodeEnvelope, EnvelopeError, type BlobKind, type Envelope } from "../envelope.js";
import { contentHash } from "../hash.js";
import { FheError, type FheErrorCode } from "./errors.js";
import { layoutCapacity, MAX_TUPLE_VALUES, MIN_RECORD_STRIDE, strideRotationSteps, strides, tupleWidthProblem, type Layout } from "./layouts.js";
import { PARAMETER_SET_NAMES, parameterSet, type ParameterSetName } from "./params.js";
import { sealSizeLimits } from "./serialized.js";

/**
 * The headers of key-bundle, record and result blobs: one definition, read by the engine (which then hands the
 * sections to SEAL) and by the upload validator (which never loads SEAL). Browser-safe.
 *
 * A header is checked in two steps: the schema (fields and types), then what the schema cannot say, so that one
 * meaning has exactly one encoding: rotation steps are exactly one layout's, `round` is absent for round 0, record
 * counts fit the layout. Blobs are named by their hash, so a second encoding would be a second name.
 */

const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH = /^0x[0-9a-f]{64}$/;

const parameterSetField = z.enum(PARAMETER_SET_NAMES);
/** The patient a blob belongs to: a lower-case 0x address of 20 bytes. */
const patientField = z.string().regex(ADDRESS, "a lower-case 0x-prefixed 20-byte address");
/** keccak256 of the patient's key-bundle blob, as `contentHash` writes it. */
const keyBundleField = z.string().regex(HASH, "a lower-case 0x-prefixed 32-byte hash");
const valuesField = z.number().int().min(1).max(MAX_TUPLE_VALUES);

export const KeyBundleHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  /** Exactly the rotation steps of one record stride, or none (see `checkKeyBundleHeader`). */
  galoisSteps: z.array(z.number().int()),
  patient: patientField,
});

/** Single-record blobs. */
export const RecordHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  layout: z.literal("single-record"),
  values: valuesField,
  patient: patientField,
  keyBundle: keyBundleField,
});

/** Record blobs of the batch layouts: one patient's `records` tuples of `values` entries each. */
export const BatchRecordHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  layout: z.enum(["packed-records", "feature-major"]),
  values: valuesField,
  records: z.number().int().min(1),
  /** Which round of a multi-round model this tuple is for; absent for round 0 (so 0 is never written). */
  round: z.number().int().min(1).max(15).optional(),
  patient: patientField,
  keyBundle: keyBundleField,
});

/** Any record blob: single-record blobs have no `records`, batch layouts add it. */
export const RecordsHeaderSchema = z.union([RecordHeaderSchema, BatchRecordHeaderSchema]);

export const RESULT_STAGES = ["linear", "sigmoid-poly"] as const;
/** "linear": the slots hold T = w·x + b. "sigmoid-poly": they hold p(T) ≈ σ(T), a probability. */
export type ResultStage = (typeof RESULT_STAGES)[number];

const bindingShape = { jobId: z.string(), recordHash: z.string(), modelHash: z.string() };

/** The original single-record linear result. */
export const ResultHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  stage: z.literal("linear"),
  /** Slot that holds T = w·x + b. */
  slot: z.number().int().nonnegative(),
  /** What this is the result of: binds the blob to one on-chain job. */
  ...bindingShape,
});

/** Single-record results of either stage: the original header with `stage` widened (linear ones are unchanged). */
export const SingleResultHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  stage: z.enum(RESULT_STAGES),
  slot: z.number().int().nonnegative(),
  ...bindingShape,
});

/** Batch results: record r's value sits in `resultSlot(layout, r, stride)`. */
export const BatchResultHeaderSchema = z.strictObject({
  parameterSet: parameterSetField,
  layout: z.enum(["packed-records", "feature-major"]),
  stage: z.enum(RESULT_STAGES),
  records: z.number().int().min(1),
  /** packed-records of tuples wider than 16 only: the record stride (absent means 16, so 16 is never written). */
  stride: z.number().int().optional(),
  ...bindingShape,
});

export const JobResultHeaderSchema = z.union([SingleResultHeaderSchema, BatchResultHeaderSchema]);

export type KeyBundleHeader = z.infer<typeof KeyBundleHeaderSchema>;
export type RecordHeader = z.infer<typeof RecordHeaderSchema>;
export type BatchRecordHeader = z.infer<typeof BatchRecordHeaderSchema>;
export type RecordsHeader = z.infer<typeof RecordsHeaderSchema>;
export type ResultHeader = z.infer<typeof ResultHeaderSchema>;
export type JobResultHeader = z.infer<typeof JobResultHeaderSchema>;
export type ResultBinding = Pick<ResultHeader, "jobId" | "recordHash" | "modelHash">;

/** Why a header was refused, for callers that answer with a reason (the engine maps all of them to one FheError code). */
export const HEADER_PROBLEMS = ["unknown_parameter_set", "bad_header", "bad_rotation_steps", "too_many_records"] as const;
export type HeaderProblem = (typeof HEADER_PROBLEMS)[number];

export type HeaderCheck<T> = { ok: true; header: T } | { ok: false; problem: HeaderProblem; message: string };

function parse<T>(what: string, schema: z.ZodType<T>, raw: Record<string, unknown>): HeaderCheck<T> {
  if (!(PARAMETER_SET_NAMES as readonly unknown[]).includes(raw.parameterSet)) {
    return {
      ok: false,
      problem: "unknown_parameter_set",
      message: `bad ${what} header: parameterSet ${JSON.stringify(raw.parameterSet)} is not one of ${PARAMETER_SET_NAMES.join(", ")}`,
    };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: "bad_header", message: `bad ${what} header: ${z.prettifyError(parsed.error)}` };
  return { ok: true, header: parsed.data };
}

/**
 * A key-bundle header. `galoisSteps` must be exactly the steps of one record stride of its parameter set (1, 2, ..,
 * stride/2: `strides`) or none, sorted and without repeats: the Galois-key size bound grows with the number of steps
 * claimed, so a repeated step would let a small bundle inflate into a large WASM heap.
 */
export function checkKeyBundleHeader(raw: Record<string, unknown>): HeaderCheck<KeyBundleHeader> {
  const checked = parse("key-bundle", KeyBundleHeaderSchema, raw);
  if (!checked.ok) return checked;
  const { galoisSteps: steps, parameterSet: name } = checked.header;
  const allowed = [[], ...strides(name).map(strideRotationSteps)];
  if (!allowed.some((one) => one.length === steps.length && one.every((s, i) => s === steps[i]))) {
    const widest = strides(name).at(-1)!;
    return {
      ok: false,
      problem: "bad_rotation_steps",
      message:
        `key bundle claims rotation steps [${steps.join(",")}]: a ${name} bundle has [] (feature-major) or 1, 2, 4, .. up to ` +
        `half a record stride (16 to ${widest}), e.g. [${strideRotationSteps(MIN_RECORD_STRIDE).join(",")}]`,
    };
  }
  return checked;
}

function checkRecordCount(what: string, layout: Layout, records: number, name: ParameterSetName, values: number): string | undefined {
  const capacity = layoutCapacity(layout, name, values);
  return records > capacity ? `${layout} ${what} claims ${records} records, at most ${capacity} fit ${name}` : undefined;
}

/** A record header of any layout. */
export function checkRecordsHeader(raw: Record<string, unknown>): HeaderCheck<RecordsHeader> {
  // The branch the layout names, so a refusal says what is wrong with it rather than that no branch fits.
  const checked: HeaderCheck<RecordsHeader> = raw.layout === "single-record"
    ? parse("record", RecordHeaderSchema, raw)
    : parse("record", BatchRecordHeaderSchema, raw);
  if (!checked.ok) return checked;
  const wide = widthRefusal(checked.header);
  if (wide) return wide;
  if (checked.header.layout === "single-record") return checked;
  const message = checkRecordCount("record", checked.header.layout, checked.header.records, checked.header.parameterSet, checked.header.values);
  return message ? { ok: false, problem: "too_many_records", message } : checked;
}

/** A single-record header only (the original reader). */
export function checkRecordHeader(raw: Record<string, unknown>): HeaderCheck<RecordHeader> {
  const checked = parse("record", RecordHeaderSchema, raw);
  if (!checked.ok) return checked;
  return widthRefusal(checked.header) ?? checked;
}

/** A record header whose tuple is wider than its parameter set takes (the schema admits the widest of any set). */
function widthRefusal(header: RecordsHeader): HeaderCheck<never> | undefined {
  const wide = tupleWidthProblem(header.values, header.parameterSet);
  return wide ? { ok: false, problem: "bad_header", message: `bad record header: ${wide}` } : undefined;
}

/** The original single-record linear result header only. */
export function checkResultHeader(raw: Record<string, unknown>): HeaderCheck<ResultHeader> {
  return parse("result", ResultHeaderSchema, raw);
}

/** A result header of any layout and stage. */
export function checkJobResultHeader(raw: Record<string, unknown>): HeaderCheck<JobResultHeader> {
  const checked: HeaderCheck<JobResultHeader> = "layout" in raw
    ? parse("result", BatchResultHeaderSchema, raw)
    : parse("result", SingleResultHeaderSchema, raw);
  if (!checked.ok || !("layout" in checked.header)) return checked;
  const { layout, stride, records, parameterSet: name } = checked.header;
  if (stride !== undefined && (layout !== "packed-records" || stride === MIN_RECORD_STRIDE || !strides(name).includes(stride))) {
    return {
      ok: false,
      problem: "bad_header",
      message: `bad result header: stride ${stride} (written only for packed-records wider than ${MIN_RECORD_STRIDE}: one of ${strides(name).slice(1).join(", ")} under ${name})`,
    };
  }
  const message = checkRecordCount("result", layout, records, name, stride ?? MIN_RECORD_STRIDE);
  return message ? { ok: false, problem: "too_many_records", message } : checked;
}

/** Names of a feature-major record's sections, one ciphertext per feature. */
export function featureSectionName(feature: number): string {
  return `feature-${feature}`;
}

/** The sections a record holds, in order: one ciphertext, or one per feature for feature-major. */
export function recordSectionNames(header: RecordsHeader): string[] {
  return header.layout === "feature-major" ? Array.from({ length: header.values }, (_, j) => featureSectionName(j)) : ["ciphertext"];
}

export const RESULT_SECTION_NAMES: readonly string[] = Object.freeze(["ciphertext"]);

const KEY_BUNDLE_SECTIONS = ["publicKey", "galoisKeys", "relinKeys"] as const;

/**
 * Why a key bundle's sections do not fit its header, or undefined: publicKey, then galoisKeys exactly when the
 * header claims rotation steps, then relinKeys if the bundle is for the sigmoid variant (on a parameter set with the
 * depth for it); nothing else, in that order.
 */
export function keyBundleSectionsProblem(header: KeyBundleHeader, names: readonly string[]): string | undefined {
  const unknown = names.filter((name) => !(KEY_BUNDLE_SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0) return `key bundle has unknown sections ${unknown.join(", ")}`;
  if (!names.includes("publicKey")) return 'key-bundle blob has no "publicKey" section';
  const hasGalois = names.includes("galoisKeys");
  if (header.galoisSteps.length === 0 && hasGalois) return "key bundle claims no rotation steps but carries Galois keys";
  if (header.galoisSteps.length > 0 && !hasGalois) return 'key-bundle blob has no "galoisKeys" section';
  // Relinearization keys serve only the sigmoid stage, which needs a level beyond the linear stage's.
  if (names.includes("relinKeys") && parameterSet(header.parameterSet).depth < 2) {
    return `key bundle carries relinearization keys, but ${header.parameterSet} has no depth for the sigmoid stage they serve`;
  }
  const order = KEY_BUNDLE_SECTIONS.filter((name) => names.includes(name));
  if (order.some((name, i) => names[i] !== name)) return `key bundle sections must come in the order ${KEY_BUNDLE_SECTIONS.join(", ")}`;
  return undefined;
}

/** The largest decompressed size a SEAL section of a blob may have under its parameter set. */
export function sectionRawLimit(
  blob: { kind: "key-bundle"; header: KeyBundleHeader } | { kind: "record" | "result"; header: { parameterSet: ParameterSetName } },
  section: string,
): number {
  const params = parameterSet(blob.header.parameterSet);
  const limits = sealSizeLimits(params.polyModulusDegree, params.coeffModulusBits.length);
  switch (blob.kind) {
    case "record":
      return limits.ciphertext;
    case "result":
      return limits.resultCiphertext;
    case "key-bundle":
      if (section === "publicKey") return limits.publicKey;
      if (section === "relinKeys") return limits.keySwitchingKeys(1);
      return limits.keySwitchingKeys(blob.header.galoisSteps.length);
  }
}

/**
 * A patient address in its header form (lower case), or undefined if `value` is not an address: 0x and 40 hex
 * digits, in one case or with a valid EIP-55 checksum (a mixed-case address with a wrong checksum is a typo).
 */
export function normaliseAddress(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) return undefined;
  const body = value.slice(2);
  const lower = body.toLowerCase();
  if (body === lower || body === body.toUpperCase()) return `0x${lower}`;
  const digest = contentHash(new TextEncoder().encode(lower));
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c >= "0" && c <= "9") continue;
    const upper = Number.parseInt(digest[i + 2]!, 16) >= 8;
    if ((c === c.toUpperCase()) !== upper) return undefined;
  }
  return `0x${lower}`;
}

/** A content hash in its header form (lower case), or undefined. */
export function normaliseHash(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const lower = value.toLowerCase();
  return HASH.test(lower) && value.startsWith("0x") ? lower : undefined;
}

/**
 * Decodes a blob of `kind` and checks its header (schema, then one encoding per meaning); any refusal is an FheError
 * with `code`. No SEAL: the sections are returned undecoded.
 */
export function openBlobHeader<T>(
  bytes: Uint8Array,
  kind: BlobKind,
  check: (raw: Record<string, unknown>) => HeaderCheck<T>,
  code: FheErrorCode,
): { header: T; envelope: Envelope } {
  let envelope: Envelope;
  try {
    envelope = decodeEnvelope(bytes, kind);
  } catch (err) {
    if (err instanceof EnvelopeError) throw new FheError(code, err.message, { cause: err });
    throw err;
  }
  const checked = check(envelope.header);
  if (!checked.ok) throw new FheError(code, checked.message);
  return { header: checked.header, envelope };
}

/** A key bundle's header and sections, checked against each other (MalformedKeyBundle otherwise). No SEAL. */
export function openKeyBundle(bytes: Uint8Array): { header: KeyBundleHeader; envelope: Envelope } {
  const opened = openBlobHeader(bytes, "key-bundle", checkKeyBundleHeader, "MalformedKeyBundle");
  const problem = keyBundleSectionsProblem(opened.header, [...opened.envelope.sections.keys()]);
  if (problem) throw new FheError("MalformedKeyBundle", problem);
  return opened;
}

/** A key bundle's header (parameter set, rotation steps, the patient it belongs to), without SEAL. */
export function readKeyBundleHeader(bytes: Uint8Array): KeyBundleHeader {
  return openKeyBundle(bytes).header;
}

/** The header of a record blob of any layout (its patient and key-bundle hash), without SEAL. */
export function readRecordsHeader(bytes: Uint8Array): RecordsHeader {
  return openBlobHeader(bytes, "record", checkRecordsHeader, "MalformedRecord").header;
}

/** The header of a result blob of any layout and stage (the job, record and model it answers), without SEAL. */
export function readJobResultHeader(bytes: Uint8Array): JobResultHeader {
  return openBlobHeader(bytes, "result", checkJobResultHeader, "MalformedResult").header;
}
