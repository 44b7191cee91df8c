import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Network } from "ethers";
import { startLocalChain, type LocalChain } from "../../local/hardhat-node.js";
import { hardhatAccount } from "../../local/stack.js";
import { NativeJsonRpcProvider } from "../../protocol/rpc.js";
import { rejectionOf } from "../helpers/rejection.js";

/** A JSON-RPC endpoint that answers every request with `body` (bytes as given), for answers a node would rarely give. */
async function fixedAnswerServer(body: Buffer): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("NativeJsonRpcProvider: ethers' provider with answers decoded by TextDecoder and JSON.parse", function () {
  let chain: LocalChain;
  const network = Network.from(31337);

  before(async function () {
    chain = await startLocalChain();
  });
  after(async function () {
    await chain?.stop();
  });

  it("answers as ethers' own provider does: a block, a mined transaction, its receipt, a batch of two requests", async function () {
    const native = new NativeJsonRpcProvider(chain.rpcUrl, network, { staticNetwork: network, cacheTimeout: -1 });
    const plain = new JsonRpcProvider(chain.rpcUrl, network, { staticNetwork: network, cacheTimeout: -1 });
    try {
      const sender = hardhatAccount(7, native);
      const sent = await sender.sendTransaction({ to: hardhatAccount(8, native).address, value: 12345n, data: "0xc0ffee" });
      const receipt = await sent.wait();
      expect(receipt?.status).to.equal(1);
      expect((await native.getTransaction(sent.hash))?.toJSON()).to.deep.equal((await plain.getTransaction(sent.hash))?.toJSON());
      expect((await native.getTransactionReceipt(sent.hash))?.toJSON()).to.deep.equal((await plain.getTransactionReceipt(sent.hash))?.toJSON());
      expect((await native.getBlock(receipt!.blockNumber, true))?.toJSON()).to.deep.equal((await plain.getBlock(receipt!.blockNumber, true))?.toJSON());
      // A batch of two requests in one HTTP body comes back matched to its requests.
      const [balance, count] = await Promise.all([native.getBalance(sender.address), native.getTransactionCount(sender.address)]);
      expect(balance).to.equal(await plain.getBalance(sender.address));
      expect(count).to.equal(await plain.getTransactionCount(sender.address));
    } finally {
      native.destroy();
      plain.destroy();
    }
  });

  it("decodes multi-byte UTF-8 in an answer exactly, and leaves an answer that is not JSON to ethers' own error", async function () {
    const text = "Hôpital Lariboisière – 心臓 🫀";
    const good = await fixedAnswerServer(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, result: text }), "utf8"));
    const bad = await fixedAnswerServer(Buffer.from("<html>gateway error</html>", "utf8"));
    const goodProvider = new NativeJsonRpcProvider(good.url, network, { staticNetwork: network, batchMaxCount: 1 });
    const badProvider = new NativeJsonRpcProvider(bad.url, network, { staticNetwork: network, batchMaxCount: 1 });
    try {
      expect(await goodProvider.send("web3_clientVersion", [])).to.equal(text);
      const err = await rejectionOf(badProvider.send("web3_clientVersion", []));
      expect(String(err)).to.match(/response body is not valid JSON/);
    } finally {
      goodProvider.destroy();
      badProvider.destroy();
      good.server.close();
      bad.server.close();
    }
  });
});
