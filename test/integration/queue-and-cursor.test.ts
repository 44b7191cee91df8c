import { expect } from "chai";
import { Worker } from "bullmq";
import { keccak256, toUtf8Bytes } from "ethers";
import { Redis } from "ioredis";
import { pino } from "pino";
import { RedisCursorStore } from "../../coprocessor/chain/redis-cursor.js";
import { pollDelayMs, RequestListener, type ChainEvent, type ChainSource, type JobRequest } from "../../coprocessor/chain/request-listener.js";
import type { BlobLifecycle } from "../../coprocessor/blobstore/blob-lifecycle.js";
import {
  fairPriority,
  PredictionQueue,
  queueJobId,
  RETRY_BACKOFF,
  retryDelayMs,
  TRANSIENT_ATTEMPTS,
} from "../../coprocessor/queue/prediction-queue.js";
import { startLocalRedis, type LocalRedis } from "../../local/redis-server.js";
import type { Hash } from "../../protocol/hash.js";

const id = (n: number | string) => keccak256(toUtf8Bytes(`job-${n}`)) as Hash;
const blockHashOf = (n: number, chain = "a") => keccak256(toUtf8Bytes(`block-${chain}-${n}`)) as Hash;
const PATIENT_A = "0x00000000000000000000000000000000000000aa";
const PATIENT_B = "0x00000000000000000000000000000000000000bb";
const request = (n: number, patient = PATIENT_A, block = n): JobRequest => ({ jobId: id(n), patient, blockNumber: block, blockHash: blockHashOf(block) });

/** A silent logger that keeps every line, so a test can count what was logged. */
function recordingLogger() {
  const lines: Array<{ msg: string; [key: string]: unknown }> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/**
 * A chain stand-in that replays a fixed event log: the real chain is exercised by the integration tests with a
 * hardhat node; this one pins down the cursor arithmetic (confirmations, ranges, resumption, reset detection)
 * against a real Redis. Block hashes can be changed to play a chain that was replaced.
 */
class ScriptedChain implements ChainSource {
  head_ = 0;
  chain = "a";
  queries: Array<[number, number]> = [];
  constructor(private readonly byBlock: Map<number, ChainEvent[]>) {}
  async head() {
    return { number: this.head_, hash: blockHashOf(this.head_, this.chain) };
  }
  async blockHash(n: number) {
    return n <= this.head_ ? blockHashOf(n, this.chain) : undefined;
  }
  async events(from: number, to: number) {
    this.queries.push([from, to]);
    const events: ChainEvent[] = [];
    for (let b = from; b <= to; b++) events.push(...(this.byBlock.get(b) ?? []));
    return events;
  }
}

const requested = (n: number, patient = PATIENT_A): ChainEvent => ({ type: "requested", request: request(n, patient) });
const jobIds = (requests: JobRequest[]) => requests.map((r) => r.jobId);

/** Records what the listener reports, in order: a recording fake at the BlobLifecycle boundary (the store implements it). */
class RecordingBlobLifecycle implements BlobLifecycle {
  calls: Array<{ referenced: Array<{ hash: Hash; kind: string }> } | { erased: { patient: string; hash: Hash; kind: string } }> = [];
  async referenced(refs: ReadonlyArray<{ hash: Hash; kind: "key-bundle" | "record" | "batch-root" | "model" | "result" | "result-share" }>) {
    this.calls.push({ referenced: refs.map((r) => ({ ...r })) });
  }
  async erased(erasure: { patient: string; hash: Hash; kind: "record" | "batch-root" }) {
    this.calls.push({ erased: { ...erasure } });
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

  it("enqueues a request once however often its event is seen, under an id that names its block", async function () {
    const queue = new PredictionQueue("test-predictions", { url: redisServer.url, maxRetriesPerRequest: null });
    try {
      expect(await queue.enqueue([request(1), request(1)])).to.equal(1);
      expect(await queue.enqueue([request(1), request(2)])).to.equal(1);
      expect(await queue.queue.getJobCountByTypes("waiting", "prioritized")).to.equal(2);
      expect(await queue.pendingOf(PATIENT_A), "counted once each").to.equal(2);
      const job = await queue.queue.getJob(queueJobId(request(1)));
      expect(job?.id).to.equal(`${id(1)}-${blockHashOf(1)}`);
      expect(job?.data).to.deep.equal({ jobId: id(1), patient: PATIENT_A });
      // Transient failures are retried until the chain settles or expires the job, never given up on.
      expect(job?.opts.attempts).to.equal(TRANSIENT_ATTEMPTS);
      expect(job?.opts.backoff).to.deep.equal({ type: RETRY_BACKOFF });

      // The same on-chain job id requested on a chain that was reset (another block hash) is a new queue job,
      // not one Redis already holds.
      const again = { ...request(1), blockHash: blockHashOf(1, "b") };
      expect(await queue.enqueue([again])).to.equal(1);
      expect(await queue.queue.getJob(queueJobId(again))).to.not.equal(undefined);
    } finally {
      await queue.close();
    }
  });

  it("gives each patient's n-th pending job priority n, across ranges, and a released job stops counting", async function () {
    const queue = new PredictionQueue("test-priorities", { url: redisServer.url, maxRetriesPerRequest: null });
    try {
      await queue.enqueue([request(1), request(2), request(3, PATIENT_B), request(4)]);
      await queue.enqueue([request(5), request(6, PATIENT_B)]);
      const priority = async (n: number, patient = PATIENT_A) => (await queue.queue.getJob(queueJobId(request(n, patient))))?.opts.priority;
      expect([await priority(1), await priority(2), await priority(4), await priority(5)]).to.deep.equal([1, 2, 3, 4]);
      expect([await priority(3, PATIENT_B), await priority(6, PATIENT_B)]).to.deep.equal([1, 2]);

      await queue.release(PATIENT_A, queueJobId(request(1)));
      await queue.release(PATIENT_A, queueJobId(request(2)));
      await queue.enqueue([request(7)]);
      expect(await priority(7), "after two of A's four pending jobs finished").to.equal(3);
      expect(fairPriority(10_000_000)).to.equal(2_097_152);
    } finally {
      await queue.close();
    }
  });

  it("serves another patient's single job before a flood of one patient's jobs enqueued ahead of it (a real BullMQ worker)", async function () {
    const name = "test-fairness";
    const queue = new PredictionQueue(name, { url: redisServer.url, maxRetriesPerRequest: null });
    const flood = Array.from({ length: 200 }, (_, i) => request(1_000 + i, PATIENT_A, 10 + i));
    const single = request(5_000, PATIENT_B, 300);
    await queue.enqueue([...flood, single]);
    const order: Hash[] = [];
    const worker = new Worker(name, async (job) => void order.push(job.data.jobId as Hash), {
      connection: { url: redisServer.url, maxRetriesPerRequest: null },
      concurrency: 1,
    });
    try {
      while (order.length < flood.length + 1) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await worker.close();
      await queue.close();
    }
    const position = order.indexOf(single.jobId);
    // Its only competitor at priority 1 is the flood's first job; in arrival order it would have been last (200).
    expect(position, "jobs served before patient B's").to.be.at.most(1);
    expect(order.filter((j) => j !== single.jobId), "the flood keeps its own order").to.deep.equal(jobIds(flood));
  });

  it("follows confirmed blocks from a persisted cursor and resumes after a restart without re-reading (scripted chain)", async function () {
    const chain = new ScriptedChain(new Map([[5, [requested(1)]], [7, [requested(2), requested(3)]], [12, [requested(4)]]]));
    const cursor = new RedisCursorStore(redis, "test:cursor");
    const enqueued: Hash[] = [];
    const options = { startBlock: 3, confirmations: 2, pollIntervalMs: 50, maxRange: 3, logger: pino({ level: "silent" }) };
    const listener = new RequestListener(chain, cursor, async (r) => void enqueued.push(...jobIds(r)), options);

    chain.head_ = 9; // confirmed up to block 7
    expect(await listener.poll()).to.equal(3);
    expect(enqueued).to.deep.equal([id(1), id(2), id(3)]);
    expect(chain.queries).to.deep.equal([[3, 5], [6, 7]]);
    expect(await cursor.load()).to.deep.equal({ next: 8, hash: blockHashOf(7) });

    // A new listener (a restarted process) resumes from the stored cursor.
    chain.queries = [];
    chain.head_ = 14;
    const restarted = new RequestListener(chain, new RedisCursorStore(redis, "test:cursor"), async (r) => void enqueued.push(...jobIds(r)), options);
    expect(await restarted.poll()).to.equal(1);
    expect(chain.queries).to.deep.equal([[8, 10], [11, 12]]);
    expect(enqueued).to.deep.equal([id(1), id(2), id(3), id(4)]);
    expect(await restarted.poll()).to.equal(0);
  });

  for (const reset of ["a cursor beyond the chain's head", "the block before the cursor with another hash"] as const) {
    it(`notices a chain reset from ${reset}, logs it once naming both heads, and scans again from the start block`, async function () {
      const chain = new ScriptedChain(new Map([[4, [requested(1)]], [9, [requested(2)]]]));
      const { logger, lines } = recordingLogger();
      const enqueued: Hash[] = [];
      let resets = 0;
      const listener = new RequestListener(chain, new RedisCursorStore(redis, "test:reset"), async (r) => void enqueued.push(...jobIds(r)), {
        startBlock: 2,
        confirmations: 0,
        pollIntervalMs: 50,
        onChainReset: () => resets++,
        logger,
      });
      chain.head_ = 10;
      expect(await listener.poll()).to.equal(2);

      // The chain is replaced: a new history whose head is either behind the cursor or at the same height.
      chain.chain = "b";
      chain.head_ = reset === "a cursor beyond the chain's head" ? 6 : 12;
      chain.queries = [];
      expect(await listener.poll(), "requests of the new chain, from the start block").to.equal(reset === "a cursor beyond the chain's head" ? 1 : 2);
      expect(chain.queries[0]?.[0], "first block read after the reset").to.equal(2);
      expect(await listener.poll()).to.equal(0);

      const logged = lines.filter((l) => String(l.msg).startsWith("chain reset"));
      expect(logged, "chain reset log lines").to.have.length(1);
      expect(JSON.stringify(logged[0])).to.contain(blockHashOf(10, "a")).and.to.contain(blockHashOf(chain.head_, "b"));
      expect(resets).to.equal(1);
    });
  }

  it("logs a reset to a chain still below the start block once, however many polls it takes the chain to get there", async function () {
    const chain = new ScriptedChain(new Map([[4, [requested(1)]]]));
    const { logger, lines } = recordingLogger();
    const enqueued: Hash[] = [];
    const listener = new RequestListener(chain, new RedisCursorStore(redis, "test:short-reset"), async (r) => void enqueued.push(...jobIds(r)), {
      startBlock: 3,
      confirmations: 0,
      pollIntervalMs: 50,
      logger,
    });
    chain.head_ = 8;
    await listener.poll();
    chain.chain = "b";
    chain.head_ = 1;
    for (let i = 0; i < 3; i++) expect(await listener.poll()).to.equal(0);
    chain.head_ = 5;
    expect(await listener.poll(), "the new chain's request, once it is past the start block").to.equal(1);
    expect(enqueued).to.deep.equal([id(1), id(1)]);
    expect(lines.filter((l) => String(l.msg).startsWith("chain reset"))).to.have.length(1);
  });

  it("reports blob references and erasures to the blob lifecycle in chain order, before saving the cursor (recording fake of the store's BlobLifecycle)", async function () {
    const record = id("record");
    const events: ChainEvent[] = [
      { type: "referenced", hash: id("bundle"), kind: "key-bundle" },
      { type: "referenced", hash: record, kind: "record" },
      { type: "erased", erasure: { patient: PATIENT_A, hash: record, kind: "record" } },
      { type: "referenced", hash: id("result"), kind: "result" },
    ];
    const chain = new ScriptedChain(new Map([[3, events]]));
    const lifecycle = new RecordingBlobLifecycle();
    const cursor = new RedisCursorStore(redis, "test:lifecycle");
    let failLifecycle = true;
    const flaky: BlobLifecycle = {
      referenced: async (refs) => {
        if (failLifecycle) throw new Error("store unavailable");
        await lifecycle.referenced(refs);
      },
      erased: (e) => lifecycle.erased(e),
    };
    const listener = new RequestListener(chain, cursor, async () => undefined, { startBlock: 0, confirmations: 0, pollIntervalMs: 50, lifecycle: flaky, logger: pino({ level: "silent" }) });
    chain.head_ = 5;
    // A lifecycle that fails leaves the cursor where it was: the range is reported again on the next poll.
    const err = await listener.poll().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.equal("store unavailable");
    expect(await cursor.load()).to.equal(undefined);

    failLifecycle = false;
    await listener.poll();
    expect(lifecycle.calls).to.deep.equal([
      { referenced: [{ hash: id("bundle"), kind: "key-bundle" }, { hash: record, kind: "record" }] },
      { erased: { patient: PATIENT_A, hash: record, kind: "record" } },
      { referenced: [{ hash: id("result"), kind: "result" }] },
    ]);
    expect((await cursor.load())?.next).to.equal(6);
  });

  it("backs off while the chain is unreachable and resumes where it stopped once it answers again", async function () {
    const chain = new ScriptedChain(new Map([[4, [requested(5)]], [6, [requested(6)]]]));
    let outage = 3;
    const flaky: ChainSource = {
      head: async () => {
        if (outage > 0) {
          outage--;
          throw new Error("connect ECONNREFUSED");
        }
        return chain.head();
      },
      blockHash: (n) => chain.blockHash(n),
      events: (from, to) => chain.events(from, to),
    };
    chain.head_ = 6;
    const enqueued: Hash[] = [];
    const listener = new RequestListener(flaky, new RedisCursorStore(redis, "test:flaky-cursor"), async (r) => void enqueued.push(...jobIds(r)), {
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
    expect((await new RedisCursorStore(redis, "test:flaky-cursor").load())?.next).to.equal(7);
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
    for (const bad of ["-4", '{"next":-4}', '{"next":3,"hash":"nope"}', "not json"]) {
      await redis.set("test:bad-cursor", bad);
      const err = await new RedisCursorStore(redis, "test:bad-cursor").load().then(() => undefined, (e: Error) => e);
      expect(err?.message, bad).to.contain("corrupt listener cursor");
    }
  });
});
