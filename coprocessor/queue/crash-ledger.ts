import type { Redis } from "ioredis";
import type { CrashLedger } from "../jobs/process-prediction.js";

/** How long a job's count outlives its last evaluation: a job is settled or expired long before. */
const TTL_SECONDS = 7 * 24 * 3600;

/**
 * Counts, per queue job, the evaluations that started and never finished, in Redis: a crash may take the whole
 * process down with the thread, and the count must survive that to stop a job that keeps killing its worker.
 */
export class RedisCrashLedger implements CrashLedger {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(queueId: string): string {
    return `${this.prefix}:evaluations:${queueId}`;
  }

  async begin(queueId: string): Promise<number> {
    const key = this.key(queueId);
    const replies = await this.redis.multi().incr(key).expire(key, TTL_SECONDS).exec();
    const started = Number(replies?.[0]?.[1] ?? 1);
    return Math.max(0, started - 1);
  }

  async end(queueId: string): Promise<void> {
    const key = this.key(queueId);
    if ((await this.redis.decr(key)) <= 0) await this.redis.del(key);
  }

  async clear(queueId: string): Promise<void> {
    await this.redis.del(this.key(queueId));
  }
}
