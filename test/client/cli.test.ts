import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { Wallet } from "ethers";
import { publishModel } from "../../hospital/publish-model.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { openSharedResult } from "../../hospital/shared-results.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { freePort } from "../../local/child-process.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { JobStatus } from "../../protocol/chain.js";
import { decodeEnvelope } from "../../protocol/envelope.js";
import { readKeyBundleHeader } from "../../protocol/fhe/headers.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { nonceOf } from "../helpers/nonce.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MODEL_FILE = join(ROOT, "models", "statlog-heart-logreg.v1.json");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The patient CLI as a child process, with only the given settings (no .env of the developer's leaks in). */
async function cli(args: string[], env: Record<string, string>): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PMHE_")));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", import.meta.resolve("tsx/esm"), join(ROOT, "client", "cli.ts"), ...args], {
      cwd: await emptyDir,
      env: { ...clean, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}
/** The CLI runs in a directory of its own, so it reads no .env file. */
const emptyDir = mkdtemp(join(tmpdir(), "pmhe-cli-cwd-"));

/** A failure as the rules want it: non-zero exit, the error, and a line saying what to do next. */
function expectFailure(run: Run, ...fragments: string[]): void {
  expect(run.code, `exit code; stderr: ${run.stderr}`).to.not.equal(0);
  for (const fragment of fragments) expect(run.stderr).to.contain(fragment);
  expect(run.stderr).to.match(/^next: /m);
  // Never raw revert data or ethers' internals.
  expect(run.stderr).to.not.match(/data="0x|unknown custom error|could not coalesce|missing revert data/);
}

describe("patient CLI as a child process (hardhat node, redis-server, coprocessor)", function () {
  let stack: LocalStack;
  let model: Model;
  let reading: Reading;
  let dir: string;
  let keys: string;
  let wallet: Wallet;
  let env: Record<string, string>;
  let hospital: string;

  before(async function () {
    model = parseModelBytes(await readFile(MODEL_FILE));
    const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
    const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
    reading = readingFromRow(dataset.columns, dataset.rows[test[10]!]!, [model.target.column]);
    stack = await startLocalStack({ coprocessorEnv: { PMHE_OPERATOR_PORT: "0" } });
    hospital = await stack.hospital.getAddress();
    await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    dir = await mkdtemp(join(tmpdir(), "pmhe-cli-"));
    keys = join(dir, "keys");
    await writeFile(join(dir, "reading.json"), JSON.stringify(reading));
    wallet = new Wallet(Wallet.createRandom().privateKey);
    await (await stack.admin.sendTransaction({ to: wallet.address, value: 10n ** 18n })).wait();
    env = {
      PMHE_RPC_URL: stack.rpcUrl,
      PMHE_API_URL: stack.apiUrl,
      PMHE_CONTRACT_ADDRESS: stack.contractAddress,
      PMHE_PATIENT_KEY: wallet.privateKey,
      PMHE_MODEL_PUBLISHER: hospital,
    };
  });

  after(async function () {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(await emptyDir, { recursive: true, force: true });
  });

  const nonce = () => nonceOf(stack.provider, wallet.address);

  it("creates keys only its owner can read, for the wallet of PMHE_PATIENT_KEY, and never overwrites them", async function () {
    const made = await cli(["keygen", "--keys", keys, "--json"], env);
    expect(made.code, made.stderr).to.equal(0);
    expect(JSON.parse(made.stdout)).to.include({ keys, patient: wallet.address });
    expect((await stat(join(keys, "secret-key.bin"))).mode & 0o777).to.equal(0o600);
    expect((await stat(keys)).mode & 0o777).to.equal(0o700);
    expectFailure(await cli(["keygen", "--keys", keys], env), "refusing to overwrite a secret key");
  });

  it("makes keys for a width and the non-interactive variant, and refuses a width the parameter set cannot take, naming its limit", async function () {
    const wide = join(dir, "wide-keys");
    const made = await cli(["keygen", "--keys", wide, "--max-width", "200", "--non-interactive", "--json"], env);
    expect(made.code, made.stderr).to.equal(0);
    const bundle = new Uint8Array(await readFile(join(wide, "key-bundle.bin")));
    expect(readKeyBundleHeader(bundle).galoisSteps).to.deep.equal([1, 2, 4, 8, 16, 64]);
    expect(decodeEnvelope(bundle, "key-bundle").sections.has("relinKeys")).to.equal(true);
    expectFailure(await cli(["keygen", "--keys", join(dir, "too-wide"), "--parameter-set", "ckks-n4096-linear", "--max-width", "200"], env), "holds 1..128 values, got 200");
    const beyond = await cli(["keygen", "--keys", join(dir, "too-wide"), "--max-width", "300"], env);
    expect(beyond.code).to.not.equal(0);
    expect(beyond.stderr).to.contain("--max-width");
  });

  it("refuses a contract address with no contract: exit non-zero, the address named, nothing uploaded or sent", async function () {
    const before = await nonce();
    const nowhere = Wallet.createRandom().address;
    const run = await cli(["register", "--keys", keys], { ...env, PMHE_CONTRACT_ADDRESS: nowhere });
    expectFailure(run, `there is no contract at ${nowhere}`, stack.rpcUrl, "next: set PMHE_CONTRACT_ADDRESS");
    expect(await nonce()).to.equal(before);
    const bundle = new Uint8Array(await readFile(join(keys, "key-bundle.bin")));
    expect((await fetch(stack.blobs.urlOf(contentHash(bundle)), { method: "HEAD" })).status, "key bundle uploaded").to.equal(404);
  });

  it("names the blob store's URL when the API is down, and the RPC URL when the chain is down", async function () {
    const apiUrl = `http://127.0.0.1:${await freePort()}`;
    const apiDown = await cli(["register", "--keys", keys], { ...env, PMHE_API_URL: apiUrl });
    expectFailure(apiDown, `could not reach the coprocessor's blob store at ${apiUrl}/blobs/0x`, "ECONNREFUSED", "next: start the coprocessor");

    const rpcUrl = `http://127.0.0.1:${await freePort()}`;
    const chainDown = await cli(["register", "--keys", keys], { ...env, PMHE_RPC_URL: rpcUrl });
    expectFailure(chainDown, `could not reach the chain's JSON-RPC endpoint at ${rpcUrl}`, "next: start the chain");
    expect(await nonce()).to.equal(0);
  });

  it("names every missing or malformed setting", async function () {
    const run = await cli(["register", "--keys", keys], { PMHE_CONTRACT_ADDRESS: "nope" });
    expectFailure(run, "PMHE_CONTRACT_ADDRESS", "PMHE_PATIENT_KEY", "next: set them in the environment or in .env");
  });

  it("registers the key bundle on-chain, once", async function () {
    const run = await cli(["register", "--keys", keys, "--json"], env);
    expect(run.code, run.stderr).to.equal(0);
    const registered = JSON.parse(run.stdout) as { keyBundleHash: string; changed: boolean };
    expect(registered.changed).to.equal(true);
    const [onChain] = await stack.contract.currentKeyBundle(wallet.address);
    expect(onChain.toLowerCase()).to.equal(registered.keyBundleHash);
    const again = await cli(["register", "--keys", keys], env);
    expect(again.stdout).to.contain("was already your current one");
    expect(await nonce()).to.equal(1);
  });

  it("refuses to register a key bundle made for another wallet, before anything is uploaded or sent", async function () {
    const other = new Wallet(Wallet.createRandom().privateKey);
    await (await stack.admin.sendTransaction({ to: other.address, value: 10n ** 18n })).wait();
    const run = await cli(["register", "--keys", keys], { ...env, PMHE_PATIENT_KEY: other.privateKey });
    expectFailure(run, `the key bundle names patient ${wallet.address.toLowerCase()}, but the wallet signing is ${other.address.toLowerCase()}`, "next: use the --keys directory made for this wallet");
    expect(await nonceOf(stack.provider, other.address)).to.equal(0);
    expect(await stack.contract.jobNonce(other.address)).to.equal(0n);
  });

  it("refuses malformed numbers and addresses while parsing, before anything is sent", async function () {
    const before = await nonce();
    const predict = ["predict", "--keys", keys, "--model", MODEL_FILE, "--reading", join(dir, "reading.json")];
    for (const value of ["abc", "1.5", "-3", "", "10e3"]) {
      expectFailure(await cli([...predict, "--timeout", value], env), `option '--timeout <ms>' argument '${value}' is invalid`, "expected an integer");
    }
    expectFailure(await cli([...predict, "--publisher", "0x1234"], env), "expected an address");
    expectFailure(await cli([...predict, "--model-id", "0xabc"], env), "expected a 32-byte hash");
    expectFailure(await cli(["consent", "grant", hospital, "--days", "0", "--keys", keys], env), "expected an integer from 1 to 3650");
    expectFailure(await cli(["consent", "grant", hospital, "--until", "2001-01-01", "--keys", keys], env), "expected a date in the future");
    expectFailure(await cli(["consent", "grant", "not-an-address", "--keys", keys], env), "expected an address");
    expectFailure(await cli(["share", "0x12", hospital, "--keys", keys], env), "expected a 32-byte hash");
    expect(await nonce()).to.equal(before);
    expect(await stack.contract.jobNonce(wallet.address)).to.equal(0n);
  });

  it("shows the contract's UnknownModel sentence, not hex, for a model its publisher never published; nothing sent", async function () {
    const before = await nonce();
    const stranger = Wallet.createRandom().address;
    const run = await cli(["predict", "--keys", keys, "--model", MODEL_FILE, "--reading", join(dir, "reading.json"), "--publisher", stranger], env);
    expectFailure(run, "modelOf refused by the contract: UnknownModel: there is no model 0x", "on this contract; check the model id and publisher", "next: check --model-id, or --publisher");
    expect(await nonce()).to.equal(before);
  });

  let jobId: Hash;
  let recordHash: Hash;

  it("predicts one reading like the plaintext model in one transaction, with its votes and the quorum-1 warning", async function () {
    const before = await nonce();
    const run = await cli(["predict", "--keys", keys, "--model", MODEL_FILE, "--reading", join(dir, "reading.json")], env);
    expect(run.code, run.stderr).to.equal(0);
    const reference = predictPlaintext(model, reading);
    const shown = Number(/^probability (\d\.\d+) -> class (\d)/m.exec(run.stdout)?.[1]);
    expect(Math.abs(shown - reference.probability), run.stdout).to.be.at.most(1e-4);
    expect(run.stdout).to.contain("verified on-chain: 1 of 1 votes");
    expect(run.stdout).to.match(/^warning: this deployment's quorum is 1: a single operator decided this result and could have forged it$/m);
    expect(await nonce()).to.equal(before + 1);

    const json = await cli(["predict", "--keys", keys, "--model", MODEL_FILE, "--reading", join(dir, "reading.json"), "--json"], env);
    expect(json.code, json.stderr).to.equal(0);
    const result = JSON.parse(json.stdout) as { jobId: Hash; recordHash: Hash; probability: number; predictedClass: number; votes: number; quorum: number; singleOperator: boolean; disputed: boolean };
    expect(Math.abs(result.probability - reference.probability)).to.be.at.most(1e-4);
    expect(result).to.include({ predictedClass: reference.predictedClass, votes: 1, quorum: 1, singleOperator: true, disputed: false });
    expect(Number((await stack.contract.jobOf(result.jobId)).status)).to.equal(JobStatus.Finalized);
    // Nothing medical on the terminal besides the patient's own result: no reading.
    for (const feature of Object.keys(reading)) expect(json.stdout + json.stderr).to.not.contain(`"${feature}"`);
    ({ jobId, recordHash } = result);
  });

  it("grants consent, shares the result so the hospital opens the rounded value, and revokes", async function () {
    const refused = await cli(["share", jobId, hospital, "--keys", keys], env);
    expectFailure(refused, "ConsentDoesNotCoverResults", "next: grant consent that covers results");

    const granted = await cli(["consent", "grant", hospital, "--days", "7", "--results", "--keys", keys, "--json"], env);
    expect(granted.code, granted.stderr).to.equal(0);
    const [expiresAt, mayReceiveResults, active] = await stack.contract.consentOf(wallet.address, hospital);
    expect({ mayReceiveResults, active }).to.deep.equal({ mayReceiveResults: true, active: true });
    expect(Number(expiresAt)).to.equal((JSON.parse(granted.stdout) as { expiresAt: number }).expiresAt);

    const shared = await cli(["share", jobId, hospital, "--keys", keys, "--json"], env);
    expect(shared.code, shared.stderr).to.equal(0);
    const { probability, sharedHash } = JSON.parse(shared.stdout) as { probability: number; sharedHash: Hash };
    const opened = await openSharedResult({
      runner: stack.provider, contractAddress: stack.contractAddress, blobs: stack.blobs, hospital, jobId, secretKey: stack.hospitalKeys.secretKey,
    });
    expect(opened).to.include({ jobId, probability, sharedHash, patient: wallet.address.toLowerCase() });
    expect(opened.probability).to.equal(Math.round(predictPlaintext(model, reading).probability * 100) / 100);

    const revoked = await cli(["consent", "revoke", hospital, "--keys", keys], env);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect((await stack.contract.consentOf(wallet.address, hospital))[2]).to.equal(false);
  });

  it("erases a record on-chain and from the blob store", async function () {
    const run = await cli(["erase", recordHash, "--keys", keys, "--json"], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(await stack.contract.isErased(wallet.address, recordHash)).to.equal(true);
    expect([404, 410]).to.include((await fetch(stack.blobs.urlOf(recordHash), { method: "HEAD" })).status);
    const unknown = await cli(["erase", `0x${"ab".repeat(32)}`, "--keys", keys], env);
    expectFailure(unknown, "UnknownRecord", "next: check the record hash");
  });

  it("backs the key set up, restores it into a fresh directory from the wallet alone, and reopens an earlier result there", async function () {
    const before = await nonce();
    const backup = await cli(["backup", "--keys", keys, "--json"], env);
    expect(backup.code, backup.stderr).to.equal(0);
    const { backupHash, keyBundleHash } = JSON.parse(backup.stdout) as { backupHash: Hash; keyBundleHash: Hash };
    expect((await stack.blobs.keyBackupOf(wallet.address))?.hash).to.equal(backupHash);

    const fresh = join(dir, "restored-keys");
    const restored = await cli(["restore", "--keys", fresh, "--json"], env);
    expect(restored.code, restored.stderr).to.equal(0);
    expect(JSON.parse(restored.stdout)).to.include({ keyBundleHash, backupHash, current: true });
    for (const file of ["secret-key.bin", "key-bundle.bin"]) expect(await readFile(join(fresh, file))).to.deep.equal(await readFile(join(keys, file)));
    expect((await stat(join(fresh, "secret-key.bin"))).mode & 0o777).to.equal(0o600);
    expectFailure(await cli(["restore", "--keys", keys], env), "refusing to overwrite a secret key", "next: pass --force");

    const reopened = await cli(["result", jobId, "--keys", fresh, "--json"], env);
    expect(reopened.code, reopened.stderr).to.equal(0);
    const { predictions } = JSON.parse(reopened.stdout) as { predictions: Array<{ probability: number }> };
    expect(predictions).to.have.length(1);
    expect(Math.abs(predictions[0]!.probability - predictPlaintext(model, reading).probability)).to.be.at.most(1e-4);
    const history = await cli(["history", "--keys", fresh, "--json"], env);
    expect(history.code, history.stderr).to.equal(0);
    expect((JSON.parse(history.stdout) as Array<{ jobId: Hash; status: string; decryptable: boolean }>).find((job) => job.jobId === jobId)).to.include({ status: "Finalized", decryptable: true });
    expect(await nonce(), "backup and restore send no transaction").to.equal(before);

    const other = Wallet.createRandom();
    const none = await cli(["restore", "--keys", join(dir, "other-keys")], { ...env, PMHE_PATIENT_KEY: other.privateKey });
    expectFailure(none, `no backup for this address (${other.address})`, "next: back up from a device that holds your key set: npm run client -- backup");
  });

  it("prints help with examples", async function () {
    const run = await cli(["--help"], {});
    expect(run.code).to.equal(0);
    for (const command of ["keygen", "register", "predict", "consent", "share", "erase", "backup", "restore", "history", "result", "Examples:"]) expect(run.stdout).to.contain(command);
  });
});
