import { z } from "zod";

/**
 * The web app's runtime configuration: which chain, contract, blob-store API and models it works with. Written by
 * whoever serves the app (`npm start` serves it at `/pmhe-config.json` beside the production build; a hosted
 * deployment writes the same document next to its `index.html`), read by the app when it starts, so one build
 * runs against any deployment. Browser-safe: no `node:` imports.
 */

/** Where the app finds its configuration, relative to the page. */
export const APP_CONFIG_PATH = "pmhe-config.json";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte address");
const hash = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, "a lower-case 0x-prefixed 32-byte hash")
  .transform((value) => value as `0x${string}`);
const httpUrl = z.url({ protocol: /^https?$/ });

export const AppModelSchema = z.strictObject({
  /** The on-chain id patients request (`keccak256(abi.encode(publisher, hash))`). */
  id: hash,
  /** keccak256 of the model's canonical bytes: the blob to fetch, and what the chain anchors. */
  hash,
  name: z.string().min(1),
  version: z.number().int().min(1),
  /** The hospital that published it. */
  publisher: address,
  /** The hospital's registered name, when known. */
  publisherName: z.string().optional(),
  /** What a positive prediction means, for display ("heart disease present"). */
  positiveMeans: z.string().optional(),
  /** Where the model file can be fetched (the blob store's `GET /blobs/:hash`); check it against `hash`. */
  url: httpUrl,
});
export type AppModel = z.infer<typeof AppModelSchema>;

export const AppConfigSchema = z.strictObject({
  /** The chain's id, decimal (31337 for a local Hardhat node). */
  chainId: z.number().int().positive(),
  /** A name for the chain, for wallet_addEthereumChain. */
  chainName: z.string().min(1),
  nativeCurrency: z.strictObject({ name: z.string().min(1), symbol: z.string().min(2).max(6), decimals: z.literal(18) }),
  /** The JSON-RPC endpoint a wallet adds for this chain, and the app reads through. */
  rpcUrl: httpUrl,
  /** The PMHE contract. */
  contractAddress: address,
  /** The block it was deployed in: where event scans start. */
  deploymentBlock: z.number().int().min(0),
  /** The coprocessor's blob-store API (uploads, results, job status). */
  apiUrl: httpUrl,
  /**
   * The chain's block explorer, as wallets and wagmi take it: links are `${url}/tx/${hash}`,
   * `${url}/address/${address}` and `${url}/block/${number}`. null where there is none (a local chain).
   */
  blockExplorer: z.strictObject({ name: z.string().min(1), url: httpUrl }).nullable(),
  /** The quorum new jobs get when the configuration was written (the contract's `quorum()` is authoritative). */
  quorum: z.number().int().min(1).max(255),
  /** A local development deployment: public test keys, quorum 1 (one operator could forge results). */
  development: z.boolean(),
  models: z.array(AppModelSchema),
});
export type AppConfig = z.infer<typeof AppConfigSchema>;

export class AppConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AppConfigError";
  }
}

/** Validates a configuration document; the message names every field that is wrong. */
export function parseAppConfig(value: unknown): AppConfig {
  const parsed = AppConfigSchema.safeParse(value);
  if (!parsed.success) throw new AppConfigError(`the app configuration is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Fetches and validates the configuration (default: `pmhe-config.json` beside the page). */
export async function loadAppConfig(url: string | URL = APP_CONFIG_PATH, fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetchImpl(url, { cache: "no-store" });
  } catch (err) {
    throw new AppConfigError(`could not fetch the app configuration at ${String(url)}: ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok) throw new AppConfigError(`the app configuration at ${String(url)} answered HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch (err) {
    throw new AppConfigError(`the app configuration at ${String(url)} is not JSON`, { cause: err });
  }
  return parseAppConfig(body);
}

/** A block-explorer link, or undefined when the chain has no explorer. */
export function explorerLink(config: Pick<AppConfig, "blockExplorer">, kind: "tx" | "address" | "block", id: string | number): string | undefined {
  if (!config.blockExplorer) return undefined;
  return `${config.blockExplorer.url.replace(/\/+$/, "")}/${kind}/${id}`;
}
