import { z } from "zod";

/**
 * A wearable's live readings over MQTT: the topic scheme and the JSON payload of one message. Browser-safe (zod
 * only); the Node subscriber is client/node/mqtt-readings.ts, and every reading still passes takeIn.
 *
 * Topic: `pmhe/<patient address>/<device id>`, the patient's lower-case 0x-prefixed 20-byte address and the
 * device's id (letters, digits, `.`, `_`, `-`; 1 to 64 characters, starting with a letter or digit). A subscriber
 * takes every device of one patient with `pmhe/<patient address>/+`. Messages are published with QoS 1.
 *
 * Payload: one UTF-8 JSON object of at most MAX_WEARABLE_MESSAGE_BYTES bytes, no other fields:
 *
 *   { "id": "watch-1-42", "device": "watch-1", "time": "2025-01-06T07:31:00.000Z", "code": "8867-4",
 *     "value": 72, "unit": "/min", "synthetic": true }
 *
 *   id         `<device>-<seq>`: the device's id (as in the topic) and a sequence number, a non-negative integer
 *              that goes up by one per message and is never reused by the device, not even after it restarts. QoS 1
 *              delivers at least once: a redelivery carries the same id and is counted once.
 *   device     the device's id, the same as the topic's last level.
 *   time       when it was measured: ISO 8601 in UTC, ending in `Z` (fractional seconds allowed). Order does not
 *              matter (time decides, not arrival), but a time more than MAX_FUTURE_SKEW_MS ahead of the
 *              receiver's clock is refused.
 *   code       LOINC code of the measurement (protocol/intake/vital-signs.ts).
 *   value      a JSON number, in `unit`.
 *   unit       UCUM unit (or a common spelling takeIn understands, e.g. "bpm").
 *   synthetic  true when the reading was generated, not measured (scripts/synth-wearable.ts sets it).
 *
 * Blood pressure goes as two messages with the same time, systolic (8480-6) and diastolic (8462-4).
 */

export const WEARABLE_TOPIC_ROOT = "pmhe";
/** The largest payload taken: a reading is about 150 bytes. */
export const MAX_WEARABLE_MESSAGE_BYTES = 1024;
/** How far ahead of the receiver's clock a reading's time may be (device clocks drift) before it is refused. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

const PATIENT = /^0x[0-9a-f]{40}$/;
const DEVICE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SEQUENCE = /^(0|[1-9][0-9]{0,14})$/;

/** `pmhe/<patient>/<device>`: where `device` publishes `patient`'s readings. */
export function wearableTopic(patient: string, device: string): string {
  if (!PATIENT.test(patient)) throw new Error(`patient ${patient} is not a lower-case 0x-prefixed address`);
  if (!DEVICE.test(device)) throw new Error(`device id ${JSON.stringify(device)} is not 1 to 64 letters, digits, ".", "_" or "-"`);
  return `${WEARABLE_TOPIC_ROOT}/${patient}/${device}`;
}

/** `pmhe/<patient>/+`: every device of `patient`. */
export function wearableSubscription(patient: string): string {
  if (!PATIENT.test(patient)) throw new Error(`patient ${patient} is not a lower-case 0x-prefixed address`);
  return `${WEARABLE_TOPIC_ROOT}/${patient}/+`;
}

/** The patient and device a topic names, or undefined if it does not follow the scheme. */
export function parseWearableTopic(topic: string): { patient: string; device: string } | undefined {
  const parts = topic.split("/");
  if (parts.length !== 3 || parts[0] !== WEARABLE_TOPIC_ROOT || !PATIENT.test(parts[1]!) || !DEVICE.test(parts[2]!)) return undefined;
  return { patient: parts[1]!, device: parts[2]! };
}

/** `<device>-<seq>`. */
export function wearableMessageId(device: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`sequence ${seq} is not a non-negative integer`);
  return `${device}-${seq}`;
}

/** The sequence number of `id` if it is `<device>-<seq>`, else undefined. */
export function messageSequence(id: string, device: string): number | undefined {
  if (!id.startsWith(`${device}-`)) return undefined;
  const rest = id.slice(device.length + 1);
  return SEQUENCE.test(rest) ? Number(rest) : undefined;
}

export const WearableMessageSchema = z
  .strictObject({
    id: z.string().max(96),
    device: z.string().regex(DEVICE, "1 to 64 letters, digits, \".\", \"_\" or \"-\""),
    time: z.iso.datetime({ message: "an ISO 8601 date and time in UTC, ending in Z" }),
    code: z.string().min(1).max(32),
    value: z.number(),
    unit: z.string().max(32),
    synthetic: z.boolean().optional(),
  })
  .superRefine((message, ctx) => {
    if (messageSequence(message.id, message.device) === undefined) {
      ctx.addIssue({ code: "custom", path: ["id"], message: "not <device>-<sequence number>" });
    }
  });

export type WearableMessage = z.infer<typeof WearableMessageSchema>;

export type ParsedWearableMessage =
  | { ok: true; message: WearableMessage; /** Its sequence number. */ seq: number; /** Its time, ms since the epoch. */ time: number }
  | { ok: false; /** What is wrong, without the payload's values. */ problem: string; /** The id, when the payload had a string one. */ id?: string };

/**
 * One payload checked against the schema and, when `device` is given, against the topic's device. Never throws;
 * problems name fields, not values (health data).
 */
export function parseWearableMessage(payload: string | Uint8Array, device?: string): ParsedWearableMessage {
  const size = typeof payload === "string" ? new TextEncoder().encode(payload).length : payload.length;
  if (size > MAX_WEARABLE_MESSAGE_BYTES) return { ok: false, problem: `payload of ${size} bytes exceeds ${MAX_WEARABLE_MESSAGE_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return { ok: false, problem: "payload is not UTF-8 JSON" };
  }
  const candidate = typeof json === "object" && json !== null ? (json as { id?: unknown }).id : undefined;
  // Only an id that could be one is repeated in messages.
  const rawId = typeof candidate === "string" && /^[A-Za-z0-9._-]{1,96}$/.test(candidate) ? candidate : undefined;
  const parsed = WearableMessageSchema.safeParse(json);
  if (!parsed.success) {
    const problem = parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join(".") : "payload"}: ${issue.message}`).join("; ");
    return { ok: false, problem, ...(rawId !== undefined && { id: rawId }) };
  }
  const message = parsed.data;
  if (device !== undefined && message.device !== device) {
    return { ok: false, problem: `device ${JSON.stringify(message.device)} is not the topic's device ${JSON.stringify(device)}`, id: message.id };
  }
  return { ok: true, message, seq: messageSequence(message.id, message.device)!, time: Date.parse(message.time) };
}
