/**
 * The patient's command line: create keys, register them, and run an encrypted prediction of one reading.
 * Settings come from the environment (see .env.example); the secret key stays in the local key directory.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { z } from "zod";
import { BlobClient } from "../protocol/blob-client.js";
import { CkksEngine } from "../protocol/fhe/engine.js";
import { DEFAULT_PARAMETER_SET } from "../protocol/fhe/params.js";
import { parseModelBytes, type Reading } from "../protocol/model.js";
import { readKeySet, writeKeySet } from "./node/keystore.js";
import { PatientClient } from "./patient-client.js";

// Settings from a local .env file when there is one; the environment itself wins.
if (existsSync(".env")) process.loadEnvFile(".env");

const EnvSchema = z.object({
  PMHE_RPC_URL: z.url().default("http://127.0.0.1:8545"),
  PMHE_API_URL: z.url().default("http://127.0.0.1:8080"),
  PMHE_CONTRACT_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed contract address"),
  PMHE_PATIENT_KEY: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "the patient's 0x-prefixed wallet private key"),
});

function chainSettings() {
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) throw new Error(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

async function withPatient<T>(keysDir: string, fn: (client: PatientClient) => Promise<T>): Promise<T> {
  const env = chainSettings();
  const engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
  const provider = new JsonRpcProvider(env.PMHE_RPC_URL);
  const client = new PatientClient({
    engine,
    signer: new NonceManager(new Wallet(env.PMHE_PATIENT_KEY, provider)),
    contractAddress: env.PMHE_CONTRACT_ADDRESS,
    blobs: new BlobClient(env.PMHE_API_URL),
    keys: await readKeySet(keysDir),
  });
  try {
    return await fn(client);
  } finally {
    client.dispose();
    engine.dispose();
    provider.destroy();
  }
}

const ReadingSchema = z.record(z.string(), z.number().finite());

const program = new Command().name("pmhe-client").description("PMHE patient client");
program.showHelpAfterError();

program
  .command("keygen")
  .description("create a CKKS key set in the key directory (the secret key never leaves it)")
  .option("--keys <dir>", "key directory", ".pmhe/keys")
  .option("--force", "replace an existing key set")
  .action(async (opts: { keys: string; force?: boolean }) => {
    const engine = await CkksEngine.create(DEFAULT_PARAMETER_SET);
    try {
      const keys = engine.generateKeySet();
      await writeKeySet(opts.keys, keys, { overwrite: opts.force });
      console.log(JSON.stringify({ keys: opts.keys, keyBundleBytes: keys.keyBundle.length }));
    } finally {
      engine.dispose();
    }
  });

program
  .command("register")
  .description("upload the key bundle and register its hash on-chain")
  .option("--keys <dir>", "key directory", ".pmhe/keys")
  .action(async (opts: { keys: string }) => {
    await withPatient(opts.keys, async (client) => {
      await client.register();
      console.log(JSON.stringify({ keyBundleHash: client.keyBundleHash }));
    });
  });

program
  .command("predict")
  .description("encrypt one reading, have it evaluated, and decrypt the prediction locally")
  .requiredOption("--model <file>", "model file (its hash must be published on-chain)")
  .requiredOption("--reading <file>", "JSON object of raw readings keyed by feature name")
  .option("--keys <dir>", "key directory", ".pmhe/keys")
  .option("--timeout <ms>", "how long to wait for the coprocessor", (v) => Number(v), 120_000)
  .action(async (opts: { keys: string; model: string; reading: string; timeout: number }) => {
    const model = parseModelBytes(await readFile(opts.model));
    const parsed = ReadingSchema.safeParse(JSON.parse(await readFile(opts.reading, "utf8")));
    if (!parsed.success) throw new Error(`reading file is not an object of numbers:\n${z.prettifyError(parsed.error)}`);
    const reading: Reading = parsed.data;
    await withPatient(opts.keys, async (client) => {
      const result = await client.predict(model, reading, { timeoutMs: opts.timeout });
      console.log(JSON.stringify(result));
    });
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
}
