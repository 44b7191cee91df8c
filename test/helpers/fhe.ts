import { expect } from "chai";
import { FheError, type FheErrorCode } from "../../protocol/fhe/errors.js";

/** w·x + b in plaintext: what a linear stage decrypts to. */
export function dot(weights: readonly number[], values: readonly number[], bias: number): number {
  if (weights.length !== values.length) throw new RangeError(`${weights.length} weights for ${values.length} values`);
  let sum = bias;
  for (let i = 0; i < values.length; i++) sum += weights[i]! * values[i]!;
  return sum;
}

/** The FheError `fn` throws, or undefined if it throws nothing; anything else it throws fails the test. */
export function fheErrorOf(fn: () => unknown): FheError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof FheError) return err;
    expect.fail(`expected an FheError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  return undefined;
}

/** The FheError `fn` throws, which must have `code` (and a message matching `message`). */
export function expectFheError(fn: () => unknown, code: FheErrorCode, message?: RegExp): FheError {
  const err = fheErrorOf(fn);
  if (!err) expect.fail(`expected an FheError ${code}, but nothing was thrown`);
  expect(err.code, err.message).to.equal(code);
  if (message) expect(err.message).to.match(message);
  return err;
}

/** Where a blob's header JSON ends, read straight from the documented container prefix (magic, version, length). */
export function headerEnd(bytes: Uint8Array): number {
  return 9 + new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, false);
}
