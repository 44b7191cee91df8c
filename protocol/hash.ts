import { createKeccak } from "hash-wasm";

/** A 0x-prefixed, lower-case, 32-byte hex digest: the form every hash takes on-chain and off. */
export type Hash = `0x${string}`;

const HASH_PATTERN = /^0x[0-9a-f]{64}$/;

/**
 * Ciphertexts are hundreds of kilobytes and every one is hashed on upload, on every read by a worker and by the
 * patient: a WebAssembly keccak does a 206 KB record in ~0.7 ms where ethers' JavaScript one takes ~15 ms. The
 * hasher is synchronous once instantiated and reset before each use, so sharing one per thread is safe.
 */
const keccak = await createKeccak(256);

/**
 * The one content hash of the system. keccak256 because the contracts anchor it and
 * can recompute it for free (`keccak256(bytes)`), and an auditor can check a blob with any Ethereum tool.
 */
export function contentHash(bytes: Uint8Array): Hash {
  return `0x${keccak.init().update(bytes).digest("hex")}`;
}

export function isHash(value: unknown): value is Hash {
  return typeof value === "string" && HASH_PATTERN.test(value);
}

/** Normalises a user-supplied hash (any case) or throws with the offending value. */
export function parseHash(value: string, what = "hash"): Hash {
  const lower = value.toLowerCase();
  if (!isHash(lower)) throw new TypeError(`${what} must be 0x followed by 64 hex digits, got ${JSON.stringify(value)}`);
  return lower;
}
