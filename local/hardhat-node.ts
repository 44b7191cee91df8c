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

async function rpcCall(url: string, method: string, params: unknown[]): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
}

async function answersJsonRpc(url: string): Promise<boolean> {
  return (await rpcCall(url, "eth_chainId", [])).ok;
}

export interface LocalChainOptions {
  /** A port of its own choosing (default: a free one). */
  port?: number;
  /**
   * Keep the node's log of every JSON-RPC call and transaction (what `hardhat node` prints by default). Off unless
   * asked: printing it costs the node about as much CPU as answering (0.6 instead of 1.0 ms an eth_blockNumber, 2.0
   * instead of 4.8 ms a mined transfer, on a 2-core machine), and nobody reads it.
   */
  logRequests?: boolean;
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
export async function startLocalChain(options: LocalChainOptions = {}): Promise<LocalChain> {
  if (options.port !== undefined && (await portInUse(options.port))) throw new ChainPortInUseError(options.port);
  const port = options.port ?? (await freePort());
  const proc = startProcess(
    process.execPath,
    [join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: PROJECT_ROOT },
  );
  const rpcUrl = `http://127.0.0.1:${port}`;
  await waitUntil("hardhat node", proc, () => answersJsonRpc(rpcUrl), 90_000);
  if (!options.logRequests) {
    const answer = await rpcCall(rpcUrl, "hardhat_setLoggingEnabled", [false]);
    const body = answer.ok ? ((await answer.json()) as { error?: { message?: string } }) : undefined;
    if (!body || body.error) {
      await proc.stop();
      throw new Error(`the hardhat node at ${rpcUrl} refused hardhat_setLoggingEnabled: ${body?.error?.message ?? `HTTP ${answer.status}`}`);
    }
  }
  return { rpcUrl, process: proc, stop: () => proc.stop() };
}
