import hardhatToolboxMochaEthersPlugin from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export default defineConfig({
  // The toolbox brings hardhat-ethers, chai matchers, network helpers, Ignition, typechain and hardhat-verify.
  plugins: [hardhatToolboxMochaEthersPlugin],
  solidity: {
    // The compiler comes from the pinned `solc` npm package so builds work offline;
    // Hardhat does not check that `version` matches the file, so keep them in step.
    version: "0.8.28",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  },
  networks: {
    // A JSON-RPC node on this machine (`npx hardhat node --hostname 127.0.0.1`, or the one `npm start` runs), at
    // PMHE_RPC_URL when set. 127.0.0.1 rather than Hardhat's default "localhost", which may resolve to ::1 where the
    // node does not listen. Its unlocked test accounts sign. local/deploy.ts connects to it with the URL of the node
    // it started (a network-manager override).
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.PMHE_RPC_URL ?? "http://127.0.0.1:8545",
    },
    // A public testnet, configured only from the environment (read when the network is used, never committed):
    // PMHE_TESTNET_RPC_URL and PMHE_TESTNET_DEPLOYER_KEY. Sepolia by default; set PMHE_TESTNET_CHAIN_ID for another.
    testnet: {
      type: "http",
      chainType: "l1",
      chainId: Number(process.env.PMHE_TESTNET_CHAIN_ID ?? 11155111),
      url: configVariable("PMHE_TESTNET_RPC_URL"),
      accounts: [configVariable("PMHE_TESTNET_DEPLOYER_KEY")],
    },
  },
  verify: {
    etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") },
  },
  test: {
    mocha: { timeout: 300_000 },
  },
});
