import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { startLocalStack, hardhatAccount, type LocalStack } from "../../local/stack.js";
import { modelIdOf } from "../../protocol/chain.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { modelHash as hashOfModel, type Model } from "../../protocol/model.js";
import { roundProbability } from "../../protocol/result-share.js";
import { loadTestModel, testReadings } from "../helpers/test-model.js";
import { emptyDirectory, expectFailure, expectSuccess, json, ROOT, runEntry, type Run } from "./cli-runner.js";

const MODEL_FILE = join(ROOT, "models", "statlog-heart-logreg.v1.json");

interface Share {
  jobId: string;
  patient: string;
  opened: boolean;
  probability?: number;
  predictedClass?: number;
  model?: string;
  error?: string;
}

describe("hospital CLI (npm run hospital) as a child process (hardhat node, redis-server, coprocessor)", function () {
  let stack: LocalStack;
  let model: Model;
  let cwd: string;
  let env: Record<string, string>;
  let hospital: string;
  let modelId: Hash;
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<Run> => runEntry("hospital/cli.ts", args, { ...env, ...extra }, cwd);

  before(async function () {
    model = await loadTestModel();
    stack = await startLocalStack({ coprocessorEnv: { PMHE_OPERATOR_PORT: "0" } });
    hospital = await stack.hospital.getAddress();
    cwd = await emptyDirectory();
    env = {
      PMHE_RPC_URL: stack.rpcUrl,
      PMHE_API_URL: stack.apiUrl,
      PMHE_CONTRACT_ADDRESS: stack.contractAddress,
      PMHE_HOSPITAL_KEY: hardhatAccount(1, stack.provider).privateKey,
    };
    modelId = modelIdOf(hospital, hashOfModel(model));
  });

  after(async function () {
    await stack?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it("keygen --from-wallet writes the demo hospital's registered key pair to a 0600 file, and refuses to overwrite it", async function () {
    const made = json<{ keyFile: string; publicKey: string; derivedFromWallet: boolean }>(await cli(["keygen", "--from-wallet", "--json"]));
    expect(made.publicKey).to.equal(stack.hospitalKeys.publicKey);
    expect(made.publicKey).to.equal(await stack.contract.hospitalKeyOf(hospital));
    const file = join(cwd, made.keyFile);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const before = await readFile(file, "utf8");
    expectFailure(await cli(["keygen"]), "refusing to overwrite", "--force");
    expect(await readFile(file, "utf8")).to.equal(before);
    // A fresh pair elsewhere is another key.
    const fresh = json<{ publicKey: string }>(await cli(["keygen", "--key-file", "other/key.json", "--json"]));
    expect(fresh.publicKey).to.not.equal(made.publicKey);
  });

  it("publish uploads the model and publishes it under this hospital's id; again is a no-op; an unregistered account is told to get registered", async function () {
    const published = json<{ modelId: string; modelHash: string; published: boolean }>(await cli(["publish", MODEL_FILE, "--json"]));
    expect(published).to.include({ modelId, modelHash: hashOfModel(model), published: true });
    const [publisher, onChainHash, version, deprecated] = await stack.contract.modelOf(modelId);
    expect([publisher, onChainHash.toLowerCase(), Number(version), deprecated]).to.deep.equal([hospital, hashOfModel(model), model.version, false]);
    // The bytes the coprocessor will fetch are the file's.
    const stored = await stack.blobs.get(hashOfModel(model));
    expect(contentHash(stored!)).to.equal(hashOfModel(model));

    const again = await cli(["publish", MODEL_FILE]);
    expectSuccess(again);
    expect(again.stdout).to.contain(`is already published by ${hospital}: model id ${modelId}`);

    const listed = json<{ models: Array<{ modelId: string; name: string; deprecated: boolean }> }>(await cli(["models", "--json"]));
    expect(listed.models.map((m) => [m.modelId, m.name, m.deprecated])).to.deep.equal([[modelId, model.name, false]]);

    const stranger = hardhatAccount(7, stack.provider);
    const refused = await cli(["publish", MODEL_FILE], { PMHE_HOSPITAL_KEY: stranger.privateKey });
    expectFailure(refused, "AccessControlUnauthorizedAccount", stranger.address, "ask governance to register this hospital");
    expect((await stack.contract.queryFilter(stack.contract.filters.ModelPublished(undefined, stranger.address))).length).to.equal(0);
  });

  it("shares lists the results patients shared with this hospital, opened with its key file; a key file of another key opens none", async function () {
    const engine = await CkksEngine.create(model.fhe.parameterSet);
    try {
      const { client } = await stack.newPatientClient(engine);
      try {
        const [reading] = await testReadings(model, 1);
        const result = await client.predict({ model, id: modelId }, reading!);
        await client.grantConsent(hospital, Math.floor(Date.now() / 1000) + 86_400, true);
        await client.shareResult(result.jobId, hospital, result);
        const patient = await client.address();

        const shares = json<{ shares: Share[]; warnings: string[] }>(await cli(["shares", "--json"]));
        expect(shares.warnings).to.deep.equal([]);
        expect(shares.shares).to.have.length(1);
        expect(shares.shares[0]).to.include({
          jobId: result.jobId,
          patient,
          opened: true,
          probability: roundProbability(result.probability),
          predictedClass: result.predictedClass,
          model: `${model.name} v${model.version}`,
        });

        const wrongKey = await cli(["shares", "--key-file", "other/key.json"]);
        expect(wrongKey.code).to.equal(1);
        expect(wrongKey.stdout).to.contain(`job ${result.jobId}  patient ${patient}  NOT OPENED`);
        expect(wrongKey.stdout).to.contain("is not the one registered for");
      } finally {
        client.dispose();
      }
    } finally {
      engine.dispose();
    }
  });

  it("deprecate retires only the publisher's own model, once", async function () {
    const other = hardhatAccount(8, stack.provider);
    await (await stack.contract.registerHospital(other.address, `0x${"7c".repeat(32)}`, "Other Hospital")).wait();
    const notMine = await cli(["deprecate", modelId], { PMHE_HOSPITAL_KEY: other.privateKey });
    expectFailure(notMine, "NotModelPublisher", "only the hospital that published a model may deprecate it");
    expect((await stack.contract.modelOf(modelId))[3]).to.equal(false);

    const done = json<{ deprecated: boolean; changed: boolean }>(await cli(["deprecate", modelId, "--json"]));
    expect(done).to.include({ deprecated: true, changed: true });
    expect((await stack.contract.modelOf(modelId))[3]).to.equal(true);
    expect((await cli(["deprecate", modelId])).stdout).to.contain("already deprecated; nothing sent");
    expectFailure(await cli(["deprecate", `0x${"12".repeat(32)}`]), "UnknownModel", "npm run hospital -- models");
  });

  it("names the API's URL when the blob store cannot be reached, and --help shows examples", async function () {
    const down = "http://127.0.0.1:9";
    // A registered hospital that has not published this file yet: the upload is the first thing that needs the API.
    const run = await cli(["publish", MODEL_FILE], { PMHE_API_URL: down, PMHE_HOSPITAL_KEY: hardhatAccount(8, stack.provider).privateKey });
    expectFailure(run, down, "start the coprocessor");
    const help = await cli(["--help"]);
    expectSuccess(help);
    for (const command of ["keygen", "set-key", "publish", "deprecate", "models", "shares"]) expect(help.stdout).to.contain(command);
    expect(help.stdout).to.contain("Examples:");
  });
});
