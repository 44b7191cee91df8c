import type { Redis } from "ioredis";
import type { CrashLedger } from "../jobs/process-prediction.js";

/** How long a job's count outlives its last evaluation: a job is settled or expired long before. */
const TTL_SECONDS = 7 * 24 * 3600;

/** Ends one evaluation in one round trip (every job does): the count goes down, and away at zero. */
const END_COMMAND = "pmheCrashLedgerEnd";
const END_SCRIPT = `local left = redis.call('DECR', KEYS[1]) if left <= 0 then redis.call('DEL', KEYS[1]) end return left`;
type WithEnd = Redis & { [END_COMMAND]: (key: string) => Promise<number> };

/**
 * Counts, per queue job, the evaluations that started and never finished, in Redis: a crash may take the whole
 * process down with the thread, and the count must survive that to stop a job that keeps killing its worker.
 */
export class RedisCrashLedger implements CrashLedger {
  private readonly redis: WithEnd;

  constructor(redis: Redis, private readonly prefix: string) {
    if (!(END_COMMAND in redis)) redis.defineCommand(END_COMMAND, { numberOfKeys: 1, lua: END_SCRIPT });
    this.redis = redis as WithEnd;
  }

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
    await this.redis[END_COMMAND](this.key(queueId));
  }

  async clear(queueId: string): Promise<void> {
    await this.redis.del(this.key(queueId));
  }
}
