import { expect } from "chai";
import { Redis } from "ioredis";
import { RedisCrashLedger } from "../../coprocessor/queue/crash-ledger.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";

describe("crash ledger: evaluations that started and never finished, counted in Redis (redis-server)", function () {
  let server: LocalRedis;
  let redis: Redis;
  const prefix = "pmhe:test";
  const key = (queueId: string) => `${prefix}:evaluations:${queueId}`;

  before(async function () {
    server = await startLocalRedis();
    redis = new Redis(server.url);
  });
  after(async function () {
    redis?.disconnect();
    await server?.stop();
  });

  it("counts evaluations begun and not ended, and forgets a job once every one has ended", async function () {
    const ledger = new RedisCrashLedger(redis, prefix);
    expect(await ledger.begin("job-1"), "first evaluation").to.equal(0);
    expect(await ledger.begin("job-1"), "the first never ended (its thread died)").to.equal(1);
    await ledger.end("job-1");
    expect(await redis.get(key("job-1")), "one still unfinished").to.equal("1");
    expect(await redis.ttl(key("job-1")), "kept with an expiry").to.be.greaterThan(0);
    await ledger.end("job-1");
    expect(await redis.exists(key("job-1")), "nothing left at zero").to.equal(0);
    expect(await ledger.begin("job-1"), "counting starts again").to.equal(0);
    await ledger.clear("job-1");
    expect(await redis.exists(key("job-1"))).to.equal(0);
  });

  it("keeps jobs apart, and a second ledger on the same connection shares the counts", async function () {
    const [first, second] = [new RedisCrashLedger(redis, prefix), new RedisCrashLedger(redis, prefix)];
    await first.begin("job-a");
    await first.begin("job-b");
    expect(await second.begin("job-a")).to.equal(1);
    await second.end("job-a");
    expect(await redis.get(key("job-a"))).to.equal("1");
    expect(await redis.get(key("job-b"))).to.equal("1");
  });
});
