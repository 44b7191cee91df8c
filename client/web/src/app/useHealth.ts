import type { JsonRpcProvider } from "ethers";
import { useCallback, useEffect, useState } from "react";
import type { AppConfig } from "../../../../protocol/app-config.js";
import { checkDeployment } from "../../../../protocol/chain.js";
import { fetchChainId, NetworkError, networkReason } from "../../../../protocol/rpc.js";

export type Probe = { state: "checking" } | { state: "up"; detail: string } | { state: "down"; error: unknown };

export interface Health {
  chain: Probe;
  api: Probe;
  recheck(): void;
}

const RECHECK_MS = 15_000;

/** The chain (its id, and a PMHE contract at the configured address) and the coprocessor's API. */
async function probeChain(config: AppConfig, provider: JsonRpcProvider): Promise<string> {
  await fetchChainId(config.rpcUrl, 4_000);
  await checkDeployment(provider, config.contractAddress, { expectedChainId: config.chainId, where: config.rpcUrl }).catch((err: unknown) => {
    // The endpoint answered eth_chainId a moment ago: a socket error now is still the chain being down.
    if (err instanceof Error && /ECONNREFUSED|failed to fetch|NetworkError/i.test(networkReason(err))) {
      throw new NetworkError(config.rpcUrl, "the chain's JSON-RPC endpoint", networkReason(err), { cause: err });
    }
    throw err;
  });
  return `block ${await provider.getBlockNumber()}`;
}

async function probeApi(config: AppConfig): Promise<string> {
  const url = `${config.apiUrl.replace(/\/+$/, "")}/healthz`;
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(4_000) });
  } catch (err) {
    throw new NetworkError(config.apiUrl, "the coprocessor's API", networkReason(err), { cause: err });
  }
  await response.body?.cancel();
  if (!response.ok) throw new NetworkError(config.apiUrl, "the coprocessor's API", `it answered HTTP ${response.status}`);
  return "up";
}

/** Probes the chain and the coprocessor now and every 15 s, so the shell can say plainly which one is down. */
export function useHealth(config: AppConfig, provider: JsonRpcProvider): Health {
  const [chain, setChain] = useState<Probe>({ state: "checking" });
  const [api, setApi] = useState<Probe>({ state: "checking" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () => {
      probeChain(config, provider).then(
        (detail) => live && setChain({ state: "up", detail }),
        (error: unknown) => live && setChain({ state: "down", error }),
      );
      probeApi(config).then(
        (detail) => live && setApi({ state: "up", detail }),
        (error: unknown) => live && setApi({ state: "down", error }),
      );
    };
    run();
    const timer = setInterval(run, RECHECK_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [config, provider, round]);
  const recheck = useCallback(() => setRound((n) => n + 1), []);
  return { chain, api, recheck };
}
