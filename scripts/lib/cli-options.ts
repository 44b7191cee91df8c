import { InvalidArgumentError } from "commander";

/**
 * A commander parser for a whole-number option within [min, max], refusing "1.5", "1e3", "" and unsafe integers
 * with a message that names the accepted range.
 */
export function integerOption(range: { min?: number; max?: number; also?: readonly number[] } = {}): (value: string) => number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, also = [] } = range;
  const accepted = [
    min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER
      ? "an integer"
      : max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer from ${min} to ${max}`,
    ...also.map(String),
  ].join(" or ");
  return (value: string) => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected ${accepted}`);
    if (also.includes(n)) return n;
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${accepted}`);
    return n;
  };
}

/** A commander parser for a finite number (decimals allowed) of at least `min`. */
export function numberOption(range: { min?: number } = {}): (value: string) => number {
  const { min = -Infinity } = range;
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min) {
      throw new InvalidArgumentError(Number.isFinite(min) ? `expected a number >= ${min}` : "expected a number");
    }
    return n;
  };
}

/** A commander parser for repeatable `KEY=VALUE` options, collected into one object (later ones win). */
export function keyValueOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value);
  if (!match) throw new InvalidArgumentError("expected KEY=VALUE");
  return { ...previous, [match[1]!]: match[2]! };
}
