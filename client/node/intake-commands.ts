import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { type Command, Option } from "commander";
import cliProgress from "cli-progress";
import type { Hash } from "../../protocol/hash.js";
import { vitalSign } from "../../protocol/intake/vital-signs.js";
import { windowReadings } from "../../protocol/intake/windows.js";
import { ReadingError, type Reading } from "../../protocol/model.js";
import { predictWindows, type WindowProgress } from "../window-predictions.js";
import { addressArgument, hashArgument, integerOption } from "./cli-args.js";
import { jsonOption, keysOption, modelOf, output, readReadings } from "./cli-common.js";
import { patientAddress, withPatient } from "./cli-settings.js";
import { ingest, type InputFormat } from "./ingest.js";
import { readIntakeFile, writeIntakeFile } from "./intake-file.js";

/**
 * The wearable commands: `ingest` (FHIR R4, Apple Health export, device CSV, standard input, an MQTT broker → one
 * local readings file, with a count of what was used and skipped and why) and `predict-windows` (readings → prediction
 * windows → a day's batch under one root → per-window risks decrypted here).
 */

/** Exit code of `ingest --strict` when some reading was not used (0: all used; 1: an error). */
export const EXIT_READINGS_SKIPPED = 3;

const REASON_WORDS: Record<string, string> = {
  malformed: "malformed",
  unknown_code: "of a kind PMHE does not take in",
  wrong_unit: "in a unit that cannot be converted",
  impossible_value: "physiologically impossible",
  duplicate: "duplicates",
  withdrawn: "withdrawn (entered in error or cancelled)",
};

function isoTime(value: string): number {
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time)) throw new ReadingError(`"${value}" is not an ISO 8601 date-time such as 2026-03-02T00:00:00Z`);
  return time;
}

function setting(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(-?\d+(\.\d+)?)$/.exec(value);
  if (!match) throw new ReadingError(`--set takes name=number, e.g. --set cp=4, not "${value}"`);
  return { ...previous, [match[1]!]: Number(match[2]) };
}

export function registerIntakeCommands(program: Command): void {
  program
    .command("ingest")
    .description("take readings in from files (FHIR R4 JSON, Apple Health export.xml, device CSV), standard input (-) or an MQTT broker, into a local readings file")
    .argument("[inputs...]", "files to read, or - for standard input")
    .addOption(new Option("--format <format>", "the inputs' format instead of guessing it from the extension (or the first character)").choices(["fhir", "apple", "csv"]))
    .option("--time-zone <zone>", "IANA time zone of CSV timestamps written without an offset, e.g. Europe/Berlin")
    .option("--from <url>", "also take readings from an MQTT broker, e.g. mqtt://127.0.0.1:1883 (topic pmhe/<your address>/<device>)")
    .addOption(new Option("--idle-seconds <n>", "with --from: stop after this long without a message").argParser(integerOption({ min: 1, max: 86_400 })).default(10))
    .addOption(new Option("--max-readings <n>", "with --from: stop after this many readings").argParser(integerOption({ min: 1, max: 100_000_000 })))
    .option("--client-id <id>", "with --from: the MQTT session's client id (the same id resumes what the broker kept for it)")
    .option("--out <file>", "where to write the readings (plaintext health data: kept on this device, mode 0600)", ".pmhe/readings.json")
    .option("--strict", `exit with code ${EXIT_READINGS_SKIPPED} when any reading was not used`)
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Exit codes: 0 readings taken in; 1 an input could not be read (named); ${EXIT_READINGS_SKIPPED} with --strict, some readings were not used.

Examples:
  npm run client -- ingest data/examples/synthetic-bundle.fhir.json data/examples/synthetic-readings.csv
  npm run client -- ingest export.xml --out .pmhe/week.json
  npm run client -- ingest readings.csv --time-zone Europe/Berlin --strict
  cat readings.csv | npm run client -- ingest - --format csv
  npm run client -- ingest --from mqtt://127.0.0.1:1883 --idle-seconds 30`,
    )
    .action(
      async (
        inputs: string[],
        opts: { format?: InputFormat; timeZone?: string; from?: string; idleSeconds: number; maxReadings?: number; clientId?: string; out: string; strict?: boolean; json?: boolean },
      ) => {
        if (inputs.length === 0 && !opts.from) throw new ReadingError("nothing to ingest: name files (or - for standard input), or a broker with --from mqtt://host:port");
        const patient = opts.from ? patientAddress().toLowerCase() : "";
        const bar = !opts.json && process.stderr.isTTY ? new cliProgress.SingleBar({ format: "{bar} {percentage}% | {input}", stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
        let barInput = "";
        const result = await ingest({
          inputs,
          ...(opts.format ? { format: opts.format } : {}),
          ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
          ...(opts.from ? { mqtt: { url: opts.from, patient, clientId: opts.clientId ?? `pmhe-${patient.slice(2, 12)}`, idleMs: opts.idleSeconds * 1000, ...(opts.maxReadings ? { maxReadings: opts.maxReadings } : {}) } } : {}),
          onProgress: (read, total, input) => {
            if (!bar || total === undefined) return;
            if (barInput !== input) {
              if (barInput) bar.stop();
              bar.start(total, 0, { input });
              barInput = input;
            }
            bar.update(read);
          },
        }).finally(() => bar?.stop());
        await mkdir(dirname(opts.out), { recursive: true });
        await writeIntakeFile(opts.out, { sources: result.inputs.map((i) => i.input), profile: result.profile, observations: result.observations, summary: result.summary });
        const skippedTotal = Object.values(result.summary.skipped).reduce((a, b) => a + (b ?? 0), 0);
        output(opts.json, { out: opts.out, summary: result.summary, inputs: result.inputs, profile: { birthDate: result.profile.birthDate, sex: result.profile.sex, labs: Object.keys(result.profile.latest ?? {}) }, issues: result.issues }, [
          ...result.inputs.map((i) => `${i.input} (${i.format}): ${i.used} used, ${i.skipped} not used`),
          `used ${result.summary.used}: ${Object.entries(result.summary.byCode).map(([code, n]) => `${vitalSign(code)?.name ?? code} ${n}`).join(", ") || "none"}`,
          skippedTotal ? `not used ${skippedTotal}: ${Object.entries(result.summary.skipped).map(([reason, n]) => `${n} ${REASON_WORDS[reason] ?? reason}`).join(", ")}` : "every reading was used",
          ...result.issues.slice(0, 10).map((issue) => `  ${issue.message}`),
          ...(result.issues.length > 10 ? [`  … ${skippedTotal - 10} more (--json lists up to ${result.issues.length})`] : []),
          `profile: ${[result.profile.birthDate && `born ${result.profile.birthDate}`, result.profile.sex, ...Object.keys(result.profile.latest ?? {}).map((c) => `latest ${vitalSign(c)?.name ?? c}`)].filter(Boolean).join(", ") || "nothing"}`,
          `readings written to ${opts.out}; next: npm run client -- predict-windows --readings ${opts.out} --model <file> --set <input>=<value> …`,
        ]);
        if (result.summary.used === 0) throw new ReadingError("no reading was taken in: see the reasons above");
        if (opts.strict && skippedTotal > 0) process.exitCode = EXIT_READINGS_SKIPPED;
      },
    );

  program
    .command("predict-windows")
    .description("predict on every window of ingested readings: a day's windows encrypted in packed records, anchored as one Merkle root, one job per record")
    .requiredOption("--readings <file>", "the readings file `ingest --out` wrote")
    .requiredOption("--model <file>", "the model file the hospital published")
    .addOption(new Option("--publisher <address>", "the hospital that published it (default: PMHE_MODEL_PUBLISHER)").argParser(addressArgument).conflicts("modelId"))
    .addOption(new Option("--model-id <id>", "the model's on-chain id, instead of --publisher").argParser(hashArgument))
    .option("--given <file>", "JSON object of the values no device gives (e.g. chest pain type), keyed by input name")
    .addOption(new Option("--set <name=value>", "a value no device gives, e.g. --set cp=4 (repeatable; wins over --given)").argParser(setting))
    .addOption(new Option("--step-hours <n>", "hours between prediction windows").argParser(integerOption({ min: 1, max: 24 * 7 })).default(1))
    .addOption(new Option("--from <time>", "first window's end (ISO 8601); default: the readings' start").argParser(isoTime))
    .addOption(new Option("--to <time>", "last window's end (ISO 8601); default: the readings' end").argParser(isoTime))
    .addOption(new Option("--windows-per-record <n>", "windows packed in one encrypted record").argParser(integerOption({ min: 1, max: 256 })).default(6))
    .addOption(new Option("--timeout <ms>", "how long to wait for each job").argParser(integerOption({ min: 1, max: 86_400_000 })).default(300_000))
    .addOption(keysOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Examples:
  npm run client -- ingest data/examples/synthetic-readings.csv --out .pmhe/readings.json
  npm run client -- predict-windows --readings .pmhe/readings.json --model models/statlog-heart-logreg.v1.json \\
    --set cp=4 --set fbs=0 --set restecg=2 --set exang=1 --set oldpeak=2.6 --set slope=2 --set ca=1 --set thal=7`,
    )
    .action(
      async (opts: {
        readings: string;
        model: string;
        publisher?: string;
        modelId?: Hash;
        given?: string;
        set?: Record<string, number>;
        stepHours: number;
        from?: number;
        to?: number;
        windowsPerRecord: number;
        timeout: number;
        keys: string;
        json?: boolean;
      }) => {
        const ref = await modelOf(opts);
        const intake = await readIntakeFile(opts.readings);
        const fromFile = opts.given ? await readReadings(opts.given) : {};
        if (Array.isArray(fromFile)) throw new ReadingError(`${opts.given} must hold one object of values, not an array`);
        const given: Reading = { ...fromFile, ...(opts.set ?? {}) };
        const { windows, skipped } = windowReadings(ref.model, intake.observations, intake.profile, { stepHours: opts.stepHours, from: opts.from, to: opts.to, given });
        if (windows.length === 0) {
          const first = skipped[0];
          throw new ReadingError(`no window has every input${first ? `; the first one lacks ${first.missing.join("; ")}` : " (the readings span no window)"}`);
        }
        const bar = !opts.json && process.stderr.isTTY ? new cliProgress.SingleBar({ format: "{bar} {value}/{total} windows decrypted | {day}", stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
        bar?.start(windows.length, 0, { day: "" });
        const onProgress = (event: WindowProgress) => {
          if (event.step === "decrypted") bar?.increment(event.windows, { day: event.day });
          else if (!bar && !opts.json) console.error(`${event.day}: ${event.step === "encrypted" ? `${event.windows} windows in ${event.records} records` : event.step === "anchored" ? `root ${event.root} anchored` : `job ${event.jobId}`}`);
        };
        try {
          await withPatient(opts.keys, async (client) => {
            const result = await predictWindows(client, ref, windows, { windowsPerRecord: opts.windowsPerRecord, timeoutMs: opts.timeout, onProgress });
            bar?.stop();
            const meaning = ref.model.target.positiveMeans;
            output(
              opts.json,
              {
                modelId: ref.id,
                windows: result.predictions.map((p) => ({ end: new Date(p.end).toISOString(), probability: p.prediction.probability, predictedClass: p.prediction.predictedClass, jobId: p.jobId, recordHash: p.recordHash, root: p.root })),
                days: result.days,
                skipped: skipped.map((s) => ({ end: new Date(s.end).toISOString(), missing: s.missing })),
              },
              [
                ...result.predictions.map((p) => `${new Date(p.end).toISOString()}  ${(p.prediction.probability * 100).toFixed(1).padStart(5)} % ${meaning}  (job ${p.jobId.slice(0, 10)}…)`),
                ...result.days.map((d) => `${d.day}: root ${d.root}, ${d.records.length} records, ${d.records.map((r) => r.windows).reduce((a, b) => a + b, 0)} windows`),
                skipped.length ? `${skipped.length} window(s) skipped; the first: ${new Date(skipped[0]!.end).toISOString()} lacks ${skipped[0]!.missing.join("; ")}` : "no window skipped",
              ],
            );
          });
        } finally {
          bar?.stop();
        }
      },
    );
}
