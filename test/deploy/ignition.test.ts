import { execFile } from "node:child_process";
import { mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { id, JsonRpcProvider } from "ethers";
import { network } from "hardhat";
import PMHEModule, { buildPmheModule } from "../../ignition/modules/PMHE.js";
import { parametersArgument, PmheParametersError, readPmheParameters } from "../../ignition/pmhe-parameters.js";
import { startLocalChain } from "../../local/hardhat-node.js";
import { connectPmhe } from "../../protocol/chain.js";

const ROOT = join(import.meta.dirname, "..", "..");
const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");
const HOSPITAL_ROLE = id("HOSPITAL_ROLE");
const KEY_A = `0x${"a1".repeat(32)}`;
const KEY_B = `0x${"b2".repeat(32)}`;

describe("Ignition deployment module", function () {
  it("deploys PMHE with the deployer as admin and quorum 2 by default, and with the admin, quorum and timeout parameters when given", async function () {
    const { ethers, ignition } = await network.create();
    const [deployer, governance] = await ethers.getSigners();

    const first = connectPmhe(await (await ignition.deploy(PMHEModule)).pmhe.getAddress(), deployer!);
    const adminRole = await first.DEFAULT_ADMIN_ROLE();
    expect(await first.hasRole(adminRole, deployer!.address)).to.equal(true);
    // A single operator could forge results: the module never defaults to quorum 1.
    expect(await first.quorum()).to.equal(2n);
    expect(await first.jobTimeout()).to.equal(3600n);

    const deployed = await ignition.deploy(PMHEModule, { parameters: { PMHE: { admin: governance!.address, quorum: 3, jobTimeout: 600 } } });
    const second = connectPmhe(await deployed.pmhe.getAddress(), deployer!);
    expect(await second.getAddress()).to.not.equal(await first.getAddress());
    expect(await second.hasRole(adminRole, governance!.address)).to.equal(true);
    expect(await second.hasRole(adminRole, deployer!.address)).to.equal(false);
    expect(await second.quorum()).to.equal(3n);
    expect(await second.jobTimeout()).to.equal(600n);
  });

  it("grants COPROCESSOR_ROLE to each coprocessor and registers each hospital with its key and name, sent by the admin", async function () {
    const { ethers, ignition } = await network.create();
    const [, governance, hospitalA, hospitalB, operatorA, operatorB, outsider] = await ethers.getSigners();
    const module = buildPmheModule({
      admin: governance!.address,
      coprocessors: [operatorA!.address, operatorB!.address],
      hospitals: [
        { address: hospitalA!.address, encryptionKey: KEY_A as `0x${string}`, name: "Hospital A" },
        { address: hospitalB!.address, encryptionKey: KEY_B as `0x${string}`, name: "Hospital B" },
      ],
    });
    const { pmhe } = await ignition.deploy(module, { parameters: { PMHE: { admin: governance!.address } } });
    const contract = connectPmhe(await pmhe.getAddress(), governance!);
    for (const operator of [operatorA!, operatorB!]) expect(await contract.hasRole(COPROCESSOR_ROLE, operator.address)).to.equal(true);
    expect(await contract.hasRole(COPROCESSOR_ROLE, outsider!.address)).to.equal(false);
    expect(await contract.hasRole(HOSPITAL_ROLE, hospitalA!.address)).to.equal(true);
    expect(await contract.hospitalKeyOf(hospitalA!.address)).to.equal(KEY_A);
    expect(await contract.hospitalKeyOf(hospitalB!.address)).to.equal(KEY_B);
    const registered = await contract.queryFilter(contract.filters.HospitalRegistered());
    expect(registered.map((e) => e.args.name)).to.have.members(["Hospital A", "Hospital B"]);
    const grants = await contract.queryFilter(contract.filters.RoleGranted(COPROCESSOR_ROLE));
    expect(grants.every((g) => g.args.sender === governance!.address)).to.equal(true);
  });

  it("validates parameters files: lists, keys, duplicates, unknown names; finds --parameters on a command line", async function () {
    const dir = await mkdtemp(join(tmpdir(), "pmhe-ignition-params-"));
    try {
      const write = async (name: string, value: unknown) => {
        const file = join(dir, name);
        await writeFile(file, typeof value === "string" ? value : JSON.stringify(value));
        return file;
      };
      const ok = readPmheParameters(await write("ok.json", { PMHE: { quorum: 2, coprocessors: ["0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"], hospitals: [{ address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", encryptionKey: KEY_A.toUpperCase().replace("0X", "0x"), name: " St. Mary's " }] } }));
      expect(ok.coprocessors).to.deep.equal(["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]);
      expect(ok.hospitals[0]).to.deep.equal({ address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", encryptionKey: KEY_A, name: "St. Mary's" });
      // The committed files are valid.
      expect(readPmheParameters(join(ROOT, "ignition", "parameters.example.json")).hospitals).to.have.length(1);
      expect(readPmheParameters(join(ROOT, "ignition", "parameters.local.json")).quorum).to.equal(1);

      const refused = async (name: string, value: unknown, fragment: string) => {
        const file = await write(name, value);
        expect(() => readPmheParameters(file), name).to.throw(PmheParametersError, fragment);
      };
      await refused("typo.json", { PMHE: { coprocesors: [] } }, "coprocesors");
      await refused("zero-key.json", { PMHE: { hospitals: [{ address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", encryptionKey: `0x${"0".repeat(64)}`, name: "H" }] } }, "32 zero bytes");
      await refused("twice.json", { PMHE: { coprocessors: ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"] } }, "listed twice");
      await refused("bad-address.json", { PMHE: { coprocessors: ["0x1234"] } }, "expected an address");
      await refused("quorum.json", { PMHE: { quorum: 0 } }, "quorum");
      await refused("not-json.json", "{ PMHE: ", "not JSON");
      expect(() => readPmheParameters(join(dir, "missing.json"))).to.throw(PmheParametersError, "cannot read");

      expect(parametersArgument(["node", "hardhat", "ignition", "deploy", "m.ts", "--parameters", "p.json"])).to.equal("p.json");
      expect(parametersArgument(["node", "hardhat", "--parameters=q.json"])).to.equal("q.json");
      expect(parametersArgument(["node", "hardhat", "ignition", "deploy", "m.ts"])).to.equal(undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("`hardhat ignition deploy --parameters <file>` against a node deploys the lists of that file too", async function () {
    const chain = await startLocalChain();
    const dir = await mkdtemp(join(tmpdir(), "pmhe-ignition-cli-"));
    const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
    try {
      const operators = ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"];
      const hospital = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
      const file = join(dir, "parameters.json");
      await writeFile(file, JSON.stringify({ PMHE: { quorum: 2, jobTimeout: 7200, coprocessors: operators, hospitals: [{ address: hospital, encryptionKey: KEY_B, name: "CLI Hospital" }] } }));
      // A deployment id of its own: its journal is removed afterwards, and no other deployment's is touched.
      const deploymentId = `pmhe-test-${process.pid}-${Date.now()}`;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(ROOT, "node_modules", "hardhat", "dist", "src", "cli.js"), "ignition", "deploy", "ignition/modules/PMHE.ts", "--network", "localhost", "--parameters", file, "--deployment-id", deploymentId],
        // The default build profile: `ignition deploy` builds the production one otherwise, and the suite's artifacts
        // would be rebuilt (tens of seconds with solcjs) by this run and again by the next `hardhat test`.
        { cwd: ROOT, env: { ...process.env, PMHE_RPC_URL: chain.rpcUrl, HARDHAT_BUILD_PROFILE: "default" } },
      ).finally(async () => {
        await rm(join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
        await rmdir(join(ROOT, "ignition", "deployments")).catch(() => undefined); // only when nothing else is in it
      });
      const address = /PMHE#PMHE - (0x[0-9a-fA-F]{40})/.exec(stdout)?.[1];
      expect(address, stdout).to.be.a("string");
      const pmhe = connectPmhe(address!, provider);
      expect(await pmhe.quorum()).to.equal(2n);
      expect(await pmhe.jobTimeout()).to.equal(7200n);
      for (const operator of operators) expect(await pmhe.hasRole(COPROCESSOR_ROLE, operator)).to.equal(true);
      expect(await pmhe.hospitalKeyOf(hospital)).to.equal(KEY_B);
    } finally {
      provider.destroy();
      await chain.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
