import { gcm } from "@noble/ciphers/aes.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, randomBytes } from "@noble/hashes/utils.js";
import { getAddress } from "ethers";
import { z } from "zod";
import { canonicalJson } from "./canonical-json.js";
import { decodeEnvelope, encodeEnvelope, EnvelopeError, requireSection } from "./envelope.js";
import { isHash, type Hash } from "./hash.js";

/**
 * What a patient shares with a hospital: a rounded prediction sealed to the hospital's registered X25519 key, never
 * a raw CKKS decryption. The full decrypted polynomial of a result, together with the public result ciphertext,
 * reveals the patient's secret key (Li and Micciancio, "On the security of homomorphic encryption on approximate
 * numbers", EUROCRYPT 2021); a probability rounded to two decimals carries none of the noise that attack needs.
 *
 * Format: a PMHE envelope of kind "result-share"; header { scheme, jobId, patient, hospital, ephemeralKey, nonce }
 * (canonical JSON, bound to the ciphertext as AES-GCM associated data); one section "ciphertext" = AES-256-GCM of
 * canonical JSON { jobId, modelId, probability, predictedClass } under HKDF-SHA256(X25519(ephemeral, hospital),
 * salt = ephemeralKey || hospitalKey, info = SHARE_SCHEME). Browser-safe (noble libraries only).
 */
export const SHARE_SCHEME = "x25519-hkdf-sha256-aes256gcm/1";
/** Decimals a shared probability keeps. */
export const SHARE_DECIMALS = 2;
/** The largest share blob: a header of a few hundred bytes and a payload under 200 bytes. */
export const MAX_SHARE_BYTES = 2_048;

export interface SharedPrediction {
  jobId: Hash;
  modelId: Hash;
  /** The probability rounded to SHARE_DECIMALS decimals. */
  probability: number;
  predictedClass: 0 | 1;
}

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const address = z.string().regex(/^0x[0-9a-f]{40}$/);
const ShareHeaderSchema = z.strictObject({
  scheme: z.literal(SHARE_SCHEME),
  jobId: hex32,
  patient: address,
  hospital: address,
  ephemeralKey: hex32,
  nonce: z.string().regex(/^0x[0-9a-f]{24}$/),
});
export type ShareHeader = z.infer<typeof ShareHeaderSchema>;

const SharedPredictionSchema = z.strictObject({
  jobId: hex32,
  modelId: hex32,
  probability: z.number().min(0).max(1),
  predictedClass: z.union([z.literal(0), z.literal(1)]),
});

const utf8 = (text: string) => new TextEncoder().encode(text);

export class ShareError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ShareError";
  }
}

export interface HospitalKeyPair {
  /** Stays with the hospital. */
  secretKey: Uint8Array;
  /** Registered on-chain (`registerHospital`, `setHospitalKey`) as bytes32. */
  publicKey: Hash;
}

/** A hospital's key pair: fresh, or derived from a 32-byte seed (the same seed always gives the same pair). */
export function hospitalKeyPair(seed?: Uint8Array): HospitalKeyPair {
  if (seed !== undefined && seed.length !== 32) throw new ShareError(`a hospital key seed is 32 bytes, got ${seed.length}`);
  const secretKey = seed ? hkdf(sha256, seed, undefined, utf8("PMHE hospital share key"), 32) : x25519.utils.randomSecretKey();
  return { secretKey, publicKey: `0x${bytesToHex(x25519.getPublicKey(secretKey))}` };
}

export function roundProbability(probability: number): number {
  if (!(probability >= 0 && probability <= 1)) throw new ShareError(`a probability is in [0, 1], got ${probability}`);
  const factor = 10 ** SHARE_DECIMALS;
  return Math.round(probability * factor) / factor;
}

function shareKey(sharedSecret: Uint8Array, ephemeralKey: Uint8Array, hospitalKey: Uint8Array): Uint8Array {
  const salt = new Uint8Array(64);
  salt.set(ephemeralKey, 0);
  salt.set(hospitalKey, 32);
  return hkdf(sha256, sharedSecret, salt, utf8(SHARE_SCHEME), 32);
}

const lowerAddress = (value: string, what: string): string => {
  try {
    return getAddress(value).toLowerCase();
  } catch (err) {
    throw new ShareError(`${what} ${JSON.stringify(value)} is not an address`, { cause: err });
  }
};

/**
 * Seals a prediction for one hospital. The probability is rounded here, whatever the caller passes, so no code
 * path can share more precision than SHARE_DECIMALS.
 */
export function sealShare(
  prediction: { jobId: Hash; modelId: Hash; probability: number; predictedClass: 0 | 1 },
  to: { patient: string; hospital: string; hospitalKey: Hash },
): Uint8Array {
  if (!isHash(prediction.jobId) || !isHash(prediction.modelId)) throw new ShareError("job id and model id must be lower-case 32-byte hashes");
  if (!isHash(to.hospitalKey) || /^0x0+$/.test(to.hospitalKey)) throw new ShareError("the hospital key must be a non-zero 32-byte X25519 public key");
  const payload: SharedPrediction = {
    jobId: prediction.jobId,
    modelId: prediction.modelId,
    probability: roundProbability(prediction.probability),
    predictedClass: prediction.predictedClass,
  };
  const ephemeral = x25519.utils.randomSecretKey();
  const ephemeralKey = x25519.getPublicKey(ephemeral);
  const hospitalKey = hexToBytes(to.hospitalKey.slice(2));
  const nonce = randomBytes(12);
  const header: ShareHeader = {
    scheme: SHARE_SCHEME,
    jobId: prediction.jobId,
    patient: lowerAddress(to.patient, "patient"),
    hospital: lowerAddress(to.hospital, "hospital"),
    ephemeralKey: `0x${bytesToHex(ephemeralKey)}`,
    nonce: `0x${bytesToHex(nonce)}`,
  };
  const key = shareKey(x25519.getSharedSecret(ephemeral, hospitalKey), ephemeralKey, hospitalKey);
  const aad = new TextEncoder().encode(canonicalJson(header));
  const ciphertext = gcm(key, nonce, aad).encrypt(new TextEncoder().encode(canonicalJson(payload)));
  return encodeEnvelope("result-share", header, [["ciphertext", ciphertext]]);
}

/** Reads a share's header without decrypting it (what the blob store checks at upload). */
export function readShareHeader(bytes: Uint8Array): ShareHeader {
  if (bytes.length > MAX_SHARE_BYTES) throw new ShareError(`a share is at most ${MAX_SHARE_BYTES} bytes, got ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = decodeEnvelope(bytes, "result-share").header;
  } catch (err) {
    if (err instanceof EnvelopeError) throw new ShareError(`not a result share: ${err.message}`, { cause: err });
    throw err;
  }
  const parsed = ShareHeaderSchema.safeParse(header);
  if (!parsed.success) throw new ShareError(`bad share header: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Opens a share with the hospital's secret key; refuses anything altered, or sealed for another key. */
export function openShare(bytes: Uint8Array, hospitalSecretKey: Uint8Array): { header: ShareHeader; prediction: SharedPrediction } {
  const header = readShareHeader(bytes);
  const envelope = decodeEnvelope(bytes, "result-share");
  const ciphertext = requireSection(envelope, "ciphertext");
  const ephemeralKey = hexToBytes(header.ephemeralKey.slice(2));
  const hospitalKey = x25519.getPublicKey(hospitalSecretKey);
  let plaintext: Uint8Array;
  try {
    const key = shareKey(x25519.getSharedSecret(hospitalSecretKey, ephemeralKey), ephemeralKey, hospitalKey);
    const aad = new TextEncoder().encode(canonicalJson(header));
    plaintext = gcm(key, hexToBytes(header.nonce.slice(2)), aad).decrypt(ciphertext);
  } catch (err) {
    throw new ShareError("the share does not open with this key: it was sealed for another hospital key, or altered", { cause: err });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch (err) {
    throw new ShareError("the share's content is not JSON", { cause: err });
  }
  const parsed = SharedPredictionSchema.safeParse(payload);
  if (!parsed.success) throw new ShareError(`bad share content: ${z.prettifyError(parsed.error)}`);
  const prediction = parsed.data as SharedPrediction;
  if (prediction.jobId !== header.jobId) throw new ShareError("the share's content names another job than its header");
  if (roundProbability(prediction.probability) !== prediction.probability) {
    throw new ShareError(`the shared probability ${prediction.probability} has more than ${SHARE_DECIMALS} decimals`);
  }
  return { header, prediction };
}
