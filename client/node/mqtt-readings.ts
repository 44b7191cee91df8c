import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import type { IntakeIssue, IntakeIssueReason, IntakeResult, IntakeSummary, Observation } from "../../protocol/intake/observation.js";
import { isIssue, takeIn } from "../../protocol/intake/take-in.js";
import { MAX_FUTURE_SKEW_MS, parseWearableMessage, parseWearableTopic, wearableSubscription } from "../../protocol/intake/wearable-message.js";

/**
 * A patient's wearables, live: subscribes to `pmhe/<patient>/+` (protocol/intake/wearable-message.ts has the topic
 * scheme and the payload) and turns each message into an Observation through takeIn, or into the IntakeIssue that
 * says why not.
 *
 * Nothing is lost across a broker restart or a dropped connection: the subscription is QoS 1 in a persistent
 * session (MQTT 5, clean start off, a fixed client id, a session expiry), so the broker keeps what arrives for it
 * while it is away (mosquitto with persistence keeps it across its own restart), and the client reconnects by
 * itself. A message is acknowledged only after it was handled, and not at all once the subscription has ended:
 * what is left stays queued in the session for the next subscription with the same client id.
 *
 * QoS 1 is at-least-once: a redelivery carries the same message id and is reported as `duplicate`, not counted
 * again (SequenceMemory, bounded). Arrival order does not matter; a reading's time does. Values are never logged
 * (health data): `log` gets connection events and counts.
 */

export interface SequenceMemoryOptions {
  /** Sequence numbers remembered one by one per device, above its contiguous floor (default 4096). */
  maxPendingPerDevice?: number;
  /** Devices remembered; the one heard from least recently is forgotten first (default 64). */
  maxDevices?: number;
}

/**
 * Which message ids (`<device>-<seq>`) were seen, in bounded memory. Per device: the floor, the highest sequence
 * number such that it and every one below it were seen (or given up on), plus the set of seen numbers above it. An
 * in-order stream keeps the set empty whatever its length; out-of-order and missing numbers fill it. When the set
 * outgrows `maxPendingPerDevice`, the floor is raised past its lowest quarter: numbers at or below the floor that
 * never came are from then on taken as seen (a message that late, more than `maxPendingPerDevice` numbers behind, is
 * reported as a duplicate rather than risk counting a redelivery twice). At most `maxDevices` devices are kept
 * (least recently heard from forgotten first; a forgotten device starts afresh, floor below 0). So at most
 * `maxDevices * (maxPendingPerDevice + 1)` entries (`bound`), whatever the number of ids.
 */
export class SequenceMemory {
  readonly maxPendingPerDevice: number;
  readonly maxDevices: number;
  private readonly devices = new Map<string, { floor: number; pending: Set<number> }>();
  private pendingTotal = 0;

  constructor(options: SequenceMemoryOptions = {}) {
    this.maxPendingPerDevice = options.maxPendingPerDevice ?? 4096;
    this.maxDevices = options.maxDevices ?? 64;
    if (!(Number.isSafeInteger(this.maxPendingPerDevice) && this.maxPendingPerDevice >= 4)) throw new Error("maxPendingPerDevice must be an integer >= 4");
    if (!(Number.isSafeInteger(this.maxDevices) && this.maxDevices >= 1)) throw new Error("maxDevices must be an integer >= 1");
  }

  /** Records `seq` of `device`: true if it is new, false if it was seen before (or is at or below the floor). */
  remember(device: string, seq: number): boolean {
    let state = this.devices.get(device);
    if (state) {
      // Most recently heard from last, so the first key is the one to forget.
      this.devices.delete(device);
      this.devices.set(device, state);
    } else {
      state = { floor: -1, pending: new Set() };
      this.devices.set(device, state);
      if (this.devices.size > this.maxDevices) {
        const [oldest, forgotten] = this.devices.entries().next().value!;
        this.pendingTotal -= forgotten.pending.size;
        this.devices.delete(oldest);
      }
    }
    if (seq <= state.floor || state.pending.has(seq)) return false;
    state.pending.add(seq);
    this.pendingTotal++;
    this.absorb(state);
    if (state.pending.size > this.maxPendingPerDevice) {
      const sorted = [...state.pending].sort((a, b) => a - b);
      const dropped = Math.ceil(this.maxPendingPerDevice / 4);
      for (const n of sorted.slice(0, dropped)) state.pending.delete(n);
      this.pendingTotal -= dropped;
      state.floor = sorted[dropped - 1]!;
      this.absorb(state);
    }
    return true;
  }

  private absorb(state: { floor: number; pending: Set<number> }): void {
    while (state.pending.delete(state.floor + 1)) {
      state.floor++;
      this.pendingTotal--;
    }
  }

  /** Entries held: one per device plus every sequence number held one by one. */
  get size(): number {
    return this.devices.size + this.pendingTotal;
  }

  /** The most entries it can hold. */
  get bound(): number {
    return this.maxDevices * (this.maxPendingPerDevice + 1);
  }
}

export type ReadingsEnd = "idle" | "readings" | "signal" | "stopped";

export interface SubscribeReadingsOptions {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  /** The patient's lower-case 0x-prefixed address: the subscription is `pmhe/<patient>/+`. */
  patient: string;
  /** The session's client id: the same id resumes the same session (and what was queued for it). */
  clientId: string;
  /** Called with each reading taken in, before the message is acknowledged. */
  onObservation?: (observation: Observation) => void;
  /** Called with each message not used, before it is acknowledged. */
  onIssue?: (issue: IntakeIssue) => void;
  /** Ends the subscription when aborted (before it was set up: subscribeReadings rejects). */
  signal?: AbortSignal;
  /** Ends after this long without a message, counted from the subscription (whether connected or not). */
  idleMs?: number;
  /** Ends once this many readings were taken in; later messages stay queued in the session. */
  maxReadings?: number;
  /** Keep observations and issues in the result (default true); false for an unbounded stream, with the callbacks. */
  collect?: boolean;
  /** Dedupe memory: options, or an instance to share between subscriptions of one process. */
  dedupe?: SequenceMemory | SequenceMemoryOptions;
  /** How long the broker keeps the session (and queues for it) after a disconnect, seconds (default 7 days). */
  sessionExpirySeconds?: number;
  /** Wait between reconnection attempts, ms (default 1000). */
  reconnectPeriodMs?: number;
  /** How long to wait for the first subscription, ms (default 30 s); subscribeReadings rejects after it. */
  connectTimeoutMs?: number;
  /** The clock a reading's time is checked against (default Date.now). */
  now?: () => number;
  /** Connection events and counts, one line each; never values. */
  log?: (line: string) => void;
}

export interface ReadingsResult extends IntakeResult {
  /** Counts, kept whether or not `collect` is on. */
  summary: IntakeSummary;
  endedBy: ReadingsEnd;
  /** Messages handled (taken in or not). */
  messages: number;
  /** Connections after the first one. */
  reconnects: number;
}

export interface ReadingsSubscription {
  /** Resolves with the result once an end condition is met or stop() was called. */
  done: Promise<ReadingsResult>;
  /** Ends the subscription now (the session stays on the broker); resolves with the result. */
  stop(): Promise<ReadingsResult>;
  /** Counts so far. */
  summary(): IntakeSummary;
  /** Entries in the dedupe memory. */
  remembered(): number;
}

/** Printable form of a topic for origins (a topic can hold any UTF-8). */
const printable = (s: string) => s.replace(/[^\x21-\x7e]/g, "?");

/**
 * Subscribes to the patient's devices; resolves once the broker granted the QoS 1 subscription. Rejects if that
 * does not happen within `connectTimeoutMs`, the broker refuses it, or `signal` aborts first. A resumed session's
 * queued messages can arrive before the grant: they are handled (and go to the callbacks) as they come.
 */
export async function subscribeReadings(options: SubscribeReadingsOptions): Promise<ReadingsSubscription> {
  const filter = wearableSubscription(options.patient);
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const collect = options.collect ?? true;
  const memory = options.dedupe instanceof SequenceMemory ? options.dedupe : new SequenceMemory(options.dedupe);
  if (options.maxReadings !== undefined && !(Number.isSafeInteger(options.maxReadings) && options.maxReadings >= 1)) throw new Error("maxReadings must be an integer >= 1");
  if (options.idleMs !== undefined && !(options.idleMs > 0)) throw new Error("idleMs must be > 0");
  options.signal?.throwIfAborted();

  const observations: Observation[] = [];
  const issues: IntakeIssue[] = [];
  const skipped: Partial<Record<IntakeIssueReason, number>> = {};
  const byCode: Record<string, number> = {};
  let used = 0;
  let messages = 0;
  let connections = 0;
  let ended: ReadingsEnd | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const summary = (): IntakeSummary => ({ used, skipped: { ...skipped }, byCode: { ...byCode } });

  const client: MqttClient = connect(options.url, {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: options.sessionExpirySeconds ?? 7 * 24 * 3600 },
    reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
    connectTimeout: 10_000,
    keepalive: 30,
    resubscribe: true,
  });

  const closeClient = async () => {
    if (!client.connected) return void (await client.endAsync(true).catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.stream?.destroy();
        resolve();
      }, 2_000);
    });
    await Promise.race([client.endAsync(false).catch(() => undefined), late]);
    clearTimeout(timer);
  };

  let resolveDone!: (result: ReadingsResult) => void;
  const done = new Promise<ReadingsResult>((resolve) => (resolveDone = resolve));
  const onAbort = () => void finish("signal");

  async function finish(reason: ReadingsEnd): Promise<ReadingsResult> {
    if (ended === undefined) {
      ended = reason;
      clearTimeout(idleTimer);
      options.signal?.removeEventListener("abort", onAbort);
      // A DISCONNECT after the acknowledgements already written; messages that arrive from now on are not handled nor
      // acknowledged, and stay in the session. Forced if the broker is not there to take it.
      await closeClient();
      const counts = summary();
      const skippedText = Object.entries(counts.skipped).map(([why, n]) => `${why} ${n}`).join(", ");
      log(`readings ended (${reason}): ${messages} messages, ${counts.used} readings taken in, ${messages - counts.used} not used${skippedText ? ` (${skippedText})` : ""}, ${connections - 1 > 0 ? connections - 1 : 0} reconnects`);
      resolveDone({ observations, issues, profile: {}, summary: counts, endedBy: reason, messages, reconnects: Math.max(0, connections - 1) });
    }
    return done;
  }

  const armIdle = () => {
    if (options.idleMs === undefined || ended !== undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => void finish("idle"), options.idleMs);
  };

  const issue = (found: IntakeIssue) => {
    skipped[found.reason] = (skipped[found.reason] ?? 0) + 1;
    if (collect) issues.push(found);
    options.onIssue?.(found);
  };

  const handle = (packet: IPublishPacket) => {
    messages++;
    const topic = packet.topic;
    const fallback = `mqtt ${printable(topic)} #${messages}`;
    const place = parseWearableTopic(topic);
    if (!place || place.patient !== options.patient) {
      return issue({ reason: "malformed", origin: fallback, message: `${fallback}: topic is not ${filter}` });
    }
    const payload = typeof packet.payload === "string" ? packet.payload : new Uint8Array(packet.payload);
    const parsed = parseWearableMessage(payload, place.device);
    if (!parsed.ok) {
      const origin = parsed.id !== undefined ? `mqtt ${topic} ${parsed.id}` : fallback;
      return issue({ reason: "malformed", origin, message: `${origin}: ${parsed.problem}` });
    }
    const { message } = parsed;
    const origin = `mqtt ${topic} ${message.id}`;
    if (!memory.remember(message.device, parsed.seq)) {
      return issue({ reason: "duplicate", origin, message: `${origin}: message ${message.id} was already received (a redelivery): counted once` });
    }
    if (parsed.time > now() + MAX_FUTURE_SKEW_MS) {
      return issue({ reason: "malformed", origin, message: `${origin}: time ${message.time} is more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes in the future` });
    }
    const taken = takeIn({ code: message.code, value: message.value, unit: message.unit, time: parsed.time, origin });
    if (isIssue(taken)) return issue(taken);
    used++;
    byCode[taken.code] = (byCode[taken.code] ?? 0) + 1;
    if (collect) observations.push(taken);
    options.onObservation?.(taken);
  };

  // Handled here, before MQTT.js sends the PUBACK (it does when the callback is called); after the end, never.
  client.handleMessage = (packet, callback) => {
    if (ended !== undefined) return;
    armIdle();
    try {
      handle(packet);
    } catch (err) {
      // A bug, not a bad message: leave it unacknowledged (it is redelivered) and end.
      log(`readings: handling a message failed: ${(err as Error).message}`);
      void finish("stopped");
      return;
    }
    callback();
    if (options.maxReadings !== undefined && used >= options.maxReadings) void finish("readings");
  };

  client.on("connect", (connack) => {
    connections++;
    if (connections > 1) log(`readings: reconnected (session ${connack.sessionPresent ? "resumed" : "new"})`);
  });
  client.on("offline", () => {
    if (ended === undefined) log("readings: connection lost; reconnecting");
  });
  let lastError: Error | undefined;
  client.on("error", (err) => {
    lastError = err;
  });

  try {
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = options.connectTimeoutMs ?? 30_000;
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", aborted);
        client.removeListener("connect", attempt);
        if (err === undefined) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => settle(new Error(`no subscription to ${options.url} within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ""}`)), timeoutMs);
      const aborted = () => settle(options.signal!.reason ?? new Error("aborted"));
      options.signal?.addEventListener("abort", aborted, { once: true });
      // Subscribes once connected; a connection that drops before the SUBACK is retried on the next one.
      // rh 1: retained messages only for a new subscription, not again each time it is renewed.
      const attempt = () =>
        client.subscribe(filter, { qos: 1, rh: 1 }, (err, granted) => {
          if (err) return void (lastError = err);
          const qos = granted?.[0]?.qos;
          settle(qos === 1 ? undefined : new Error(`the broker granted the subscription QoS ${qos} (refused), not QoS 1`));
        });
      client.on("connect", attempt);
      if (client.connected) attempt();
    });
  } catch (err) {
    ended = "stopped";
    await closeClient();
    throw err;
  }
  log("readings: subscribed to the patient's devices (QoS 1, persistent session)");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) void finish("signal");
  armIdle();

  return {
    done,
    stop: () => finish("stopped"),
    summary,
    remembered: () => memory.size,
  };
}
