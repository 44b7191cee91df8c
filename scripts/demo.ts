/**
 * One command, everything local: a Hardhat node, a private redis-server, the contracts, the blob-store API and a
 * coprocessor; the hospital publishes the heart model; held-out patients from the data set go through the
 * encrypted path one by one (one transaction each: anchorAndRequest), and the table compares each decrypted
 * probability with the plaintext model's. The local deployment runs at quorum 1, and the demo says so: one
 * operator decides every result there, and could forge it.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { loadDataset, readingFromRow } from "../hospital/dataset.js";
import { publishModel } from "../hospital/publish-model.js";
import { stratifiedSplit } from "../hospital/split.js";
import { startLocalStack } from "../local/stack.js";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { parseModelBytes, predictPlaintext } from "../protocol/model.js";
import { integerOption } from "./lib/cli-options.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** |p_encrypted - p_plaintext| above this is a disagreement: CKKS at Δ = 2^40 is ~1e-6 off on T. */
const TOLERANCE = 1e-4;

const program = new Command()
  .name("demo")
  .description("Run held-out patients through the whole encrypted prediction path on a local stack.")
  .option("--patients <n>", "number of held-out patients", integerOption({ min: 1 }), 12)
  .option("--model <file>", "model file", join(ROOT, "models", "statlog-heart-logreg.v1.json"))
  .option("--data <file>", "CSV the model was trained on", join(ROOT, "data", "statlog_heart.csv"))
  .option("--json", "print one JSON document instead of the table")
  .option("--log-level <level>", "coprocessor log level (logs go to stderr)", "warn")
  .parse();
const opts = program.opts<{ patients: number; model: string; data: string; json?: boolean; logLevel: string }>();

const model = parseModelBytes(await readFile(opts.model));
const dataset = loadDataset(await readFile(opts.data, "utf8"), model.target.column);
const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
if (opts.patients > test.length) {
  console.error(`only ${test.length} held-out patients exist; asked for ${opts.patients}`);
  process.exit(2);
}

const progress = (line: string) => {
  if (!opts.json) process.stderr.write(`${line}\n`);
};

interface Row {
  patient: number;
  csvRow: number;
  label: number;
  plaintext: number;
  decrypted: number;
  difference: number;
  sameClass: boolean;
  jobId: string;
  votes: number;
  quorum: number;
}

const started = performance.now();
progress("starting local chain, redis-server, contracts and coprocessor ...");
// The operator server on any free port: a fixed one would clash with a coprocessor already running here.
const stack = await startLocalStack({ logLevel: opts.logLevel, coprocessorEnv: { PMHE_OPERATOR_PORT: "0" } });
const rows: Row[] = [];
let exitCode = 0;
const engine = await CkksEngine.create(model.fhe.parameterSet);
try {
  const { modelId, modelHash } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
  const ref = { model, id: modelId };
  progress(`contract ${stack.contractAddress}; model ${model.name} v${model.version} published as ${modelId} (content ${modelHash})`);
  if (stack.quorum === 1) progress("quorum 1: one operator decides each result (development only)");

  for (const [i, index] of test.slice(0, opts.patients).entries()) {
    const reading = readingFromRow(dataset.columns, dataset.rows[index]!, [model.target.column]);
    const reference = predictPlaintext(model, reading);
    const { client } = await stack.newPatientClient(engine);
    try {
      const result = await client.predict(ref, reading);
      const difference = Math.abs(result.probability - reference.probability);
      rows.push({
        patient: i + 1,
        csvRow: index + 2,
        label: dataset.labels[index]!,
        plaintext: reference.probability,
        decrypted: result.probability,
        difference,
        sameClass: result.predictedClass === reference.predictedClass,
        jobId: result.jobId,
        votes: result.votes,
        quorum: result.quorum,
      });
      progress(`patient ${i + 1}/${opts.patients} done (job ${result.jobId.slice(0, 10)}…)`);
    } finally {
      client.dispose();
    }
  }

  const maxDifference = Math.max(...rows.map((r) => r.difference));
  const agreeing = rows.filter((r) => r.sameClass && r.difference <= TOLERANCE).length;
  const correct = rows.filter((r) => (r.decrypted >= model.client.threshold ? 1 : 0) === r.label).length;
  const seconds = (performance.now() - started) / 1000;
  if (agreeing !== rows.length) exitCode = 1;
  const voteCounts = [...new Set(rows.map((r) => `${r.votes} of ${r.quorum}`))].join(", ");
  const trust =
    stack.quorum === 1
      ? `This demo runs at quorum 1: one operator decides every result (each verified with ${voteCounts} votes) and could have forged it; deploy with a quorum of at least 2 where results matter.`
      : `Every result verified with ${voteCounts} votes of operators in office.`;

  if (opts.json) {
    console.log(JSON.stringify({
      model: { name: model.name, version: model.version, id: modelId, hash: modelHash, parameterSet: model.fhe.parameterSet },
      contract: stack.contractAddress,
      quorum: stack.quorum,
      singleOperator: stack.quorum === 1,
      trust,
      tolerance: TOLERANCE,
      patients: rows,
      summary: { patients: rows.length, agreeing, maxDifference, correctVsLabel: correct, seconds },
    }, null, 2));
  } else {
    const f = (x: number) => x.toFixed(6);
    console.log("| patient | csv row | label | plaintext p | decrypted p | |difference| | same class? |");
    console.log("|---:|---:|---:|---:|---:|---:|:---:|");
    for (const r of rows) {
      console.log(`| ${r.patient} | ${r.csvRow} | ${r.label} | ${f(r.plaintext)} | ${f(r.decrypted)} | ${r.difference.toExponential(2)} | ${r.sameClass ? "yes" : "NO"} |`);
    }
    console.log(
      `\n${agreeing}/${rows.length} patients agree with the plaintext model (|Δp| ≤ ${TOLERANCE}, same class); ` +
      `max |Δp| = ${maxDifference.toExponential(2)}; ${correct}/${rows.length} match the true label; ` +
      `${seconds.toFixed(1)} s in all.`,
    );
    console.log(trust);
  }
} catch (err) {
  console.error(`demo failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  engine.dispose();
  await stack.stop();
}
process.exit(exitCode);
