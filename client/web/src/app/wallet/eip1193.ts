/** The part of EIP-1193 the shell uses: requests and the two events it follows. */
export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown>;
  on?(event: string, listener: (value: unknown) => void): unknown;
  removeListener?(event: string, listener: (value: unknown) => void): unknown;
}

/** The EIP-1193 error code a wallet put on an error, looking through wrappers (MetaMask mobile nests 4902). */
export function providerErrorCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 6; depth++) {
    const record = e as { code?: unknown; data?: { originalError?: unknown }; error?: unknown; cause?: unknown };
    if (typeof record.code === "number" && record.code !== -32603) return record.code;
    e = record.data?.originalError ?? record.error ?? record.cause;
  }
  return undefined;
}

export const hexChainId = (chainId: number) => `0x${chainId.toString(16)}`;

export function parseChainId(value: unknown): number {
  if (typeof value === "number") return value;
  const text = String(value);
  return text.startsWith("0x") ? Number.parseInt(text, 16) : Number(text);
}
