/**
 * A look at SEAL-serialised bytes before SEAL parses them.
 *
 * SEAL decompresses a zstd section into the WASM heap before it checks what it decompressed, and that heap never
 * shrinks: a few kilobytes of crafted zstd (RLE blocks) can expand to hundreds of megabytes and leave a
 * coprocessor's worker with that heap for good, or kill it. So every SEAL object we load first passes this check,
 * which reads the frame's declared size and block headers (no decompression) and refuses anything larger than the
 * object can legitimately be under the parameter set.
 *
 * Layout (SEAL 4.x, little-endian): a 16-byte header
 *   magic u16 = 0xA15E | header size u8 = 16 | version major u8 = 4 | minor u8 | compression u8 | reserved u16 | size u64
 * where size counts the whole serialisation, header included; then the payload: raw (compression 0) or one zstd
 * frame (compression 2). zlib (1) has no cheap bound and SEAL only emits it when asked, so it is refused.
 */

const SEAL_MAGIC = 0xa15e;
const SEAL_HEADER_BYTES = 16;
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_MAX_BLOCK = 128 * 1024;

export const COMPRESSION_NONE = 0;
export const COMPRESSION_ZSTD = 2;

export interface SealBytesProblem {
  kind: "too-large" | "malformed";
  message: string;
}

const malformed = (message: string): SealBytesProblem => ({ kind: "malformed", message });
const tooLarge = (message: string): SealBytesProblem => ({ kind: "too-large", message });

/**
 * Returns a description of what is wrong, or undefined when the bytes are one SEAL object whose decompressed size
 * is at most `maxRawBytes`.
 */
export function sealBytesProblem(bytes: Uint8Array, maxRawBytes: number): string | undefined {
  return sealBytesCheck(bytes, maxRawBytes)?.message;
}

/**
 * `sealBytesProblem` with the kind of problem: "too-large" when the object is or would expand beyond
 * `maxRawBytes` (a zstd bomb included), "malformed" when the bytes are not one well-formed SEAL object.
 */
export function sealBytesCheck(bytes: Uint8Array, maxRawBytes: number): SealBytesProblem | undefined {
  if (bytes.length < SEAL_HEADER_BYTES) return malformed(`${bytes.length} bytes is too short for a SEAL object`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0, true) !== SEAL_MAGIC) return malformed("not a SEAL object (bad magic)");
  if (bytes[2] !== SEAL_HEADER_BYTES) return malformed(`SEAL header size ${bytes[2]}, expected ${SEAL_HEADER_BYTES}`);
  if (bytes[3] !== 4) return malformed(`SEAL serialisation version ${bytes[3]}.${bytes[4]}, expected 4.x`);
  if (view.getUint16(6, true) !== 0) return malformed("SEAL header reserved field is not zero");
  const size = view.getBigUint64(8, true);
  if (size !== BigInt(bytes.length)) return malformed(`SEAL header claims ${size} bytes, the section has ${bytes.length}`);
  const mode = bytes[5];
  if (mode === COMPRESSION_NONE) {
    return bytes.length > maxRawBytes ? tooLarge(`${bytes.length} bytes exceed the ${maxRawBytes} this object can take`) : undefined;
  }
  if (mode !== COMPRESSION_ZSTD) return malformed(`SEAL compression mode ${mode} is not accepted (only none or zstd)`);
  // Compressed blocks do not state what they expand to, so only the frame's own size bounds them: never more than
  // zstd's worst case for an object of the largest legitimate size.
  const maxBytes = maxSerializedBytes(maxRawBytes);
  if (bytes.length > maxBytes) return tooLarge(`${bytes.length} bytes exceed the ${maxBytes} a compressed object of this kind can take`);
  return zstdProblem(bytes, view, SEAL_HEADER_BYTES, maxRawBytes);
}

/**
 * The most bytes a SEAL object of at most `maxRawBytes` can serialise to: the raw size, or the SEAL header plus
 * zstd's ZSTD_COMPRESSBOUND (incompressible data is stored in raw blocks; the bound adds their headers and the
 * frame's) with room for the frame header and checksum.
 */
export function maxSerializedBytes(maxRawBytes: number): number {
  const compressBound = maxRawBytes + (maxRawBytes >> 8) + (maxRawBytes < ZSTD_MAX_BLOCK ? (ZSTD_MAX_BLOCK - maxRawBytes) >> 11 : 0);
  return Math.max(maxRawBytes, SEAL_HEADER_BYTES + compressBound + 32);
}

/**
 * Checks one zstd frame: it must declare its content size (SEAL's frames always do: single segment, 4-byte size),
 * that size must fit the object, and the block headers must be well-formed and end the bytes exactly. The zstd
 * decoder refuses to produce more than a frame declares (measured: RLE blocks beyond the declared size fail at once,
 * with no heap growth), so the declared size bounds what SEAL inflates. Without this check a 3 KB frame declaring
 * and holding 100 MiB of RLE blocks grew the WASM heap from 17 MB to 620 MB for good.
 */
function zstdProblem(bytes: Uint8Array, view: DataView, start: number, maxRawBytes: number): SealBytesProblem | undefined {
  let at = start;
  const need = (n: number): boolean => at + n <= bytes.length;
  if (!need(5) || view.getUint32(at, true) !== ZSTD_MAGIC) return malformed("SEAL payload is not a zstd frame");
  at += 4;
  const descriptor = bytes[at++]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const checksum = (descriptor >> 2) & 1;
  if ((descriptor >> 3) & 1) return malformed("zstd frame header has its reserved bit set");
  if ((descriptor & 3) !== 0) return malformed("zstd frame uses a dictionary");
  if (!singleSegment) {
    if (!need(1)) return malformed("zstd frame header is truncated");
    at++; // window descriptor
  }
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return malformed("zstd frame does not declare its content size");
  if (!need(fcsBytes)) return malformed("zstd frame header is truncated");
  let contentSize: number;
  if (fcsBytes === 1) contentSize = bytes[at]!;
  else if (fcsBytes === 2) contentSize = view.getUint16(at, true) + 256;
  else if (fcsBytes === 4) contentSize = view.getUint32(at, true);
  else contentSize = Number(view.getBigUint64(at, true));
  if (contentSize > maxRawBytes) return tooLarge(`zstd frame declares ${contentSize} bytes, above the ${maxRawBytes} this object can take`);
  at += fcsBytes;
  // Raw and RLE blocks state their regenerated size: together they may not exceed the declared size.
  let stated = 0;
  for (;;) {
    if (!need(3)) return malformed("zstd block header is truncated");
    const header = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
    at += 3;
    const last = header & 1;
    const type = (header >> 1) & 3;
    const blockSize = header >>> 3;
    if (type === 3) return malformed("zstd block of reserved type");
    if (blockSize > ZSTD_MAX_BLOCK) return malformed("zstd block larger than the format allows");
    if (type === 0 || type === 1) {
      stated += blockSize;
      if (stated > contentSize) return tooLarge(`zstd blocks would expand beyond the ${contentSize} bytes the frame declares`);
    }
    at += type === 1 ? 1 : blockSize;
    if (at > bytes.length) return malformed("zstd block runs past the end of the section");
    if (last) break;
  }
  if (checksum) at += 4;
  if (at !== bytes.length) return malformed(at > bytes.length ? "zstd checksum is truncated" : `${bytes.length - at} bytes after the zstd frame`);
  return undefined;
}

/** Raw sizes of SEAL objects under one parameter set, with slack for their metadata. */
export function sealSizeLimits(polyModulusDegree: number, primes: number): {
  ciphertext: number;
  /** A result: two polynomials at the last level, one prime. */
  resultCiphertext: number;
  secretKey: number;
  publicKey: number;
  keySwitchingKeys: (keys: number) => number;
} {
  const poly = (count: number) => polyModulusDegree * count * 8;
  const slack = 1024;
  const dataPrimes = primes - 1;
  const publicKey = 2 * poly(primes) + slack;
  return {
    // at most two polynomials over the data primes
    ciphertext: 2 * poly(dataPrimes) + slack,
    resultCiphertext: 2 * poly(1) + slack,
    secretKey: poly(primes) + slack,
    publicKey,
    // one public-key-sized ciphertext per data prime, per key; Galois keys also list every possible element
    // (up to N entries of 8 bytes, empty or not)
    keySwitchingKeys: (keys) => keys * dataPrimes * publicKey + polyModulusDegree * 8 + slack,
  };
}
