/**
 * Synthetic wearable data from a profile of data/statlog_heart.csv (scripts/lib/synthetic-wearable.ts): a week (or
 * --days) of minute heart rate, blood pressure, SpO2 and resting heart rate, the profile's birth date and sex and a
 * cholesterol value, every output marked synthetic. Deterministic for a seed, profile, start and days.
 *
 *   npm run synth -- --days 7 --seed 1 --format csv|fhir|mqtt [--out file]
 *   npm run synth -- --format mqtt --mqtt-url mqtt://127.0.0.1:PORT --rate 1000 [--patient 0x...] [--device watch-1]
 *
 * csv and fhir go to --out or stdout. mqtt publishes each reading with QoS 1 to pmhe/<patient>/<device> at --rate
 * messages per second; without --mqtt-url it starts a private mosquitto on a free loopback port, subscribes as the
 * intake does (client/node/mqtt-readings.ts), publishes, and reports what the subscriber took in. Counts only are
 * printed, never values.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { subscribeReadings } from "../client/node/mqtt-readings.js";
import { startLocalMosquitto } from "../local/mosquitto.js";
import { wearableTopic } from "../protocol/intake/wearable-message.js";
import { integerOption, numberOption } from "./lib/cli-options.js";
import {
  DEFAULT_START,
  generateWearable,
  publishWearableMessages,
  readHeartProfiles,
  syntheticPatientAddress,
  toCsv,
  toFhirBundle,
  toWearableMessages,
} from "./lib/synthetic-wearable.js";

const DEFAULT_DATA = fileURLToPath(new URL("../data/statlog_heart.csv", import.meta.url));

function startOption(value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : /Z$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError("expected a date YYYY-MM-DD or an ISO 8601 time ending in Z");
  return ms;
}

const program: Command = new Command()
  .name("synth")
  .description("Generate synthetic wearable readings for a profile of the heart data set, as CSV, FHIR or MQTT messages.")
  .option("--days <n>", "days of data", integerOption({ min: 1, max: 366 }), 7)
  .option("--seed <n>", "seed of the generator", integerOption({ min: 0, max: 0xffffffff }), 1)
  .addOption(new Option("--format <format>", "output format").choices(["csv", "fhir", "mqtt"]).default("csv"))
  .option("--out <file>", "write csv or fhir here instead of stdout")
  .option("--profile <row>", "1-based data row of the heart data set (default: chosen by the seed)", integerOption({ min: 1 }))
  .option("--data <file>", "the heart data set", DEFAULT_DATA)
  .addOption(new Option("--start <date>", "first day, YYYY-MM-DD (UTC) or an ISO time ending in Z").argParser(startOption).default(DEFAULT_START, new Date(DEFAULT_START).toISOString().slice(0, 10)))
  .option("--utc-offset <minutes>", "the person's local time zone, minutes east of UTC (sleep follows local time)", integerOption({ min: -720, max: 840 }), 0)
  .option("--mqtt-url <url>", "broker to publish to (mqtt format); without it a private mosquitto is started")
  .option("--rate <messages/s>", "MQTT messages per second; 0 as fast as the broker takes them", numberOption({ min: 0 }), 1000)
  .option("--patient <address>", "patient address of the MQTT topic (default: derived from the seed)")
  .option("--device <id>", "device id of the MQTT topic and message ids", "watch-1")
  .parse();

const opts = program.opts<{
  days: number;
  seed: number;
  format: "csv" | "fhir" | "mqtt";
  out?: string;
  profile?: number;
  data: string;
  start: number;
  utcOffset: number;
  mqttUrl?: string;
  rate: number;
  patient?: string;
  device: string;
}>();
if (opts.format !== "mqtt" && (opts.mqttUrl !== undefined || opts.patient !== undefined)) program.error("error: --mqtt-url and --patient apply to --format mqtt");
if (opts.format === "mqtt" && opts.out !== undefined) program.error("error: --out applies to --format csv and fhir");

const profiles = readHeartProfiles(readFileSync(opts.data, "utf8"));
const row = opts.profile ?? (opts.seed % profiles.length) + 1;
const profile = profiles[row - 1];
if (!profile) program.error(`error: --profile ${row}: the heart data set has ${profiles.length} rows`);
const data = generateWearable({ profile, seed: opts.seed, days: opts.days, start: opts.start, utcOffsetMinutes: opts.utcOffset });

const counts = () => {
  const byCode: Record<string, number> = {};
  for (const r of data.readings) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
  return Object.entries(byCode).map(([code, n]) => `${code} ${n}`).join(", ");
};
const say = (line: string) => process.stderr.write(`${line}\n`);
say(`synthetic data: profile row ${profile.row} (age ${profile.age}, ${profile.sex}), seed ${opts.seed}, ${opts.days} day${opts.days === 1 ? "" : "s"} from ${new Date(data.start).toISOString()}: ${data.readings.length} readings (${counts()})`);

if (opts.format !== "mqtt") {
  const text = opts.format === "csv" ? toCsv(data) : `${JSON.stringify(toFhirBundle(data))}\n`;
  if (opts.out) {
    writeFileSync(opts.out, text);
    say(`wrote ${opts.format} to ${opts.out}`);
  } else process.stdout.write(text); // no process.exit after it: a pipe takes the text asynchronously
} else {
  await publish();
}

/** MQTT: publish to --mqtt-url, or through a private broker to a subscriber, and report the counts. */
async function publish(): Promise<void> {
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.exit(130);
      say(`\n${signal}: stopping ...`);
      controller.abort();
    });
  }

  const patient = (opts.patient ?? syntheticPatientAddress(opts.seed)).toLowerCase();
  let topic: string;
  try {
    topic = wearableTopic(patient, opts.device);
  } catch (err) {
    program.error(`error: ${(err as Error).message}`);
  }
  const messages = toWearableMessages(data.readings, opts.device);
  const progress = (n: number) => {
    if (n % 1000 === 0 || n === messages.length) say(`published ${n}/${messages.length}`);
  };

  try {
    if (opts.mqttUrl) {
      const { published, seconds } = await publishWearableMessages({ client: opts.mqttUrl, topic, messages, rate: opts.rate, signal: controller.signal, onAcknowledged: progress });
      say(`published ${published} messages to ${topic} in ${seconds.toFixed(1)} s`);
    } else {
      const broker = await startLocalMosquitto();
      try {
        say(`private mosquitto at ${broker.url}`);
        const subscription = await subscribeReadings({
          url: broker.url,
          patient,
          clientId: `pmhe-synth-intake-${opts.seed}`,
          maxReadings: messages.length,
          idleMs: 10_000,
          collect: false,
          signal: controller.signal,
          log: say,
        });
        const { seconds } = await publishWearableMessages({ client: broker.url, topic, messages, rate: opts.rate, signal: controller.signal, onAcknowledged: progress });
        const result = await subscription.done;
        const skipped = Object.entries(result.summary.skipped).map(([why, n]) => `${why} ${n}`).join(", ");
        say(`published ${messages.length} messages in ${seconds.toFixed(1)} s; the subscriber took in ${result.summary.used}${skipped ? ` (not used: ${skipped})` : ""}`);
        if (result.summary.used !== messages.length) process.exitCode = 1;
      } finally {
        await broker.stop();
      }
    }
  } catch (err) {
    if (controller.signal.aborted) {
      say("synth interrupted");
      process.exit(130);
    }
    say(`synth failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
