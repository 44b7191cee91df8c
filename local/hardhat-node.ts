import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { freePort, startProcess, waitUntil } from "./child-process.js";

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface LocalChain {
  rpcUrl: string;
  stop(): Promise<void>;
}

async function answersJsonRpc(url: string): Promise<boolean> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
  });
  return response.ok;
}

/** `hardhat node` on a free loopback port: a real JSON-RPC chain (chainId 31337) that runs offline. */
export async function startLocalChain(): Promise<LocalChain> {
  const port = await freePort();
  const proc = startProcess(
    process.execPath,
    [join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: PROJECT_ROOT },
  );
  const rpcUrl = `http://127.0.0.1:${port}`;
  await waitUntil("hardhat node", proc, () => answersJsonRpc(rpcUrl), 90_000);
  return { rpcUrl, stop: () => proc.stop() };
}
