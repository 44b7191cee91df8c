import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager, ZeroHash } from "ethers";
import { freePort } from "../../local/child-process.js";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount } from "../../local/stack.js";
import type { GovernanceStatus } from "../../governance/status.js";
import { connectPmhe, type PmheContract } from "../../protocol/chain.js";
import { emptyDirectory, expectFailure, expectSuccess, json, runEntry, type Run } from "./cli-runner.js";

const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");
const HOSPITAL_ROLE = id("HOSPITAL_ROLE");

type Status = GovernanceStatus;

describe("governance CLI (npm run admin) as a child process against a hardhat node", function () {
  let chain: LocalChain;
  let provider: JsonRpcProvider;
  let pmhe: PmheContract;
  let cwd: string;
  let env: Record<string, string>;
  const admin = (args: string[], extra: Record<string, string> = {}): Promise<Run> => runEntry("governance/cli.ts", args, { ...env, ...extra }, cwd);
  const hospitalCli = (args: string[], extra: Record<string, string> = {}): Promise<Run> => runEntry("hospital/cli.ts", args, { ...env, ...extra }, cwd);
  const account = (i: number) => hardhatAccount(i, provider);

  before(async function () {
    chain = await startLocalChain();
    provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 50, cacheTimeout: -1 });
    const deployment = await deployPmhe(new NonceManager(account(0)), { hospitals: [], coprocessors: [account(2).address] });
    pmhe = connectPmhe(deployment.address, provider);
    cwd = await emptyDirectory();
    env = {
      PMHE_RPC_URL: chain.rpcUrl,
      PMHE_CONTRACT_ADDRESS: deployment.address,
      PMHE_ADMIN_KEY: account(0).privateKey,
      PMHE_HOSPITAL_KEY: account(1).privateKey,
    };
  });

  after(async function () {
    provider?.destroy();
    await chain?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it("registers a hospital with the public key of the key file its keygen wrote, and status shows it; again with a new key replaces it", async function () {
    const keygen = json<{ keyFile: string; publicKey: string; hospital: string }>(await hospitalCli(["keygen", "--json"]));
    expect(keygen.hospital).to.equal(account(1).address);
    expect((await stat(join(cwd, keygen.keyFile))).mode & 0o777).to.equal(0o600);

    const hospital = account(1).address;
    const registered = await admin(["register-hospital", hospital.toLowerCase(), "--name", "St. Mary's", "--key-file", keygen.keyFile]);
    expectSuccess(registered);
    expect(registered.stdout).to.contain(`hospital ${hospital} registered as "St. Mary's" with share key ${keygen.publicKey}`);
    expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital)).to.equal(true);
    expect(await pmhe.hospitalKeyOf(hospital)).to.equal(keygen.publicKey);

    const status = json<Status>(await admin(["status", "--json"]));
    expect(status.hospitals).to.have.length(1);
    expect(status.hospitals[0]).to.include({ address: hospital, name: "St. Mary's", registered: true, encryptionKey: keygen.publicKey, models: 0 });
    expect(status.admins).to.deep.equal([account(0).address]);

    const newKey = `0x${"5e".repeat(32)}`;
    const replaced = json<{ replaced: string | null; encryptionKey: string }>(await admin(["register-hospital", hospital, "--name", "St. Mary's Hospital", "--key", newKey, "--json"]));
    expect(replaced.replaced).to.equal(keygen.publicKey);
    expect(await pmhe.hospitalKeyOf(hospital)).to.equal(newKey);
    const after = json<Status>(await admin(["status", "--json"]));
    expect(after.hospitals.map((h) => [h.name, h.encryptionKey])).to.deep.equal([["St. Mary's Hospital", newKey]]);

    const revoked = await admin(["revoke-hospital", hospital]);
    expectSuccess(revoked);
    expect(await pmhe.hasRole(HOSPITAL_ROLE, hospital)).to.equal(false);
    expect(json<Status>(await admin(["status", "--json"])).hospitals[0]!.registered).to.equal(false);
    expect((await admin(["revoke-hospital", hospital])).stdout).to.contain("not a registered hospital; nothing sent");
  });

  it("grants and revokes operators (idempotently), and warns when the quorum is 1 or larger than the operators in office", async function () {
    const operator = account(4).address;
    const granted = json<{ changed: boolean; operatorsInOffice: number }>(await admin(["grant-operator", operator, "--json"]));
    expect(granted).to.include({ changed: true, operatorsInOffice: 2 });
    expect(await pmhe.hasRole(COPROCESSOR_ROLE, operator)).to.equal(true);
    expect(json<{ changed: boolean }>(await admin(["grant-operator", operator, "--json"])).changed).to.equal(false);

    const quorum2 = await admin(["set-quorum", "2"]);
    expectSuccess(quorum2);
    expect(quorum2.stdout).to.contain("quorum 1 -> 2 for new jobs");
    expect(quorum2.stdout).to.not.contain("warning");
    expect(await pmhe.quorum()).to.equal(2n);

    const revoked = await admin(["revoke-operator", operator]);
    expectSuccess(revoked);
    expect(await pmhe.hasRole(COPROCESSOR_ROLE, operator)).to.equal(false);
    expect(revoked.stdout).to.contain("1 operator(s) in office, quorum 2");
    expect(revoked.stdout).to.match(/warning: quorum 2 but 1 operator in office: no job can be settled/);

    const status = json<Status>(await admin(["status", "--json"]));
    const entry = status.operators.find((o) => o.address === operator)!;
    expect(entry.inOffice).to.equal(false);
    expect(entry.revokedAt).to.be.greaterThan(entry.grantedAt);
    expect(status.operatorsInOffice).to.equal(1);

    const quorum1 = await admin(["set-quorum", "1"]);
    expect(quorum1.stdout).to.match(/warning: quorum 1: a single operator decides every result and could forge it/);
    expect((await admin(["set-quorum", "1"])).stdout).to.contain("quorum is already 1; nothing sent");
  });

  it("sets the job timeout from a duration", async function () {
    const set = json<{ previous: number; jobTimeout: number; changed: boolean }>(await admin(["set-timeout", "90m", "--json"]));
    expect(set).to.include({ previous: 3600, jobTimeout: 5400, changed: true });
    expect(await pmhe.jobTimeout()).to.equal(5400n);
    expect((await admin(["status"])).stdout).to.contain("job timeout 1 h 30 min");
    expectFailure(await admin(["set-timeout", "5 weeks"]), "expected a duration");
    expect(await pmhe.jobTimeout()).to.equal(5400n);
  });

  it("fails with the contract's error named and what to do next: wrong key, no chain, no contract, missing settings, bad arguments", async function () {
    // The hospital's key is not governance's.
    const notAdmin = await admin(["grant-operator", account(5).address], { PMHE_ADMIN_KEY: account(1).privateKey });
    expectFailure(notAdmin, "AccessControlUnauthorizedAccount", `account ${account(1).address} lacks the role this call needs (DEFAULT_ADMIN_ROLE)`, "PMHE_ADMIN_KEY must hold DEFAULT_ADMIN_ROLE");
    expect(await pmhe.hasRole(COPROCESSOR_ROLE, account(5).address)).to.equal(false);

    const down = `http://127.0.0.1:${await freePort()}`;
    expectFailure(await admin(["status"], { PMHE_RPC_URL: down }), `could not reach the chain's JSON-RPC endpoint at ${down}`, "start the chain");
    expectFailure(await admin(["set-quorum", "2"], { PMHE_RPC_URL: down }), down);

    const empty = account(9).address;
    expectFailure(await admin(["status"], { PMHE_CONTRACT_ADDRESS: empty }), `there is no contract at ${empty}`, "set PMHE_CONTRACT_ADDRESS");

    expectFailure(await runEntry("governance/cli.ts", ["set-quorum", "2"], { PMHE_RPC_URL: chain.rpcUrl, PMHE_CONTRACT_ADDRESS: env.PMHE_CONTRACT_ADDRESS! }, cwd), "PMHE_ADMIN_KEY", ".env.example");
    expectFailure(await admin(["register-hospital", account(6).address, "--name", "No Key"]), "--key 0x… or --key-file");
    expectFailure(await admin(["register-hospital", account(6).address, "--name", "Zero", "--key", ZeroHash]), "32 zero bytes");
    expectFailure(await admin(["register-hospital", account(6).address, "--name", "Missing", "--key-file", "nowhere.json"]), "no hospital key file at nowhere.json", "npm run hospital -- keygen");
    expectFailure(await admin(["grant-operator", "0x1234"]), "expected an address");
    expectFailure(await admin(["set-quorum", "256"]), "expected an integer from 1 to 255");
    expect(await pmhe.hasRole(HOSPITAL_ROLE, account(6).address)).to.equal(false);
  });

  it("--help lists the commands with examples", async function () {
    const help = await admin(["--help"]);
    expectSuccess(help);
    for (const command of ["register-hospital", "revoke-hospital", "grant-operator", "revoke-operator", "set-quorum", "set-timeout", "status"]) expect(help.stdout).to.contain(command);
    expect(help.stdout).to.contain("Examples:");
    expect(help.stdout).to.contain("npm run admin -- register-hospital");
  });
});
