import type { Redis } from "ioredis";
import type { CursorStore } from "./request-listener.js";

/** The listener's next block, kept in the same Redis as the queue so both survive or vanish together. */
export class RedisCursorStore implements CursorStore {
  constructor(private readonly redis: Redis, private readonly key: string) {}

  async load(): Promise<number | undefined> {
    const value = await this.redis.get(this.key);
    if (value === null) return undefined;
    const block = Number(value);
    if (!Number.isSafeInteger(block) || block < 0) throw new Error(`corrupt listener cursor ${JSON.stringify(value)} at ${this.key}`);
    return block;
  }

  async save(nextBlock: number): Promise<void> {
    await this.redis.set(this.key, String(nextBlock));
  }
}
