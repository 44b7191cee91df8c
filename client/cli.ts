/**
 * The patient's command line: create keys, register them, back them up and restore them with the wallet, run
 * encrypted predictions, list and reopen past ones, manage consents, share a result with a hospital, erase a record. Settings come from the environment (see .env.example); the CKKS secret
 * key stays in the local key directory and the wallet key in PMHE_PATIENT_KEY: neither is ever sent anywhere.
 */
import { existsSync } from "node:fs";
import { Command, Option } from "commander";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { MAX_TUPLE_VALUES } from "../protocol/fhe/layouts.js";
import { DEFAULT_PARAMETER_SET, PARAMETER_SET_NAMES, type ParameterSetName } from "../protocol/fhe/params.js";
import type { Hash } from "../protocol/hash.js";
import { roundProbability } from "../protocol/result-share.js";
import { restoreKeys } from "./key-backup.js";
import { addressArgument, futureDateArgument, hashArgument, integerOption } from "./node/cli-args.js";
import { errorMessage, nextStep } from "./node/cli-errors.js";
import { predictionLine, trustLines } from "./node/cli-output.js";
import { chainSettings, patientAddress, withPatient, withWallet } from "./node/cli-settings.js";
import { writeKeySet } from "./node/keystore.js";
import { jsonOption, keysOption, modelOf, output, readReadings } from "./node/cli-common.js";
import { registerIntakeCommands } from "./node/intake-commands.js";

// Settings from a local .env file when there is one; the environment itself wins.
if (existsSync(".env")) process.loadEnvFile(".env");

const DAY_SECONDS = 86_400;


const program = new Command()
  .name("pmhe-client")
  .description("PMHE patient client: encrypted medical predictions whose data and results only you can read")
  .showHelpAfterError("next: correct it and run the command again (--help shows usage and examples)")
  .addHelpText(
    "after",
    `
Settings (environment or .env, see .env.example): PMHE_RPC_URL, PMHE_API_URL, PMHE_CONTRACT_ADDRESS, PMHE_PATIENT_KEY,
PMHE_MODEL_PUBLISHER.

Examples:
  npm run client -- keygen
  npm run client -- register
  npm run client -- predict --model models/statlog-heart-logreg.v1.json --reading reading.json
  npm run client -- predict --model models/statlog-heart-logreg.v1.json --model-id 0x… --reading reading.json --json
  npm run client -- consent grant 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --days 30 --results
  npm run client -- share <jobId> 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  npm run client -- consent revoke 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  npm run client -- erase <recordHash>
  npm run client -- backup
  npm run client -- restore --keys .pmhe/keys      # on another device: the wallet alone rebuilds the key set
  npm run client -- results
  npm run client -- results --job <jobId>
  npm run client -- ingest data/examples/synthetic-readings.csv --out .pmhe/readings.json
  npm run client -- predict-windows --readings .pmhe/readings.json --model models/statlog-heart-logreg.v1.json --set cp=4 …`,
  );

program
  .command("keygen")
  .description("create a CKKS key set for the wallet of PMHE_PATIENT_KEY in the key directory")
  .addOption(keysOption())
  .option("--force", "replace an existing key set (the old secret key is lost)")
  .addOption(new Option("--parameter-set <name>", "CKKS parameter set: the one of the models you will use").choices(PARAMETER_SET_NAMES).default(DEFAULT_PARAMETER_SET))
  .option("--max-width <n>", "widest model tuple the keys evaluate (16 by default; a model's file says its width; each doubling adds one Galois key, about 1 MB at N=8192)", integerOption({ min: 1, max: MAX_TUPLE_VALUES }), 16)
  .option("--non-interactive", "add relinearization keys, for models whose server stage evaluates the sigmoid polynomial")
  .addOption(jsonOption())
  .action(async (opts: { keys: string; force?: boolean; json?: boolean; parameterSet: ParameterSetName; maxWidth: number; nonInteractive?: boolean }) => {
    // The bundle names its patient: records under it are accepted only from that wallet.
    const patient = patientAddress();
    const engine = await CkksEngine.create(opts.parameterSet);
    try {
      // A width or variant the set cannot take is an FheError naming the limit, printed by the error handler.
      const keys = engine.generateKeySet({ patient, maxValues: opts.maxWidth, sigmoid: opts.nonInteractive === true });
      await writeKeySet(opts.keys, keys, { overwrite: opts.force });
      output(opts.json, { keys: opts.keys, patient, keyBundleBytes: keys.keyBundle.length }, [
        `key set for ${patient} written to ${opts.keys} (secret key readable by you only)`,
        "next: npm run client -- register",
      ]);
    } finally {
      engine.dispose();
    }
  });

program
  .command("register")
  .description("upload the key bundle and register its hash on-chain")
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (opts: { keys: string; json?: boolean }) => {
    await withPatient(opts.keys, async (client) => {
      const { keyBundleHash, changed } = await client.register();
      output(opts.json, { keyBundleHash, changed }, [
        changed ? `key bundle ${keyBundleHash} registered` : `key bundle ${keyBundleHash} was already your current one`,
      ]);
    });
  });


program
  .command("predict")
  .description("encrypt readings, have them evaluated under encryption, verify and decrypt the prediction here")
  .requiredOption("--model <file>", "the model file the hospital published (its client stages run here)")
  .addOption(new Option("--publisher <address>", "the hospital that published it (default: PMHE_MODEL_PUBLISHER)").argParser(addressArgument).conflicts("modelId"))
  .addOption(new Option("--model-id <id>", "the model's on-chain id, instead of --publisher").argParser(hashArgument))
  .requiredOption("--reading <file>", "JSON object of raw readings keyed by feature name (an array of them: one job for all)")
  .addOption(keysOption())
  .addOption(new Option("--timeout <ms>", "how long to wait for the coprocessors").argParser(integerOption({ min: 1, max: 86_400_000 })).default(120_000))
  .option("--accept-disputed", "show a result that some operator voted against, marked DISPUTED, instead of refusing it")
  .addOption(jsonOption())
  .action(async (opts: { model: string; publisher?: string; modelId?: Hash; reading: string; keys: string; timeout: number; acceptDisputed?: boolean; json?: boolean }) => {
    const ref = await modelOf(opts);
    const readings = await readReadings(opts.reading);
    const options = { timeoutMs: opts.timeout, acceptDisputed: opts.acceptDisputed };
    const { threshold } = ref.model.client;
    const meaning = ref.model.target.positiveMeans;
    await withPatient(opts.keys, async (client) => {
      if (Array.isArray(readings)) {
        const { predictions, ...result } = await client.predictMany(ref, readings, options);
        output(opts.json, { modelId: ref.id, ...result, predictions }, [
          ...predictions.map((p, i) => `reading ${i + 1}: ${predictionLine(p, meaning, threshold)}`),
          `job ${result.jobId} (${predictions.length} readings, layout ${result.layout}), result ${result.resultHash}`,
          ...trustLines(result),
        ]);
        return;
      }
      const result = await client.predict(ref, readings, options);
      output(opts.json, { modelId: ref.id, ...result }, [
        predictionLine(result, meaning, threshold),
        `job ${result.jobId}, record ${result.recordHash}, result ${result.resultHash}`,
        ...trustLines(result),
      ]);
    });
  });

const consent = program.command("consent").description("let a hospital request predictions on your records, or stop it");

consent
  .command("grant")
  .description("grant (or replace) a hospital's consent, until an expiry")
  .argument("<hospital>", "the hospital's address", addressArgument)
  .addOption(new Option("--days <n>", "consent lasts this many days").argParser(integerOption({ min: 1, max: 3_650 })).conflicts("until"))
  .addOption(new Option("--until <date>", "consent lasts until this date (ISO 8601)").argParser(futureDateArgument))
  .option("--results", "the hospital may also receive results you share with it")
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (hospital: string, opts: { days?: number; until?: number; results?: boolean; keys: string; json?: boolean }) => {
    const expiresAt = opts.until ?? Math.floor(Date.now() / 1000) + (opts.days ?? 30) * DAY_SECONDS;
    const mayReceiveResults = opts.results === true;
    await withPatient(opts.keys, async (client) => {
      const { txHash } = await client.grantConsent(hospital, expiresAt, mayReceiveResults);
      const until = new Date(expiresAt * 1000).toISOString();
      output(opts.json, { hospital, expiresAt, mayReceiveResults, txHash }, [
        `hospital ${hospital} may request predictions on your records until ${until}${mayReceiveResults ? ", and receive results you share" : ""}`,
        "revoke it at any time: npm run client -- consent revoke " + hospital,
      ]);
    });
  });

consent
  .command("revoke")
  .description("withdraw a hospital's consent, with immediate effect")
  .argument("<hospital>", "the hospital's address", addressArgument)
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (hospital: string, opts: { keys: string; json?: boolean }) => {
    await withPatient(opts.keys, async (client) => {
      const { txHash } = await client.revokeConsent(hospital);
      output(opts.json, { hospital, revoked: true, txHash }, [`hospital ${hospital} may no longer use your records`]);
    });
  });

program
  .command("share")
  .description("share a finalized prediction with a consented hospital: rounded to 2 decimals, sealed to its key")
  .argument("<jobId>", "the job whose result to share", hashArgument)
  .argument("<hospital>", "the hospital's address", addressArgument)
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (jobId: Hash, hospital: string, opts: { keys: string; json?: boolean }) => {
    await withPatient(opts.keys, async (client) => {
      // Decrypted again here, verified as for predict; a disputed result is never shared.
      const prediction = await client.predictionOf(jobId);
      const { sharedHash, locator } = await client.shareResult(jobId, hospital, prediction);
      const shared = { probability: roundProbability(prediction.probability), predictedClass: prediction.predictedClass };
      output(opts.json, { jobId, hospital, ...shared, sharedHash, locator }, [
        `shared with ${hospital}: probability ${shared.probability.toFixed(2)}, class ${shared.predictedClass} (only that hospital's key opens it)`,
        `share ${sharedHash} at ${locator}`,
      ]);
    });
  });

program
  .command("backup")
  .description("back up your secret key to the blob store, sealed under a key only your wallet's signature gives")
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (opts: { keys: string; json?: boolean }) => {
    await withPatient(opts.keys, async (client) => {
      const receipt = await client.backupKeys();
      output(opts.json, receipt, [
        `secret key of key bundle ${receipt.keyBundleHash} backed up as ${receipt.backupHash} (${receipt.bytes} bytes; only this wallet opens it)`,
        "restore it on another device with the same wallet: npm run client -- restore --keys <dir>",
      ]);
    });
  });

program
  .command("restore")
  .description("rebuild the key directory from your latest backup, with your wallet alone")
  .addOption(keysOption())
  .option("--force", "replace a key set already in the directory (its secret key is lost)")
  .addOption(jsonOption())
  .action(async (opts: { keys: string; force?: boolean; json?: boolean }) => {
    await withWallet(async ({ settings, signer, blobs }) => {
      const restored = await restoreKeys({ signer, contractAddress: settings.PMHE_CONTRACT_ADDRESS, blobs });
      await writeKeySet(opts.keys, restored.keys, { overwrite: opts.force });
      const { keyBundleHash, backupHash, current } = restored;
      output(opts.json, { keys: opts.keys, keyBundleHash, backupHash, current }, [
        `key set of key bundle ${keyBundleHash} restored to ${opts.keys} from backup ${backupHash} (secret key readable by you only)`,
        current ? "it is your current key bundle on-chain" : "it is not your current key bundle on-chain: register it (npm run client -- register) to use it for new predictions",
      ]);
    });
  });

/** The patient's jobs, rebuilt from the chain. */
async function listJobs(opts: { keys: string; json?: boolean }): Promise<void> {
  await withPatient(opts.keys, async (client) => {
    const jobs = await client.history();
    output(opts.json, jobs, [
      ...jobs.map((job) => {
        const outcome = job.status === "Failed" ? `Failed (${job.reasonName})` : job.status;
        return `${job.jobId} ${outcome}, model ${job.modelId}, block ${job.blockNumber}${job.decryptable ? "" : job.status === "Finalized" ? " (other keys)" : ""}`;
      }),
      jobs.length === 0 ? "no prediction jobs yet" : "open a finalized one: npm run client -- results --job <jobId>",
    ]);
  });
}

/** One finished job's result, fetched again, verified against the chain and decrypted here. */
async function openResult(jobId: Hash, opts: { keys: string; acceptDisputed?: boolean; json?: boolean }): Promise<void> {
  await withPatient(opts.keys, async (client) => {
    const result = await client.predictionsOf(jobId, { acceptDisputed: opts.acceptDisputed });
    output(opts.json, result, [
      ...result.predictions.map((p, i) => `${result.predictions.length > 1 ? `reading ${i + 1}: ` : ""}probability ${p.probability.toFixed(6)} -> class ${p.predictedClass}`),
      `job ${jobId}, model ${result.modelId}`,
      ...trustLines(result),
    ]);
  });
}

const acceptDisputedOption = () => new Option("--accept-disputed", "show a result that some operator voted against, marked DISPUTED, instead of refusing it");

program
  .command("results")
  .description("your results: the list of your prediction jobs from the chain, or with --job one of them fetched, verified and decrypted here")
  .addOption(new Option("--job <jobId>", "the job to open").argParser(hashArgument))
  .addOption(keysOption())
  .addOption(acceptDisputedOption())
  .addOption(jsonOption())
  .action(async (opts: { job?: Hash; keys: string; acceptDisputed?: boolean; json?: boolean }) => (opts.job ? openResult(opts.job, opts) : listJobs(opts)));

program
  .command("history")
  .description("your prediction jobs, rebuilt from the chain: status, result hash, whether your keys here open it (as results)")
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(listJobs);

program
  .command("result")
  .description("fetch one of your finished jobs' results again, verify it against the chain and decrypt it here (as results --job)")
  .argument("<jobId>", "the job", hashArgument)
  .addOption(keysOption())
  .addOption(acceptDisputedOption())
  .addOption(jsonOption())
  .action(openResult);

program
  .command("erase")
  .description("erase one of your records: flagged on-chain (no new job can use it), then deleted from the blob store")
  .argument("<recordHash>", "the record's hash", hashArgument)
  .addOption(keysOption())
  .addOption(jsonOption())
  .action(async (recordHash: Hash, opts: { keys: string; json?: boolean }) => {
    await withPatient(opts.keys, async (client) => {
      const result = await client.eraseRecord(recordHash);
      output(opts.json, result, [
        result.txHash ? `record ${recordHash} erased on-chain` : `record ${recordHash} was already erased on-chain`,
        `blob: ${result.blobNote}`,
      ]);
    });
  });

registerIntakeCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  // The settings may be what failed: name the URLs only if they parsed.
  let urls: { rpcUrl?: string; apiUrl?: string } = {};
  try {
    const settings = chainSettings();
    urls = { rpcUrl: settings.PMHE_RPC_URL, apiUrl: settings.PMHE_API_URL };
  } catch {
    // keep none
  }
  const { message, asNetwork } = errorMessage(err, urls);
  console.error(`error: ${message}`);
  const next = nextStep(asNetwork ?? err, urls);
  if (next) console.error(`next: ${next}`);
  process.exitCode = 1;
}
