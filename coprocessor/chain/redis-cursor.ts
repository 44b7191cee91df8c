import type { Redis } from "ioredis";
import type { Cursor, CursorStore } from "./request-listener.js";

/**
 * The listener's cursor, kept in the same Redis as the queue so both survive or vanish together. The key should
 * name the chain (chain id and genesis hash), the contract and the queue: see `cursorKey`.
 */
export class RedisCursorStore implements CursorStore {
  constructor(private readonly redis: Redis, private readonly key: string) {}

  async load(): Promise<Cursor | undefined> {
    const value = await this.redis.get(this.key);
    if (value === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    const { next, hash } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { next?: unknown; hash?: unknown };
    if (!Number.isSafeInteger(next) || (next as number) < 0 || !(hash === undefined || (typeof hash === "string" && /^0x[0-9a-f]{64}$/.test(hash)))) {
      throw new Error(`corrupt listener cursor ${JSON.stringify(value)} at ${this.key}`);
    }
    return { next: next as number, ...(hash ? { hash: hash as string } : {}) };
  }

  async save(cursor: Cursor): Promise<void> {
    await this.redis.set(this.key, JSON.stringify({ next: cursor.next, ...(cursor.hash ? { hash: cursor.hash.toLowerCase() } : {}) }));
  }
}

/**
 * The cursor's key: one per chain history (chain id and genesis block hash), contract and queue, so a cursor is
 * never applied to another chain's blocks, and a coprocessor pointed at a new chain starts from its start block.
 */
export function cursorKey(parts: { chainId: bigint | number; genesisHash: string; contract: string; queue: string }): string {
  return `pmhe:listener:${parts.chainId}:${parts.genesisHash.toLowerCase()}:${parts.contract.toLowerCase()}:${parts.queue}:cursor`;
}
