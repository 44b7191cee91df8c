import { keccak256 } from "ethers";

/** A 0x-prefixed, lower-case, 32-byte hex digest: the form every hash takes on-chain and off. */
export type Hash = `0x${string}`;

const HASH_PATTERN = /^0x[0-9a-f]{64}$/;

/**
 * The one content hash of the system. keccak256 because the contracts anchor it and
 * can recompute it for free (`keccak256(bytes)`), and an auditor can check a blob with any Ethereum tool.
 */
export function contentHash(bytes: Uint8Array): Hash {
  return keccak256(bytes) as Hash;
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
