import type { TypedContractEvent, TypedDeferredTopicFilter, TypedEventLog } from "../types/ethers-contracts/common.js";
import type { PmheContract } from "../protocol/chain.js";
import { namedContractCall } from "../protocol/contract-errors.js";

/** Blocks per log query by default: public RPC providers cap eth_getLogs ranges (a local node does not). */
export const DEFAULT_LOG_RANGE = 10_000;

export interface LogRange {
  /** First block to read (the deployment block); 0 by default. */
  fromBlock?: number;
  /** Last block to read; the chain head by default. */
  toBlock?: number;
  /** Blocks per query. */
  maxRange?: number;
}

/**
 * The logs of one event filter over a block range, read in chunks a provider accepts, in chain order. The patient's
 * views (history, consents) are rebuilt from events like this: the chain is the record, nothing is kept elsewhere.
 */
export async function queryLogs<E extends TypedContractEvent>(
  contract: PmheContract,
  filter: TypedDeferredTopicFilter<E>,
  range: LogRange = {},
): Promise<Array<TypedEventLog<E>>> {
  const provider = contract.runner?.provider;
  if (!provider) throw new Error("reading the chain needs a provider: connect the wallet to the chain");
  const to = range.toBlock ?? (await provider.getBlockNumber());
  const step = Math.max(1, range.maxRange ?? DEFAULT_LOG_RANGE);
  const out: Array<TypedEventLog<E>> = [];
  for (let from = range.fromBlock ?? 0; from <= to; from += step) {
    const end = Math.min(to, from + step - 1);
    out.push(...(await namedContractCall("reading the chain's events", () => contract.queryFilter(filter, from, end))));
  }
  return out;
}
