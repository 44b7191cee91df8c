/**
 * Governance's command line: register and revoke hospitals, grant and revoke operators (COPROCESSOR_ROLE), set the
 * quorum and the job timeout, and show who holds which role. Every change is one transaction signed with
 * PMHE_ADMIN_KEY, the account holding DEFAULT_ADMIN_ROLE (the `admin` of the Ignition deployment).
 *
 *   npm run admin -- --help
 */
import { Command, Option } from "commander";
import { z } from "zod";
import { addressArgument, integerOption } from "../client/node/cli-args.js";
import { namedContractCall } from "../protocol/contract-errors.js";
import { readHospitalPublicKey, KeyFileError } from "../hospital/key-file.js";
import { connectRpc } from "../protocol/rpc.js";
import { checkDeployment, connectPmhe } from "../protocol/chain.js";
import {
  addressSetting,
  durationArgument,
  encryptionKeyArgument,
  loadDotEnv,
  output,
  parseSettings,
  privateKeySetting,
  runCli,
  SettingsError,
  withSession,
  type ContractSession,
} from "./cli-support.js";
import { COPROCESSOR_ROLE, formatDuration, HOSPITAL_ROLE, readGovernanceStatus } from "./status.js";

loadDotEnv();

const ChainSchema = z.object({
  PMHE_RPC_URL: z.url().default("http://127.0.0.1:8545"),
  PMHE_CONTRACT_ADDRESS: addressSetting,
  PMHE_START_BLOCK: z.coerce.number().int().min(0).default(0),
});
const AdminSchema = ChainSchema.extend({ PMHE_ADMIN_KEY: privateKeySetting("the governance account (DEFAULT_ADMIN_ROLE)") });

const chainSettings = () => parseSettings(ChainSchema);

/** Runs `fn` as the admin: settings checked, chain reached, contract checked. */
async function asAdmin<T>(fn: (session: ContractSession) => Promise<T>): Promise<T> {
  const settings = parseSettings(AdminSchema);
  return withSession(settings.PMHE_RPC_URL, settings.PMHE_CONTRACT_ADDRESS, settings.PMHE_ADMIN_KEY, fn);
}

async function send(action: string, call: () => Promise<{ wait(): Promise<{ hash: string; blockNumber: number } | null> }>): Promise<{ txHash: string; block: number }> {
  const receipt = await namedContractCall(action, async () => (await call()).wait());
  return { txHash: receipt!.hash, block: receipt!.blockNumber };
}

const jsonOption = () => new Option("--json", "print one JSON document");

const program = new Command()
  .name("pmhe-admin")
  .description("PMHE governance: hospitals, operators, quorum and job timeout of a deployment")
  .showHelpAfterError("next: correct it and run the command again (--help shows usage and examples)")
  .addHelpText(
    "after",
    `
Settings (environment or .env, see .env.example): PMHE_RPC_URL, PMHE_CONTRACT_ADDRESS, PMHE_ADMIN_KEY (the account holding
DEFAULT_ADMIN_ROLE; on a local chain Hardhat's public account #0), PMHE_START_BLOCK (where status reads events from).

Examples:
  npm run admin -- status
  npm run hospital -- keygen                          # the hospital makes its share key pair
  npm run admin -- register-hospital 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --name "St. Mary's" --key-file .pmhe/hospital-share-key.json
  npm run admin -- register-hospital 0x7099…79C8 --name "St. Mary's" --key 0x<64 hex digits>
  npm run admin -- grant-operator 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
  npm run admin -- set-quorum 2
  npm run admin -- set-timeout 2h
  npm run admin -- revoke-operator 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --json`,
  );

program
  .command("register-hospital")
  .description("register a hospital (HOSPITAL_ROLE) with its X25519 share key and the name patients see; again to replace its key or name")
  .argument("<address>", "the hospital's account", addressArgument)
  .requiredOption("--name <name>", "the name patients see")
  .addOption(new Option("--key <hex>", "the hospital's X25519 public key (npm run hospital -- keygen prints it)").argParser(encryptionKeyArgument).conflicts("keyFile"))
  .addOption(new Option("--key-file <file>", "read the public key from the hospital's key file (only its public half is read)"))
  .addOption(jsonOption())
  .action(async (hospital: string, opts: { name: string; key?: `0x${string}`; keyFile?: string; json?: boolean }) => {
    const name = opts.name.trim();
    if (name.length === 0 || name.length > 200) throw new SettingsError("--name must be 1 to 200 characters");
    if (!opts.key && !opts.keyFile) throw new SettingsError("give the hospital's public key: --key 0x… or --key-file <file>");
    const key = opts.key ?? (await readHospitalPublicKey(opts.keyFile!));
    await asAdmin(async ({ contract }) => {
      const [isHospital, currentKey] = await Promise.all([
        contract.hasRole(HOSPITAL_ROLE, hospital),
        contract.hospitalKeyOf(hospital).catch(() => undefined),
      ]);
      const replacing = isHospital && currentKey !== undefined;
      const { txHash, block } = await send("registerHospital", () => contract.registerHospital(hospital, key, name));
      output(opts.json, { hospital, name, encryptionKey: key, replaced: replacing ? currentKey!.toLowerCase() : null, txHash, block }, [
        `hospital ${hospital} registered as "${name}" with share key ${key} (block ${block})`,
        ...(replacing && currentKey!.toLowerCase() !== key ? [`it replaces the key ${currentKey!.toLowerCase()}: shares sealed to that one open only with the old key file`] : []),
        `next: the hospital publishes its models: npm run hospital -- publish <model file>`,
      ]);
    });
  });

program
  .command("revoke-hospital")
  .description("revoke a hospital's HOSPITAL_ROLE: its models take no new jobs, it may no longer request or receive shares")
  .argument("<address>", "the hospital's account", addressArgument)
  .addOption(jsonOption())
  .action(async (hospital: string, opts: { json?: boolean }) => {
    await asAdmin(async ({ contract }) => {
      if (!(await contract.hasRole(HOSPITAL_ROLE, hospital))) {
        output(opts.json, { hospital, changed: false }, [`${hospital} is not a registered hospital; nothing sent`]);
        return;
      }
      const { txHash, block } = await send("revokeRole", () => contract.revokeRole(HOSPITAL_ROLE, hospital));
      output(opts.json, { hospital, changed: true, txHash, block }, [`hospital ${hospital} revoked (block ${block}); its models take no new jobs`]);
    });
  });

for (const [command, grant] of [["grant-operator", true], ["revoke-operator", false]] as const) {
  program
    .command(command)
    .description(
      grant
        ? "grant COPROCESSOR_ROLE: the account's votes on results count from now on"
        : "revoke COPROCESSOR_ROLE: the account's votes, past and future, stop counting at once",
    )
    .argument("<address>", "the operator's account (the address of its PMHE_COPROCESSOR_KEY)", addressArgument)
    .addOption(jsonOption())
    .action(async (operator: string, opts: { json?: boolean }) => {
      await asAdmin(async ({ contract }) => {
        const holds = await contract.hasRole(COPROCESSOR_ROLE, operator);
        const quorum = Number(await contract.quorum());
        if (holds === grant) {
          output(opts.json, { operator, inOffice: holds, changed: false }, [`${operator} ${grant ? "is already" : "is not"} an operator; nothing sent`]);
          return;
        }
        const action = grant ? "grantRole" : "revokeRole";
        const { txHash, block } = await send(action, () => (grant ? contract.grantRole(COPROCESSOR_ROLE, operator) : contract.revokeRole(COPROCESSOR_ROLE, operator)));
        const status = await readGovernanceStatus(contract, { fromBlock: chainSettings().PMHE_START_BLOCK, atLeastBlock: block });
        output(opts.json, { operator, inOffice: grant, changed: true, txHash, block, operatorsInOffice: status.operatorsInOffice, quorum }, [
          `${operator} ${grant ? "granted" : "revoked"} COPROCESSOR_ROLE (block ${block}); ${status.operatorsInOffice} operator(s) in office, quorum ${quorum}`,
          ...status.warnings.map((w) => `warning: ${w}`),
        ]);
      });
    });
}

program
  .command("set-quorum")
  .description("set how many agreeing operators settle a job (new jobs; 1 only on a development chain)")
  .argument("<k>", "agreeing operator votes, 1 to 255", integerOption({ min: 1, max: 255 }))
  .addOption(jsonOption())
  .action(async (k: number, opts: { json?: boolean }) => {
    await asAdmin(async ({ contract }) => {
      const previous = Number(await contract.quorum());
      const result = previous === k ? undefined : await send("setQuorum", () => contract.setQuorum(k));
      const status = await readGovernanceStatus(contract, { fromBlock: chainSettings().PMHE_START_BLOCK, atLeastBlock: result?.block });
      output(opts.json, { previous, quorum: k, changed: result !== undefined, ...result, operatorsInOffice: status.operatorsInOffice, warnings: status.warnings }, [
        result ? `quorum ${previous} -> ${k} for new jobs (block ${result.block})` : `quorum is already ${k}; nothing sent`,
        ...status.warnings.map((w) => `warning: ${w}`),
      ]);
    });
  });

program
  .command("set-timeout")
  .description("set the time from request to deadline of new jobs")
  .argument("<duration>", "seconds, or with a unit: 90m, 2h, 1d (1 s to 365 d)", durationArgument)
  .addOption(jsonOption())
  .action(async (seconds: number, opts: { json?: boolean }) => {
    await asAdmin(async ({ contract }) => {
      const previous = Number(await contract.jobTimeout());
      const result = previous === seconds ? undefined : await send("setJobTimeout", () => contract.setJobTimeout(seconds));
      output(opts.json, { previous, jobTimeout: seconds, changed: result !== undefined, ...result }, [
        result
          ? `job timeout ${formatDuration(previous)} -> ${formatDuration(seconds)} for new jobs (block ${result.block})`
          : `job timeout is already ${formatDuration(seconds)}; nothing sent`,
      ]);
    });
  });

program
  .command("status")
  .description("quorum, job timeout, admins, operators, hospitals and their models, from the contract's events and state")
  .addOption(new Option("--from-block <n>", "first block to read events from (default PMHE_START_BLOCK, else 0)").argParser(integerOption({ min: 0 })))
  .addOption(jsonOption())
  .action(async (opts: { fromBlock?: number; json?: boolean }) => {
    const settings = chainSettings();
    const { provider } = await connectRpc(settings.PMHE_RPC_URL, { pollingIntervalMs: 1_000 });
    try {
      await checkDeployment(provider, settings.PMHE_CONTRACT_ADDRESS, { where: settings.PMHE_RPC_URL });
      const status = await readGovernanceStatus(connectPmhe(settings.PMHE_CONTRACT_ADDRESS, provider), { fromBlock: opts.fromBlock ?? settings.PMHE_START_BLOCK });
      const lines = [
        `PMHE ${status.contract} on chain ${status.chainId} (block ${status.block})`,
        `quorum ${status.quorum} of ${status.operatorsInOffice} operator(s) in office; job timeout ${formatDuration(status.jobTimeout)}`,
        `admins: ${status.admins.join(", ") || "none"}`,
        "operators:",
        ...(status.operators.length ? status.operators.map((o) => `  ${o.address}  ${o.inOffice ? "in office" : `revoked at block ${o.revokedAt}`}`) : ["  none"]),
        "hospitals:",
        ...(status.hospitals.length
          ? status.hospitals.map((h) => `  ${h.address}  "${h.name}"  ${h.registered ? "registered" : "REVOKED"}  key ${h.encryptionKey}  models ${h.models}${h.deprecatedModels ? ` (${h.deprecatedModels} deprecated)` : ""}`)
          : ["  none"]),
        "models:",
        ...(status.models.length ? status.models.map((m) => `  ${m.id}  ${m.name} v${m.version} by ${m.publisher}${m.deprecated ? "  deprecated" : ""}`) : ["  none"]),
        ...status.warnings.map((w) => `warning: ${w}`),
      ];
      output(opts.json, status, lines);
    } finally {
      provider.destroy();
    }
  });

await runCli(program, {
  urls: () => ({ rpcUrl: chainSettings().PMHE_RPC_URL }),
  contractHints: {
    AccessControlUnauthorizedAccount: "sign with the governance account: PMHE_ADMIN_KEY must hold DEFAULT_ADMIN_ROLE on this deployment (the deployment's `admin`)",
    InvalidQuorum: "choose a quorum of at least 1 (at least 2 where results matter)",
    InvalidJobTimeout: "choose a timeout from 1 s to 365 d",
    ZeroKey: "give the hospital's real public key (npm run hospital -- keygen prints it)",
    ZeroAddress: "give a real account address",
    TooManyOperators: "every one of the 255 operator slots has been used; re-grant an operator that was revoked",
  },
  own: (err) => (err instanceof KeyFileError ? "give the key file the hospital's keygen wrote (npm run hospital -- keygen), or its public key with --key" : undefined),
});
