import { existsSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { NonceManager, Wallet, type JsonRpcProvider } from "ethers";
import { z } from "zod";
import { errorMessage } from "../client/node/cli-errors.js";
import { SettingsError } from "../client/node/cli-settings.js";
import { BlobStoreError } from "../protocol/blob-client.js";
import { checkDeployment, connectPmhe, DeploymentError, type PmheContract } from "../protocol/chain.js";
import { ContractCallError } from "../protocol/contract-errors.js";
import { ModelFormatError } from "../protocol/model.js";
import { connectRpc, NetworkError } from "../protocol/rpc.js";

/**
 * What the operators' command lines (governance: `npm run admin`, hospitals: `npm run hospital`) share with each
 * other and with the patient's: settings from the environment (or .env) validated with zod, a chain reached through
 * `connectRpc` (failures name PMHE_RPC_URL), the contract checked before anything is signed, refusals decoded by
 * name, `--json`, and on failure an `error:` line and a `next:` line, exit code 1.
 */

export { SettingsError };

/** Settings from a local .env file when there is one; the environment itself wins. */
export function loadDotEnv(): void {
  if (existsSync(".env")) process.loadEnvFile(".env");
}

export const addressSetting = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte address");
export const privateKeySetting = (whose: string) => z.string().regex(/^0x[0-9a-fA-F]{64}$/, `${whose}'s 0x-prefixed 32-byte wallet private key`);

export function parseSettings<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  // An empty variable (`NAME=` in a .env file) means unset.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) throw new SettingsError(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Prints a result: one JSON document with --json, lines for a person otherwise. */
export function output(json: boolean | undefined, document: unknown, lines: string[]): void {
  console.log(json ? JSON.stringify(document, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) : lines.join("\n"));
}

/** A chain connection with the contract checked and a signer (nonces kept locally), released by `close()`. */
export interface ContractSession {
  provider: JsonRpcProvider;
  chainId: bigint;
  signer: NonceManager;
  /** The contract, connected to the signer. */
  contract: PmheContract;
  close(): void;
}

/**
 * Connects to PMHE at `address` on `rpcUrl` with the wallet `privateKey`: a NetworkError naming the URL when the chain
 * does not answer, a DeploymentError when no PMHE contract is there, before anything is signed.
 */
export async function openSession(rpcUrl: string, address: string, privateKey: string): Promise<ContractSession> {
  const { provider, chainId } = await connectRpc(rpcUrl, { pollingIntervalMs: 200 });
  try {
    await checkDeployment(provider, address, { where: rpcUrl });
  } catch (err) {
    provider.destroy();
    throw err;
  }
  const signer = new NonceManager(new Wallet(privateKey, provider));
  return { provider, chainId, signer, contract: connectPmhe(address, signer), close: () => provider.destroy() };
}

export async function withSession<T>(rpcUrl: string, address: string, privateKey: string, fn: (session: ContractSession) => Promise<T>): Promise<T> {
  const session = await openSession(rpcUrl, address, privateKey);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

/** A duration in seconds: `3600`, `90s`, `30m`, `2h` or `7d`. */
export function durationArgument(value: string): number {
  const match = /^([0-9]{1,9})(s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected a duration: seconds, or a number with s, m, h or d (e.g. 3600, 90m, 2h, 1d)");
  const unit = { s: 1, m: 60, h: 3_600, d: 86_400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** A 32-byte X25519 public key, 0x and 64 hex digits, not all zero; returned in lower case. */
export function encryptionKeyArgument(value: string): `0x${string}` {
  const key = value.trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new InvalidArgumentError("expected an X25519 public key: 0x and 64 hex digits");
  if (/^0x0+$/.test(key)) throw new InvalidArgumentError("a key of 32 zero bytes is not a key");
  return key.toLowerCase() as `0x${string}`;
}

export interface CliErrorHints {
  /** PMHE_RPC_URL and PMHE_API_URL as configured, if they parse: network failures are matched against them. */
  urls(): { rpcUrl?: string; apiUrl?: string };
  /** What to do after a contract refusal, by the error's name. */
  contractHints: Record<string, string>;
  /** The answer for errors of this CLI's own kinds (undefined: the common answers below). */
  own?(err: unknown): string | undefined;
}

/** The line saying what to do next after `err`. */
export function nextStepFor(err: unknown, hints: CliErrorHints, urls: { rpcUrl?: string; apiUrl?: string }): string {
  const own = hints.own?.(err);
  if (own) return own;
  if (err instanceof NetworkError) {
    const chain = (urls.rpcUrl !== undefined && err.url === urls.rpcUrl) || err.message.includes("JSON-RPC");
    return chain
      ? "start the chain (npm start, or npx hardhat node --hostname 127.0.0.1), or point PMHE_RPC_URL at a running one"
      : "start the coprocessor (npm start, or npm run coprocessor), or point PMHE_API_URL at a running one";
  }
  if (err instanceof DeploymentError) return "set PMHE_CONTRACT_ADDRESS to the address PMHE was deployed at on the chain of PMHE_RPC_URL (the deployment prints it)";
  if (err instanceof ContractCallError) return hints.contractHints[err.errorName] ?? "fix what the contract names, then run the command again";
  if (err instanceof SettingsError) return "set them in the environment or in .env (cp .env.example .env lists each one)";
  if (err instanceof BlobStoreError) {
    if (err.code === "forbidden") return "only a registered hospital may upload a model: ask governance to register this hospital first";
    if (err.code === "quota_exceeded" || err.code === "busy" || err.code === "rate_limited" || err.code === "store_full") return "try again later";
    return "check that PMHE_API_URL is the coprocessor of this deployment";
  }
  if (err instanceof ModelFormatError) return "check the model file (npm run train writes a valid one)";
  return "run the command again; if it keeps failing, check PMHE_RPC_URL, PMHE_CONTRACT_ADDRESS and PMHE_API_URL";
}

/** Parses and runs `program`; on failure prints `error: …` and `next: …` to stderr and sets exit code 1. */
export async function runCli(program: Command, hints: CliErrorHints): Promise<void> {
  try {
    await program.parseAsync();
  } catch (err) {
    const urls = (() => {
      try {
        return hints.urls();
      } catch {
        return {};
      }
    })();
    const { message, asNetwork } = errorMessage(err, urls);
    console.error(`error: ${message}`);
    console.error(`next: ${nextStepFor(asNetwork ?? err, hints, urls)}`);
    process.exitCode = 1;
  }
}
