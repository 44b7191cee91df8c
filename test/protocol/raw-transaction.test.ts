import { expect } from "chai";
import { isError, JsonRpcProvider, Network, Wallet } from "ethers";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount } from "../../local/stack.js";
import { broadcastSigned, pendingResponse, signComplete, type CompleteTransaction } from "../../protocol/raw-transaction.js";
import { rejectionOf } from "../helpers/rejection.js";

describe("raw transactions: signed here, sent as one eth_sendRawTransaction (hardhat node)", function () {
  let chain: LocalChain;
  let provider: JsonRpcProvider;

  before(async function () {
    chain = await startLocalChain();
    provider = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: Network.from(31337), cacheTimeout: -1, pollingInterval: 50 });
  });
  after(async function () {
    provider?.destroy();
    await chain?.stop();
  });

  async function fieldsFor(index: number, overrides: Partial<CompleteTransaction> = {}): Promise<CompleteTransaction> {
    const wallet = hardhatAccount(index, provider);
    return {
      to: hardhatAccount(9, provider).address,
      data: "0x1234",
      nonce: await provider.getTransactionCount(wallet.address, "pending"),
      gasLimit: 50_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
      chainId: 31337n,
      ...overrides,
    };
  }

  it("mines the transaction under the hash computed here, from the signing wallet, and wait() gives its receipt", async function () {
    const wallet = hardhatAccount(3, provider);
    const signed = await signComplete(wallet, await fieldsFor(3));
    const startBlock = await provider.getBlockNumber();
    expect(await broadcastSigned(provider, signed)).to.equal(signed.hash);
    const receipt = await pendingResponse(provider, signed, startBlock).wait();
    expect(receipt?.hash).to.equal(signed.hash);
    expect(receipt?.status).to.equal(1);
    const mined = await provider.getTransaction(signed.hash);
    // The node recovered the sender from the signature: it is the wallet that signed.
    expect(mined?.from).to.equal(wallet.address);
    expect(mined?.data).to.equal("0x1234");
  });

  it("passes on the node's refusal as ethers' own error: a used nonce is NONCE_EXPIRED, and the node's reason is kept", async function () {
    const wallet = hardhatAccount(4, provider);
    const first = await signComplete(wallet, await fieldsFor(4));
    const startBlock = await provider.getBlockNumber();
    await broadcastSigned(provider, first);
    await pendingResponse(provider, first, startBlock).wait();
    const reused = await signComplete(wallet, await fieldsFor(4, { nonce: first.fields.nonce }));
    const err = await rejectionOf(broadcastSigned(provider, reused));
    expect(isError(err, "NONCE_EXPIRED"), String(err)).to.equal(true);
    const poor = Wallet.createRandom(provider);
    const broke = await signComplete(poor, await fieldsFor(4, { nonce: 0 }));
    const poorErr = await rejectionOf(broadcastSigned(provider, broke));
    // ethers does not map Hardhat's wording to INSUFFICIENT_FUNDS (nor would its sendTransaction): the reason stays readable.
    expect(String(poorErr)).to.include("enough funds");
  });

  it("reports a replacement by another transaction of the same nonce from wait(), as ethers' sendTransaction does", async function () {
    const wallet = hardhatAccount(5, provider);
    await provider.send("evm_setAutomine", [false]);
    try {
      const fields = await fieldsFor(5);
      const original = await signComplete(wallet, fields);
      const startBlock = await provider.getBlockNumber();
      await broadcastSigned(provider, original);
      const replacement = await signComplete(wallet, { ...fields, data: "0xabcd", maxFeePerGas: 2n * fields.maxFeePerGas, maxPriorityFeePerGas: 2n * fields.maxPriorityFeePerGas });
      await broadcastSigned(provider, replacement);
      await provider.send("evm_mine", []);
      const err = await rejectionOf(pendingResponse(provider, original, startBlock).wait());
      expect(isError(err, "TRANSACTION_REPLACED"), String(err)).to.equal(true);
      expect((err as { hash?: string }).hash).to.equal(replacement.hash);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
  });
});
