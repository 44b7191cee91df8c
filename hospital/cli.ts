/**
 * A hospital's command line: make its X25519 share key pair, publish and deprecate its models, and open the results
 * patients shared with it. Transactions and model uploads are signed with PMHE_HOSPITAL_KEY (the hospital's account,
 * registered by governance); the share key pair lives in a key file only its owner can read.
 *
 *   npm run hospital -- --help
 */
import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { getBytes, Wallet } from "ethers";
import { z } from "zod";
import { hashArgument, integerOption } from "../client/node/cli-args.js";
import {
  addressSetting,
  loadDotEnv,
  output,
  parseSettings,
  privateKeySetting,
  runCli,
  SettingsError,
  withSession,
  type ContractSession,
} from "../governance/cli-support.js";
import { BlobClient } from "../protocol/blob-client.js";
import { modelIdOf } from "../protocol/chain.js";
import { ContractCallError, namedContractCall } from "../protocol/contract-errors.js";
import type { Hash } from "../protocol/hash.js";
import { modelHash as hashOfModel, parseModelBytes } from "../protocol/model.js";
import { hospitalKeyPair, ShareError } from "../protocol/result-share.js";
import { DEFAULT_HOSPITAL_KEY_FILE, KeyFileError, readHospitalKeyPair, writeHospitalKeyFile } from "./key-file.js";
import { publishModel } from "./publish-model.js";
import { openSharedResult } from "./shared-results.js";

loadDotEnv();

const ChainSchema = z.object({
  PMHE_RPC_URL: z.url().default("http://127.0.0.1:8545"),
  PMHE_API_URL: z.url().default("http://127.0.0.1:8080"),
  PMHE_CONTRACT_ADDRESS: addressSetting,
  PMHE_HOSPITAL_KEY: privateKeySetting("the hospital"),
  PMHE_START_BLOCK: z.coerce.number().int().min(0).default(0),
});
const KeyFileSchema = z.object({ PMHE_HOSPITAL_KEY_FILE: z.string().min(1).default(DEFAULT_HOSPITAL_KEY_FILE) });
const OptionalWalletSchema = z.object({ PMHE_HOSPITAL_KEY: privateKeySetting("the hospital").optional() });

const settings = () => parseSettings(ChainSchema);
const defaultKeyFile = () => parseSettings(KeyFileSchema).PMHE_HOSPITAL_KEY_FILE;

async function asHospital<T>(fn: (session: ContractSession, s: z.infer<typeof ChainSchema>) => Promise<T>): Promise<T> {
  const s = settings();
  return withSession(s.PMHE_RPC_URL, s.PMHE_CONTRACT_ADDRESS, s.PMHE_HOSPITAL_KEY, (session) => fn(session, s));
}

const jsonOption = () => new Option("--json", "print one JSON document");
const keyFileOption = () => new Option("--key-file <file>", `the hospital's share-key file (default PMHE_HOSPITAL_KEY_FILE, else ${DEFAULT_HOSPITAL_KEY_FILE})`);

const program = new Command()
  .name("pmhe-hospital")
  .description("PMHE hospital: share keys, model publication, results patients share with you")
  .showHelpAfterError("next: correct it and run the command again (--help shows usage and examples)")
  .addHelpText(
    "after",
    `
Settings (environment or .env, see .env.example): PMHE_RPC_URL, PMHE_API_URL, PMHE_CONTRACT_ADDRESS, PMHE_HOSPITAL_KEY (the
hospital's account; on a local chain Hardhat's public account #1), PMHE_HOSPITAL_KEY_FILE, PMHE_START_BLOCK.

Examples:
  npm run hospital -- keygen                     # then governance: npm run admin -- register-hospital <address> --name … --key-file …
  npm run hospital -- publish models/statlog-heart-logreg.v1.json
  npm run hospital -- models
  npm run hospital -- deprecate 0x<model id>
  npm run hospital -- shares --json
  npm run hospital -- keygen --force && npm run hospital -- set-key   # rotate the share key`,
  );

program
  .command("keygen")
  .description("make the hospital's X25519 share key pair in a key file readable by you only, and print the public key to register")
  .addOption(keyFileOption())
  .option("--from-wallet", "derive the pair from PMHE_HOSPITAL_KEY, as `npm start` does for its demo hospital (public test accounts only)")
  .option("--force", "replace an existing key file (shares sealed to the old key no longer open)")
  .addOption(jsonOption())
  .action(async (opts: { keyFile?: string; fromWallet?: boolean; force?: boolean; json?: boolean }) => {
    const file = opts.keyFile ?? defaultKeyFile();
    const walletKey = parseSettings(OptionalWalletSchema).PMHE_HOSPITAL_KEY;
    if (opts.fromWallet && !walletKey) throw new SettingsError("--from-wallet needs PMHE_HOSPITAL_KEY");
    const address = walletKey ? new Wallet(walletKey).address : undefined;
    const pair = opts.fromWallet ? hospitalKeyPair(getBytes(walletKey!)) : hospitalKeyPair();
    const written = await writeHospitalKeyFile(file, pair, { overwrite: opts.force, derivedFrom: opts.fromWallet ? address : undefined });
    const who = address ?? "<the hospital's address>";
    output(opts.json, { keyFile: file, publicKey: written.publicKey, hospital: address ?? null, derivedFromWallet: opts.fromWallet === true }, [
      `share key pair written to ${file} (secret key readable by you only)`,
      `public key ${written.publicKey}`,
      `next: governance registers it: npm run admin -- register-hospital ${who} --name "<name>" --key ${written.publicKey}`,
      `      (already registered? publish the new key yourself: npm run hospital -- set-key)`,
    ]);
  });

program
  .command("set-key")
  .description("publish the key file's public key as this hospital's share key (after keygen --force: a key rotation)")
  .addOption(keyFileOption())
  .addOption(jsonOption())
  .action(async (opts: { keyFile?: string; json?: boolean }) => {
    const pair = await readHospitalKeyPair(opts.keyFile ?? defaultKeyFile());
    await asHospital(async ({ contract, signer }) => {
      const receipt = await namedContractCall("setHospitalKey", async () => (await contract.setHospitalKey(pair.publicKey)).wait());
      output(opts.json, { hospital: await signer.getAddress(), publicKey: pair.publicKey, txHash: receipt!.hash }, [
        `share key of ${await signer.getAddress()} is now ${pair.publicKey}`,
      ]);
    });
  });

program
  .command("publish")
  .description("upload a model file to the blob store and publish its hash on-chain; prints the model id patients request")
  .argument("<model>", "the model file (canonical JSON, e.g. from npm run train)")
  .addOption(jsonOption())
  .action(async (file: string, opts: { json?: boolean }) => {
    const model = parseModelBytes(await readFile(file));
    await asHospital(async ({ signer, contract }, s) => {
      const publisher = await signer.getAddress();
      const modelHash = hashOfModel(model);
      const modelId = modelIdOf(publisher, modelHash);
      const document = { modelId, modelHash, name: model.name, version: model.version, publisher };
      try {
        await publishModel(signer, s.PMHE_CONTRACT_ADDRESS, new BlobClient(s.PMHE_API_URL), model);
      } catch (err) {
        if (!(err instanceof ContractCallError && err.errorName === "ModelAlreadyPublished")) throw err;
        const [, , , deprecated] = await contract.modelOf(modelId);
        output(opts.json, { ...document, published: false, alreadyPublished: true, deprecated }, [
          `${model.name} v${model.version} is already published by ${publisher}${deprecated ? " (deprecated)" : ""}: model id ${modelId}`,
        ]);
        return;
      }
      output(opts.json, { ...document, published: true }, [
        `published ${model.name} v${model.version}: model id ${modelId}`,
        `content ${modelHash} at ${new BlobClient(s.PMHE_API_URL).urlOf(modelHash)}`,
        `patients: npm run client -- predict --model ${file} --publisher ${publisher} --reading <file>`,
      ]);
    });
  });

program
  .command("deprecate")
  .description("deprecate one of your models: it takes no new jobs (jobs already requested are still served)")
  .argument("<modelId>", "the model's id (publish and models print it)", hashArgument)
  .addOption(jsonOption())
  .action(async (modelId: Hash, opts: { json?: boolean }) => {
    await asHospital(async ({ contract, signer }) => {
      const [publisher, , version, deprecated] = await namedContractCall("modelOf", () => contract.modelOf(modelId));
      const me = await signer.getAddress();
      if (publisher === me && deprecated) {
        output(opts.json, { modelId, deprecated: true, changed: false }, [`model ${modelId} is already deprecated; nothing sent`]);
        return;
      }
      const receipt = await namedContractCall("deprecateModel", async () => (await contract.deprecateModel(modelId)).wait());
      output(opts.json, { modelId, version: Number(version), deprecated: true, changed: true, txHash: receipt!.hash }, [
        `model ${modelId} (v${version}) deprecated: it takes no new jobs`,
      ]);
    });
  });

program
  .command("models")
  .description("list the models this hospital has published")
  .addOption(new Option("--from-block <n>", "first block to read events from (default PMHE_START_BLOCK, else 0)").argParser(integerOption({ min: 0 })))
  .addOption(jsonOption())
  .action(async (opts: { fromBlock?: number; json?: boolean }) => {
    await asHospital(async ({ contract, signer }, s) => {
      const me = await signer.getAddress();
      const from = opts.fromBlock ?? s.PMHE_START_BLOCK;
      const [published, deprecated] = await Promise.all([
        contract.queryFilter(contract.filters.ModelPublished(undefined, me), from),
        contract.queryFilter(contract.filters.ModelDeprecated(undefined, me), from),
      ]);
      const gone = new Set(deprecated.map((log) => String(log.args.modelId).toLowerCase()));
      const models = published.map((log) => ({
        modelId: String(log.args.modelId).toLowerCase(),
        modelHash: String(log.args.modelHash).toLowerCase(),
        name: String(log.args.name),
        version: Number(log.args.version),
        deprecated: gone.has(String(log.args.modelId).toLowerCase()),
        block: log.blockNumber,
      }));
      output(opts.json, { publisher: me, models }, models.length
        ? models.map((m) => `${m.modelId}  ${m.name} v${m.version}${m.deprecated ? "  deprecated" : ""}`)
        : [`${me} has published no models (npm run hospital -- publish <model file>)`]);
    });
  });

program
  .command("shares")
  .description("list the results patients shared with this hospital, each opened with the key file's secret key (exit 1 if one does not open)")
  .addOption(keyFileOption())
  .addOption(new Option("--from-block <n>", "first block to read events from (default PMHE_START_BLOCK, else 0)").argParser(integerOption({ min: 0 })))
  .addOption(jsonOption())
  .action(async (opts: { keyFile?: string; fromBlock?: number; json?: boolean }) => {
    const keyFile = opts.keyFile ?? defaultKeyFile();
    const pair = await readHospitalKeyPair(keyFile);
    await asHospital(async ({ contract, signer, provider }, s) => {
      const me = await signer.getAddress();
      const from = opts.fromBlock ?? s.PMHE_START_BLOCK;
      const [events, registered, published] = await Promise.all([
        contract.queryFilter(contract.filters.ResultShared(undefined, undefined, me), from),
        contract.hospitalKeyOf(me).then((k) => k.toLowerCase(), () => undefined),
        contract.queryFilter(contract.filters.ModelPublished(), from),
      ]);
      const names = new Map(published.map((log) => [String(log.args.modelId).toLowerCase(), `${String(log.args.name)} v${Number(log.args.version)}`]));
      const blobs = new BlobClient(s.PMHE_API_URL);
      const shares = [];
      for (const log of events) {
        const jobId = String(log.args.jobId).toLowerCase() as Hash;
        const base = { jobId, patient: String(log.args.patient), sharedHash: String(log.args.sharedHash).toLowerCase(), block: log.blockNumber };
        try {
          const opened = await openSharedResult({ runner: provider, contractAddress: s.PMHE_CONTRACT_ADDRESS, blobs, hospital: me, jobId, secretKey: pair.secretKey });
          shares.push({ ...base, opened: true as const, modelId: opened.modelId, model: names.get(opened.modelId) ?? null, probability: opened.probability, predictedClass: opened.predictedClass });
        } catch (err) {
          if (!(err instanceof ShareError)) throw err;
          shares.push({ ...base, opened: false as const, error: err.message });
        }
      }
      const keyMismatch = registered !== undefined && registered !== pair.publicKey;
      const warnings = keyMismatch
        ? [`the key file's public key ${pair.publicKey} is not the one registered for ${me} (${registered}): shares sealed to the registered key do not open with it`]
        : registered === undefined
          ? [`${me} has no registered share key on this deployment`]
          : [];
      const lines = shares.length
        ? shares.map((x) =>
            x.opened
              ? `job ${x.jobId}  patient ${x.patient}  ${x.model ?? x.modelId}  probability ${x.probability.toFixed(2)}  class ${x.predictedClass}`
              : `job ${x.jobId}  patient ${x.patient}  NOT OPENED: ${x.error}`,
          )
        : [`no results have been shared with ${me}`];
      output(opts.json, { hospital: me, keyFile, shares, warnings }, [...lines, ...warnings.map((w) => `warning: ${w}`)]);
      if (shares.some((x) => !x.opened)) process.exitCode = 1;
    });
  });

await runCli(program, {
  urls: () => {
    const s = settings();
    return { rpcUrl: s.PMHE_RPC_URL, apiUrl: s.PMHE_API_URL };
  },
  contractHints: {
    AccessControlUnauthorizedAccount: "ask governance to register this hospital first: npm run admin -- register-hospital <address> --name … --key-file …",
    NotAHospital: "ask governance to register this hospital first: npm run admin -- register-hospital <address> --name … --key-file …",
    ModelVersionNotNext: "give the model file the version the contract expects (retrain with that version), then publish again",
    NotModelPublisher: "only the hospital that published a model may deprecate it: use that hospital's PMHE_HOSPITAL_KEY",
    UnknownModel: "check the model id (npm run hospital -- models lists yours)",
    ZeroKey: "run npm run hospital -- keygen and use the key file it writes",
  },
  own: (err) => {
    if (err instanceof KeyFileError) {
      return err.message.includes("refusing to overwrite")
        ? "keep it, or pass --force to replace it (then publish the new key: npm run hospital -- set-key)"
        : "make one: npm run hospital -- keygen (or --key-file <file>)";
    }
    return undefined;
  },
});
