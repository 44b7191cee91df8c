import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { freePort, portInUse, startProcess, waitUntil, type ManagedProcess } from "./child-process.js";

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface LocalChain {
  rpcUrl: string;
  /** The node's process (its own process group). */
  process: ManagedProcess;
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

/** `hardhat node` refused to start because its port is taken. */
export class ChainPortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is already in use (another hardhat node or npm start?)`);
    this.name = "ChainPortInUseError";
  }
}

/**
 * `hardhat node` on a loopback port (default: a free one): a real JSON-RPC chain (chainId 31337) that runs offline.
 * A given port that is taken is a ChainPortInUseError.
 */
export async function startLocalChain(options: { port?: number } = {}): Promise<LocalChain> {
  if (options.port !== undefined && (await portInUse(options.port))) throw new ChainPortInUseError(options.port);
  const port = options.port ?? (await freePort());
  const proc = startProcess(
    process.execPath,
    [join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: PROJECT_ROOT },
  );
  const rpcUrl = `http://127.0.0.1:${port}`;
  await waitUntil("hardhat node", proc, () => answersJsonRpc(rpcUrl), 90_000);
  return { rpcUrl, process: proc, stop: () => proc.stop() };
}
