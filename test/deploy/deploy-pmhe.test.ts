import { expect } from "chai";
import { id, JsonRpcProvider, NonceManager, Wallet, ZeroHash } from "ethers";
import { deployPmhe } from "../../local/deploy.js";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount, localHospitalKeys } from "../../local/stack.js";
import { connectPmhe } from "../../protocol/chain.js";
import type { Hash } from "../../protocol/hash.js";

/** The node prints on its own schedule: wait (up to 10 s) for a line naming `method`. */
async function waitForLine(chain: LocalChain, method: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (chain.process.output().includes(method)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the node never logged ${method}; its output:\n${chain.process.output()}`);
}

const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");
const HOSPITAL_ROLE = id("HOSPITAL_ROLE");

describe("deployPmhe: the Ignition module against an external hardhat node", function () {
  let chain: LocalChain;
  let provider: JsonRpcProvider;

  before(async function () {
    chain = await startLocalChain();
    provider = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 50, cacheTimeout: -1 });
  });

  after(async function () {
    provider?.destroy();
    await chain?.stop();
  });

  it("deploys, grants every coprocessor its role and registers every hospital, sent by the admin, in the block it reports", async function () {
    const admin = new NonceManager(hardhatAccount(0, provider));
    const hospitals = [1, 6].map((i) => hardhatAccount(i, provider));
    const operators = [2, 3, 4].map((i) => hardhatAccount(i, provider).address);
    const deployment = await deployPmhe(admin, {
      hospitals: hospitals.map((h, i) => ({ address: h.address, encryptionKey: localHospitalKeys(h).publicKey, name: `Hospital ${i}` })),
      coprocessors: operators,
      quorum: 2,
      jobTimeout: 900,
    });
    const pmhe = connectPmhe(deployment.address, provider);
    expect(await pmhe.quorum()).to.equal(2n);
    expect(await pmhe.jobTimeout()).to.equal(900n);
    expect(await pmhe.hasRole(ZeroHash, await admin.getAddress())).to.equal(true);
    for (const operator of operators) expect(await pmhe.hasRole(COPROCESSOR_ROLE, operator)).to.equal(true);
    expect(await pmhe.hasRole(COPROCESSOR_ROLE, hospitals[0]!.address)).to.equal(false);
    for (const [i, h] of hospitals.entries()) {
      expect(await pmhe.hasRole(HOSPITAL_ROLE, h.address)).to.equal(true);
      expect(await pmhe.hospitalKeyOf(h.address)).to.equal(localHospitalKeys(h).publicKey);
      const [event] = await pmhe.queryFilter(pmhe.filters.HospitalRegistered(h.address));
      expect(event!.args.name).to.equal(`Hospital ${i}`);
    }
    // The reported block is the deployment's own: no code one block earlier (where a coprocessor starts scanning).
    expect(await provider.getCode(deployment.address, deployment.blockNumber)).to.not.equal("0x");
    expect(await provider.getCode(deployment.address, deployment.blockNumber - 1)).to.equal("0x");
    // Every role change was sent by the admin.
    const grants = await pmhe.queryFilter(pmhe.filters.RoleGranted(COPROCESSOR_ROLE));
    expect(grants.map((g) => g.args.sender)).to.deep.equal(operators.map(() => hardhatAccount(0, provider).address));
    // The returned contract is connected to the admin and usable at once (its nonces were re-read).
    await (await deployment.contract.setQuorum(3)).wait();
    expect(await pmhe.quorum()).to.equal(3n);
  });

  it("deploys again on the same chain as a new contract (no journal is reused), and defaults to quorum 1 and one hour", async function () {
    const admin = new NonceManager(hardhatAccount(0, provider));
    // The admin's nonces are in use before and after: Ignition's transactions must not break them.
    await (await admin.sendTransaction({ to: hardhatAccount(9, provider).address, value: 1n })).wait();
    const first = await deployPmhe(admin, { hospitals: [], coprocessors: [] });
    const second = await deployPmhe(admin, { hospitals: [], coprocessors: [hardhatAccount(2, provider).address] });
    await (await admin.sendTransaction({ to: hardhatAccount(9, provider).address, value: 1n })).wait();
    expect(second.address).to.not.equal(first.address);
    expect(second.blockNumber).to.be.greaterThan(first.blockNumber);
    const pmhe = connectPmhe(first.address, provider);
    expect(await pmhe.quorum()).to.equal(1n);
    expect(await pmhe.jobTimeout()).to.equal(3600n);
    expect(await pmhe.hasRole(COPROCESSOR_ROLE, hardhatAccount(2, provider).address)).to.equal(false);
    expect(await connectPmhe(second.address, provider).hasRole(COPROCESSOR_ROLE, hardhatAccount(2, provider).address)).to.equal(true);
  });

  it("refuses, before sending anything, an admin the node cannot sign for, and parameters the contract would refuse", async function () {
    const stranger = Wallet.createRandom(provider);
    const before = await provider.getBlockNumber();
    let failure: Error | undefined;
    try {
      await deployPmhe(stranger, { hospitals: [], coprocessors: [] });
    } catch (err) {
      failure = err as Error;
    }
    expect(failure?.message).to.contain(`cannot send from ${stranger.address}`);
    expect(failure?.message).to.contain(chain.rpcUrl);

    const admin = hardhatAccount(0, provider);
    for (const [settings, fragment] of [
      [{ hospitals: [{ address: admin.address, encryptionKey: ZeroHash as Hash, name: "Zero" }], coprocessors: [] }, "32 zero bytes"],
      [{ hospitals: [], coprocessors: [admin.address, admin.address.toLowerCase()] }, "listed twice"],
      [{ hospitals: [], coprocessors: [], quorum: 0 }, "quorum"],
    ] as const) {
      let refused: Error | undefined;
      try {
        await deployPmhe(admin, settings as unknown as Parameters<typeof deployPmhe>[1]);
      } catch (err) {
        refused = err as Error;
      }
      expect(refused?.message, JSON.stringify(settings)).to.contain(fragment);
    }
    expect(await provider.getBlockNumber()).to.equal(before);
  });

  it("starts the node with its per-request log off, and keeps it when asked (the log costs the node as much as the answers)", async function () {
    expect(await provider.send("eth_getBlockByNumber", ["latest", false]), "the quiet node answers").to.have.property("number");
    const loud = await startLocalChain({ logRequests: true });
    try {
      const loudProvider = new JsonRpcProvider(loud.rpcUrl, undefined, { cacheTimeout: -1 });
      await loudProvider.send("eth_getBlockByNumber", ["latest", false]);
      loudProvider.destroy();
      await waitForLine(loud, "eth_getBlockByNumber");
    } finally {
      await loud.stop();
    }
    // By now the quiet node had as long to print as the loud one needed, after the deployments of the tests above
    // (only the eth_chainId that told the node was up came before its log was turned off).
    const logged = chain.process.output().match(/eth_[A-Za-z]+/g) ?? [];
    expect([...new Set(logged)], "JSON-RPC calls the quiet node logged").to.deep.equal(["eth_chainId"]);
  });
});
