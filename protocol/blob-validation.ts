import { decodeEnvelope, ENVELOPE_PREFIX_BYTES, EnvelopeError, looksLikeEnvelope, MAX_HEADER_BYTES, type Envelope, type EnvelopeErrorReason } from "./envelope.js";
import {
  checkJobResultHeader,
  checkKeyBundleHeader,
  checkRecordsHeader,
  keyBundleSectionsProblem,
  recordSectionNames,
  RESULT_SECTION_NAMES,
  sectionRawLimit,
  type HeaderCheck,
  type HeaderProblem,
  type JobResultHeader,
  type KeyBundleHeader,
  type RecordsHeader,
} from "./fhe/headers.js";
import { layoutProblem, maxTupleValues, recordStride, strideRotationSteps } from "./fhe/layouts.js";
import { PARAMETER_SET_NAMES, parameterSet, type ParameterSetName } from "./fhe/params.js";
import { maxSerializedBytes, sealBytesCheck, sealSizeLimits } from "./fhe/serialized.js";
import type { Hash } from "./hash.js";
import { parseModelBytes } from "./model.js";

/**
 * What the blob store checks when a blob is uploaded, before anyone spends gas on it: that the bytes are what their
 * purpose says, with the exact sections that kind needs, every SEAL section of a size its object can have under the
 * parameter set, and, for key bundles and records, that the uploader is the patient the blob names. No SEAL: a
 * structural check, fast enough for every upload (the coprocessor still loads and checks the objects themselves).
 * Browser-safe, so a client can run the same check before it uploads.
 */

/** The upload purposes this module validates (other purposes carry their own formats and checks). */
export const VALIDATED_PURPOSES = ["key-bundle", "record", "model", "result"] as const;
export type ValidatedPurpose = (typeof VALIDATED_PURPOSES)[number];

export function isValidatedPurpose(value: unknown): value is ValidatedPurpose {
  return typeof value === "string" && (VALIDATED_PURPOSES as readonly string[]).includes(value);
}

/** Why an upload was refused: stable names an API can answer with (HTTP 422). */
export const UPLOAD_PROBLEMS = [
  "not_an_envelope",
  "wrong_kind",
  "non_canonical_header",
  "bad_header",
  "unknown_parameter_set",
  "bad_rotation_steps",
  "too_many_records",
  "unsupported_layout",
  "bad_sections",
  "trailing_bytes",
  "bad_section",
  "section_too_large",
  "owner_mismatch",
  "invalid_model",
  "too_large",
] as const;
export type UploadProblem = (typeof UPLOAD_PROBLEMS)[number];

export type UploadValidation =
  | {
      ok: true;
      kind: ValidatedPurpose;
      /** Envelopes only. */
      parameterSet?: ParameterSetName;
      /** Key bundles and records: the patient the blob belongs to (the uploader). */
      owner?: string;
      /** Records: the hash of the key bundle they are encrypted under. */
      keyBundle?: Hash;
      /** The envelope's checked header, or the parsed model document. */
      header: KeyBundleHeader | RecordsHeader | JobResultHeader | Record<string, unknown>;
    }
  | { ok: false; code: UploadProblem; message: string };

/**
 * A model document is JSON of a few kilobytes (the committed ones are 4-12 KB; 16 features and three hidden rounds
 * of 16x16 weights stay far below this); the rest is free text, which 1 MiB leaves ample room for.
 */
export const MAX_MODEL_BYTES = 1024 * 1024;

/** The SEAL sections a blob of this kind can hold at most, with each one's largest raw size. */
function largestSections(purpose: Exclude<ValidatedPurpose, "model">, name: ParameterSetName): number[] {
  const params = parameterSet(name);
  const limits = sealSizeLimits(params.polyModulusDegree, params.coeffModulusBits.length);
  switch (purpose) {
    case "key-bundle":
      // Galois keys for the widest stride the set takes (log2 of it), and the relinearization key.
      return [limits.publicKey, limits.keySwitchingKeys(strideRotationSteps(recordStride(maxTupleValues(name))).length), limits.keySwitchingKeys(1)];
    case "record":
      // feature-major: one ciphertext per entry of the widest tuple the set takes
      return Array.from({ length: maxTupleValues(name) }, () => limits.ciphertext);
    case "result":
      return [limits.resultCiphertext];
  }
}

/**
 * The largest blob of a purpose that can be legitimate under a parameter set (any parameter set when omitted): the
 * container's prefix, its largest header, and the largest serialisation of every section the kind can hold.
 */
export function maxUploadBytes(purpose: ValidatedPurpose, name?: ParameterSetName): number {
  if (purpose === "model") return MAX_MODEL_BYTES;
  const sets = name ? [name] : PARAMETER_SET_NAMES;
  return Math.max(
    ...sets.map((set) => ENVELOPE_PREFIX_BYTES + MAX_HEADER_BYTES + largestSections(purpose, set).reduce((sum, raw) => sum + maxSerializedBytes(raw), 0)),
  );
}

const ENVELOPE_REASONS: Record<EnvelopeErrorReason, UploadProblem> = {
  "not-an-envelope": "not_an_envelope",
  "wrong-kind": "wrong_kind",
  "non-canonical": "non_canonical_header",
  "bad-sections": "bad_sections",
  "trailing-bytes": "trailing_bytes",
  encoding: "not_an_envelope",
};

const HEADER_REASONS: Record<HeaderProblem, UploadProblem> = {
  unknown_parameter_set: "unknown_parameter_set",
  bad_header: "bad_header",
  bad_rotation_steps: "bad_rotation_steps",
  too_many_records: "too_many_records",
};

class Refusal extends Error {
  constructor(readonly code: UploadProblem, message: string) {
    super(message);
  }
}

function refuse(code: UploadProblem, message: string): never {
  throw new Refusal(code, message);
}

function checkedHeader<T>(checked: HeaderCheck<T>): T {
  if (!checked.ok) refuse(HEADER_REASONS[checked.problem], checked.message);
  return checked.header;
}

function withinSize(purpose: ValidatedPurpose, name: ParameterSetName, bytes: Uint8Array): void {
  const limit = maxUploadBytes(purpose, name);
  if (bytes.length > limit) refuse("too_large", `${bytes.length} bytes exceed the ${limit} a ${purpose} of ${name} can take`);
}

function sectionsExactly(envelope: Envelope, expected: readonly string[]): void {
  const names = [...envelope.sections.keys()];
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
    refuse("bad_sections", `this ${envelope.kind} must hold sections ${expected.join(", ")}, it has ${names.join(", ") || "none"}`);
  }
}

function sealSections(envelope: Envelope, limitOf: (section: string) => number): void {
  for (const [name, bytes] of envelope.sections) {
    const problem = sealBytesCheck(bytes, limitOf(name));
    if (problem) refuse(problem.kind === "too-large" ? "section_too_large" : "bad_section", `section "${name}": ${problem.message}`);
  }
}

function ownedBy(patient: string, uploader: string, what: string): void {
  if (patient !== uploader.toLowerCase()) refuse("owner_mismatch", `${what} belongs to ${patient}, uploaded by ${uploader.toLowerCase()}`);
}

function validateModel(bytes: Uint8Array): UploadValidation {
  if (looksLikeEnvelope(bytes)) refuse("wrong_kind", "a PMHE blob was uploaded as a model");
  if (bytes.length > MAX_MODEL_BYTES) refuse("too_large", `${bytes.length} bytes exceed the ${MAX_MODEL_BYTES} a model can take`);
  let model: Record<string, unknown>;
  try {
    model = parseModelBytes(bytes) as unknown as Record<string, unknown>;
  } catch (err) {
    refuse("invalid_model", (err as Error).message);
  }
  return { ok: true, kind: "model", header: model };
}

function decode(purpose: Exclude<ValidatedPurpose, "model">, bytes: Uint8Array): Envelope {
  try {
    return decodeEnvelope(bytes, purpose);
  } catch (err) {
    if (err instanceof EnvelopeError) refuse(ENVELOPE_REASONS[err.reason], err.message);
    throw err;
  }
}

function validateKeyBundle(bytes: Uint8Array, uploader: string): UploadValidation {
  const envelope = decode("key-bundle", bytes);
  const header = checkedHeader(checkKeyBundleHeader(envelope.header));
  withinSize("key-bundle", header.parameterSet, bytes);
  ownedBy(header.patient, uploader, "key bundle");
  const problem = keyBundleSectionsProblem(header, [...envelope.sections.keys()]);
  if (problem) refuse("bad_sections", problem);
  sealSections(envelope, (name) => sectionRawLimit({ kind: "key-bundle", header }, name));
  return { ok: true, kind: "key-bundle", parameterSet: header.parameterSet, owner: header.patient, header };
}

function validateRecord(bytes: Uint8Array, uploader: string): UploadValidation {
  const envelope = decode("record", bytes);
  const header = checkedHeader(checkRecordsHeader(envelope.header));
  withinSize("record", header.parameterSet, bytes);
  ownedBy(header.patient, uploader, "record");
  const unsupported = layoutProblem(header.layout, header.parameterSet);
  if (unsupported) refuse("unsupported_layout", unsupported);
  sectionsExactly(envelope, recordSectionNames(header));
  sealSections(envelope, (name) => sectionRawLimit({ kind: "record", header }, name));
  return { ok: true, kind: "record", parameterSet: header.parameterSet, owner: header.patient, keyBundle: header.keyBundle as Hash, header };
}

function validateResult(bytes: Uint8Array): UploadValidation {
  const envelope = decode("result", bytes);
  const header = checkedHeader(checkJobResultHeader(envelope.header));
  withinSize("result", header.parameterSet, bytes);
  if ("slot" in header && header.slot >= parameterSet(header.parameterSet).slots) refuse("bad_header", `result slot ${header.slot} is out of range`);
  sectionsExactly(envelope, RESULT_SECTION_NAMES);
  sealSections(envelope, (name) => sectionRawLimit({ kind: "result", header }, name));
  return { ok: true, kind: "result", parameterSet: header.parameterSet, header };
}

/**
 * Checks an upload against its purpose. `uploader` is the address that signed the upload (lower case); key bundles
 * and records must name it as their patient. Never throws for bad bytes: every refusal is `{ ok: false, code }`.
 */
export function validateUpload(purpose: ValidatedPurpose, bytes: Uint8Array, uploader: string): UploadValidation {
  // Beyond the largest blob of any kind nothing is even parsed; within it, the kind is checked first (a record
  // uploaded as a result is the wrong kind, not merely too large), then the size for the kind and parameter set.
  const limit = Math.max(...VALIDATED_PURPOSES.map((p) => maxUploadBytes(p)));
  if (bytes.length > limit) return { ok: false, code: "too_large", message: `${bytes.length} bytes exceed the ${limit} any upload can take` };
  try {
    if (purpose === "model") return validateModel(bytes);
    if (purpose === "key-bundle") return validateKeyBundle(bytes, uploader);
    if (purpose === "record") return validateRecord(bytes, uploader);
    return validateResult(bytes);
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
}
