import { expect } from "chai";
import { MAX_PASSED_OVER, pickJob, type KeyHolder, type WaitingJob } from "../../coprocessor/evaluation/key-affinity.js";
import type { Hash } from "../../protocol/hash.js";

const key = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hash;
const waitingFor = (...bundles: number[]): WaitingJob[] => bundles.map((n) => ({ keyBundleHash: key(n), passedOver: 0 }));
const thread = (name: string, ...bundles: number[]) => ({ name, keys: bundles.map(key) });

/** Runs the policy as the pool does: one idle thread at a time, passed-over counts kept. */
function drain(waiting: WaitingJob[], threads: (KeyHolder & { name: string })[]): string[] {
  const taken: string[] = [];
  while (waiting.length > 0) {
    const { thread: t, index } = pickJob(waiting, threads, threads);
    const [job] = waiting.splice(index, 1);
    for (const earlier of waiting.slice(0, index)) earlier.passedOver++;
    taken.push(`${t.name}:${Number(BigInt(job!.keyBundleHash))}`);
  }
  return taken;
}

describe("key affinity: which waiting job an idle evaluation thread takes", function () {
  it("takes the earliest job whose keys the idle thread holds, passing over one whose keys a busy thread holds", function () {
    const idle = thread("idle", 2);
    const busy = thread("busy", 1);
    expect(pickJob(waitingFor(1, 1, 2, 2), [idle], [idle, busy])).to.deep.equal({ thread: idle, index: 2 });
  });

  it("takes a job whose keys no thread holds, on the idle thread holding the fewest bundles", function () {
    const full = thread("full", 1, 2, 3);
    const light = thread("light", 4);
    const busy = thread("busy", 5);
    expect(pickJob(waitingFor(5, 9, 1), [full, light], [full, light, busy])).to.deep.equal({ thread: light, index: 1 });
  });

  it("takes the earliest job anyway when every waiting job's keys are busy in another thread: no idle thread while jobs wait", function () {
    const idle = thread("idle", 7);
    const busy = thread("busy", 1, 2);
    expect(pickJob(waitingFor(2, 1, 2), [idle], [idle, busy])).to.deep.equal({ thread: idle, index: 0 });
  });

  it(`hands out a job passed over ${MAX_PASSED_OVER} times next, even with held keys behind it`, function () {
    const idle = thread("idle", 1);
    const busy = thread("busy", 2);
    const waiting = waitingFor(2, 1);
    waiting[0]!.passedOver = MAX_PASSED_OVER - 1;
    expect(pickJob(waiting, [idle], [idle, busy]).index, "one pass short of the bound").to.equal(1);
    waiting[0]!.passedOver = MAX_PASSED_OVER;
    expect(pickJob(waiting, [idle], [idle, busy])).to.deep.equal({ thread: idle, index: 0 });
  });

  it("with one thread and a stream of held keys, a job needing other keys is taken at once (nobody holds them)", function () {
    const only = thread("only", 1);
    const order = drain(waitingFor(1, 2, 1, 1, 1), [only]);
    expect(order).to.deep.equal(["only:1", "only:2", "only:1", "only:1", "only:1"]);
  });

  it("refuses to pick from nothing", function () {
    expect(() => pickJob([], [thread("a")], [thread("a")])).to.throw(RangeError);
    expect(() => pickJob(waitingFor(1), [], [thread("a")])).to.throw(RangeError);
  });
});
