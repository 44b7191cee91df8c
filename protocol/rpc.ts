import { JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from "ethers";

/**
 * Connecting to a chain's JSON-RPC endpoint so that failures name it. ethers' JsonRpcProvider, left to detect the
 * network itself, retries forever in the background and reports "failed to detect network" without the URL; here
 * the chain id is asked once, with a timeout, and the provider is then pinned to that network. Browser-safe.
 */

/** An endpoint (chain RPC or blob store) could not be reached; the message names the URL tried. */
export class NetworkError extends Error {
  constructor(readonly url: string, what: string, reason: string, options?: { cause?: unknown }) {
    super(`could not reach ${what} at ${url}: ${reason}`, options);
    this.name = "NetworkError";
  }
}

/** The most specific reason a fetch or socket failure carries: ECONNREFUSED, ENOTFOUND, a timeout... */
export function networkReason(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z_]+$/.test(code) && code !== "UNKNOWN_ERROR") return code;
    if ((e as { name?: unknown }).name === "TimeoutError" || (e as { name?: unknown }).name === "AbortError") return "no answer in time";
  }
  return err instanceof Error ? err.message : String(err);
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * ethers' JsonRpcProvider with requests and answers converted by the platform's TextEncoder, TextDecoder and
 * JSON.parse. ethers converts UTF-8 in JavaScript, about 23 ns a byte: 0.3 ms for a 13 KB log query, which a
 * coprocessor polling logs and reading jobs dozens of times a second pays on its main thread. Same transport, same
 * errors: an answer that is not JSON is left to ethers to report.
 */
export class NativeJsonRpcProvider extends JsonRpcProvider {
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = this._getConnection();
    request.body = utf8Encoder.encode(JSON.stringify(payload));
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    let answer: unknown;
    try {
      answer = JSON.parse(utf8Decoder.decode(response.body ?? new Uint8Array()));
    } catch {
      answer = response.bodyJson;
    }
    // Errors too, typed as ethers types its own _send: the caller tells them apart.
    return (Array.isArray(answer) ? answer : [answer]) as JsonRpcResult[];
  }
}

/** The chain id the endpoint reports, asked with a plain JSON-RPC request. */
export async function fetchChainId(url: string, timeoutMs = 5_000): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new NetworkError(url, "the chain's JSON-RPC endpoint", networkReason(err), { cause: err });
  }
  let body: { result?: unknown; error?: { message?: string } };
  try {
    body = (await response.json()) as typeof body;
  } catch (err) {
    throw new NetworkError(url, "the chain's JSON-RPC endpoint", `HTTP ${response.status}, not a JSON-RPC answer`, { cause: err });
  }
  if (typeof body.result !== "string" || !/^0x[0-9a-fA-F]+$/.test(body.result)) {
    throw new NetworkError(url, "the chain's JSON-RPC endpoint", `eth_chainId answered ${JSON.stringify(body.error?.message ?? body.result)}`);
  }
  return BigInt(body.result);
}

/**
 * A provider on `url`, pinned to the chain id the endpoint reports now (checked against `expectedChainId` when
 * given). Throws NetworkError naming the URL when the endpoint does not answer.
 */
export async function connectRpc(
  url: string,
  options: { timeoutMs?: number; pollingIntervalMs?: number; expectedChainId?: bigint } = {},
): Promise<{ provider: JsonRpcProvider; chainId: bigint }> {
  const chainId = await fetchChainId(url, options.timeoutMs);
  if (options.expectedChainId !== undefined && chainId !== options.expectedChainId) {
    throw new NetworkError(url, "the configured chain", `it has chain id ${chainId}, not the ${options.expectedChainId} configured`);
  }
  const network = Network.from(chainId);
  const provider = new NativeJsonRpcProvider(url, network, { staticNetwork: network, pollingInterval: options.pollingIntervalMs ?? 4_000 });
  return { provider, chainId };
}
