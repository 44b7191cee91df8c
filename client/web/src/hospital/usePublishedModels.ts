import type { Hash } from "../../../../protocol/hash.js";
import { useApp } from "../app/context.js";
import { useLoader } from "../auditor/common/useLoader.js";
import { queryLogs } from "../../../chain-logs.js";

export interface PublishedModelInfo {
  modelId: Hash;
  modelHash: Hash;
  publisher: string;
  name: string;
  version: number;
  locator: string;
  block: number;
  tx: string;
  deprecated: boolean;
}

/** Every model published on the deployment (ModelPublished), each marked deprecated if ModelDeprecated says so. */
export function usePublishedModels() {
  const { contract, config } = useApp();
  return useLoader(async (): Promise<PublishedModelInfo[]> => {
    const [published, deprecated] = await Promise.all([
      queryLogs(contract, contract.filters.ModelPublished(), { fromBlock: config.deploymentBlock }),
      queryLogs(contract, contract.filters.ModelDeprecated(), { fromBlock: config.deploymentBlock }),
    ]);
    const gone = new Set(deprecated.map((e) => e.args.modelId.toLowerCase()));
    return published.map((e) => ({
      modelId: e.args.modelId.toLowerCase() as Hash,
      modelHash: e.args.modelHash.toLowerCase() as Hash,
      publisher: e.args.publisher.toLowerCase(),
      name: e.args.name,
      version: Number(e.args.version),
      locator: e.args.locator,
      block: e.blockNumber,
      tx: e.transactionHash,
      deprecated: gone.has(e.args.modelId.toLowerCase()),
    }));
  }, [contract, config.deploymentBlock]);
}
