import { InvalidArgumentError } from "commander";
import { getAddress } from "ethers";
import { parseHash, type Hash } from "../../protocol/hash.js";

/**
 * Commander parsers for the patient CLI's arguments. Each refuses a bad value with InvalidArgumentError while the
 * command line is parsed, so nothing is uploaded or sent with it.
 */

export { integerOption } from "../../scripts/lib/cli-options.js";

/** A 0x address (any case; an EIP-55 checksum, when mixed case, must be right), returned checksummed. */
export function addressArgument(value: string): string {
  try {
    return getAddress(value.trim());
  } catch {
    throw new InvalidArgumentError("expected an address: 0x and 40 hex digits");
  }
}

/** A 0x-prefixed 32-byte hash (job id, record hash, model id), returned in lower case. */
export function hashArgument(value: string): Hash {
  try {
    return parseHash(value.trim().toLowerCase());
  } catch {
    throw new InvalidArgumentError("expected a 32-byte hash: 0x and 64 hex digits");
  }
}

/** A date and time in the future (ISO 8601, e.g. 2030-01-31 or 2030-01-31T12:00:00Z), as unix seconds. */
export function futureDateArgument(value: string): number {
  const ms = Date.parse(value.trim());
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim()) || Number.isNaN(ms)) throw new InvalidArgumentError("expected an ISO 8601 date, e.g. 2030-01-31 or 2030-01-31T12:00:00Z");
  if (ms <= Date.now()) throw new InvalidArgumentError("expected a date in the future");
  return Math.floor(ms / 1000);
}
