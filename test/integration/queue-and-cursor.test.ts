import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { Redis } from "ioredis";
import { pino } from "pino";
import { RedisCursorStore } from "../../coprocessor/chain/redis-cursor.js";
import { pollDelayMs, RequestListener, type RequestSource } from "../../coprocessor/chain/request-listener.js";
import { PredictionQueue, RETRY_BACKOFF, retryDelayMs, TRANSIENT_ATTEMPTS } from "../../coprocessor/queue/prediction-queue.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import type { Hash } from "../../protocol/hash.js";

const id = (n: number) => keccak256(toUtf8Bytes(`job-${n}`)) as Hash;

/**
 * A chain stand-in that replays a fixed event log: the real chain is exercised by the end-to-end test; this one
 * pins down the cursor arithmetic (confirmations, ranges, resumption) against a real Redis.
 */
class ScriptedEvents implements RequestSource {
  head = 0;
  queries: Array<[number, number]> = [];
  constructor(private readonly byBlock: Map<number, Hash[]>) {}
  async latestBlock() {
    return this.head;
  }
  async requestedJobIds(from: number, to: number) {
    this.queries.push([from, to]);
    const ids: Hash[] = [];
    for (let b = from; b <= to; b++) ids.push(...(this.byBlock.get(b) ?? []));
    return ids;
  }
}

describe("job queue and listener cursor (real redis-server)", function () {
  let redisServer: LocalRedis;
  let redis: Redis;

  before(async function () {
    redisServer = await startLocalRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  });
  beforeEach(async function () {
    await redis.flushall();
  });
  after(async function () {
    await redis?.quit();
    await redisServer?.stop();
  });

  it("enqueues an on-chain job once however often its event is seen", async function () {
    const queue = new PredictionQueue("test-predictions", { url: redisServer.url, maxRetriesPerRequest: null });
    try {
      await queue.enqueue(id(1));
      await queue.enqueue(id(1));
      await queue.enqueue(id(2));
      expect(await queue.queue.getWaitingCount()).to.equal(2);
      const job = await queue.queue.getJob(id(1));
      expect(job?.data).to.deep.equal({ jobId: id(1) });
      // Transient failures are retried until the chain settles or expires the job, never given up on.
      expect(job?.opts.attempts).to.equal(TRANSIENT_ATTEMPTS);
      expect(job?.opts.backoff).to.deep.equal({ type: RETRY_BACKOFF });
    } finally {
      await queue.close();
    }
  });

  it("follows confirmed blocks from a persisted cursor and resumes after a restart without re-reading (scripted event source in place of the chain)", async function () {
    const events = new ScriptedEvents(new Map([[5, [id(1)]], [7, [id(2), id(3)]], [12, [id(4)]]]));
    const cursor = new RedisCursorStore(redis, "test:cursor");
    const enqueued: Hash[] = [];
    const options = { startBlock: 3, confirmations: 2, pollIntervalMs: 50, maxRange: 3, logger: pino({ level: "silent" }) };
    const listener = new RequestListener(events, cursor, async (j) => void enqueued.push(j), options);

    events.head = 9; // confirmed up to block 7
    expect(await listener.poll()).to.equal(3);
    expect(enqueued).to.deep.equal([id(1), id(2), id(3)]);
    expect(events.queries).to.deep.equal([[3, 5], [6, 7]]);
    expect(await cursor.load()).to.equal(8);

    // A new listener (a restarted process) resumes from the stored cursor.
    events.queries = [];
    events.head = 14;
    const restarted = new RequestListener(events, new RedisCursorStore(redis, "test:cursor"), async (j) => void enqueued.push(j), options);
    expect(await restarted.poll()).to.equal(1);
    expect(events.queries).to.deep.equal([[8, 10], [11, 12]]);
    expect(enqueued).to.deep.equal([id(1), id(2), id(3), id(4)]);
    expect(await restarted.poll()).to.equal(0);
  });

  it("backs off while the chain is unreachable and resumes where it stopped once it answers again", async function () {
    const events = new ScriptedEvents(new Map([[4, [id(5)]], [6, [id(6)]]]));
    let outage = 3;
    const flaky: RequestSource = {
      latestBlock: async () => {
        if (outage > 0) {
          outage--;
          throw new Error("connect ECONNREFUSED");
        }
        return events.latestBlock();
      },
      requestedJobIds: (from, to) => events.requestedJobIds(from, to),
    };
    events.head = 6;
    const enqueued: Hash[] = [];
    const listener = new RequestListener(flaky, new RedisCursorStore(redis, "test:flaky-cursor"), async (j) => void enqueued.push(j), {
      startBlock: 1,
      confirmations: 0,
      pollIntervalMs: 20,
      maxBackoffMs: 100,
      logger: pino({ level: "silent" }),
    });
    const failuresSeen: number[] = [];
    listener.start();
    try {
      const deadline = Date.now() + 10_000;
      while (enqueued.length < 2 && Date.now() < deadline) {
        failuresSeen.push(listener.failures);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await listener.stop();
    }
    expect(enqueued).to.deep.equal([id(5), id(6)]);
    expect(Math.max(...failuresSeen)).to.equal(3);
    expect(listener.failures).to.equal(0);
    expect(await new RedisCursorStore(redis, "test:flaky-cursor").load()).to.equal(7);
  });

  it("waits the poll interval while healthy and doubles it per failure up to the cap, with bounded jitter", function () {
    const options = { pollIntervalMs: 500, maxBackoffMs: 30_000 };
    const noJitter = () => 0;
    expect(pollDelayMs(0, options, noJitter)).to.equal(500);
    expect([1, 2, 3, 4].map((n) => pollDelayMs(n, options, noJitter))).to.deep.equal([1_000, 2_000, 4_000, 8_000]);
    expect(pollDelayMs(7, options, noJitter)).to.equal(30_000);
    expect(pollDelayMs(1_000, options, noJitter)).to.equal(30_000);
    expect(pollDelayMs(3, options, () => 0.999)).to.be.within(3_200, 4_000);
    // A cap below the interval never makes a failing listener poll faster than a healthy one.
    expect(pollDelayMs(2, { pollIntervalMs: 500, maxBackoffMs: 100 }, noJitter)).to.equal(500);
  });

  it("spaces job retries 1 s, 2 s, 4 s, ... apart, never more than the configured cap", function () {
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, 60_000))).to.deep.equal([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(retryDelayMs(7, 60_000)).to.equal(60_000);
    expect(retryDelayMs(99_999, 60_000)).to.equal(60_000);
    expect(retryDelayMs(3, 2_500)).to.equal(2_500);
  });

  it("refuses a corrupt cursor instead of rescanning from an arbitrary block", async function () {
    await redis.set("test:bad-cursor", "-4");
    const err = await new RedisCursorStore(redis, "test:bad-cursor").load().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.contain("corrupt listener cursor");
  });
});
