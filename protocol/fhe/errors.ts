import type { Seal } from "./runtime.js";

/** Emscripten exposes this helper at run time but its generated typings omit it. */
interface SealWithExceptions {
  getExceptionMessage(err: unknown): [type: string, message: string];
}

export type FheErrorCode =
  | "MalformedKeyBundle"
  | "MalformedRecord"
  | "MalformedResult"
  | "MalformedSecretKey"
  | "ParameterMismatch"
  | "EvaluationError";

/** Every failure of the FHE layer, with a code the coprocessor maps to an on-chain reason. */
export class FheError extends Error {
  readonly code: FheErrorCode;
  constructor(code: FheErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "FheError";
    this.code = code;
  }
}

/** SEAL throws `WebAssembly.Exception`s whose text is only reachable through the module. */
export function describeSealException(seal: Seal, err: unknown): string {
  // WebAssembly.Exception is not an Error subclass (and not in every lib typing), so test for that instead.
  if (err !== null && typeof err === "object" && !(err instanceof Error)) {
    try {
      const [type, message] = (seal as unknown as SealWithExceptions).getExceptionMessage(err);
      return `${type}: ${message}`;
    } catch {
      return "unreadable SEAL exception";
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** Runs one SEAL step, turning whatever it throws into an FheError with the given code and context. */
export function sealStep<T>(seal: Seal, code: FheErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FheError) throw err;
    throw new FheError(code, `${what}: ${describeSealException(seal, err)}`, { cause: err });
  }
}
