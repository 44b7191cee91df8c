import { NonceManager, Wallet } from "ethers";
import { z } from "zod";
import { BlobClient } from "../../protocol/blob-client.js";
import { connectRpc } from "../../protocol/rpc.js";
import { openLocalCrypto } from "../crypto/local.js";
import { PatientClient } from "../patient-client.js";
import { readKeySet } from "./keystore.js";

/** The patient CLI's settings, all from the environment (or .env): see the patient section of .env.example. */
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte address");
const PatientKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "the patient's 0x-prefixed 32-byte wallet private key");

const ChainSettingsSchema = z.object({
  PMHE_RPC_URL: z.url().default("http://127.0.0.1:8545"),
  PMHE_API_URL: z.url().default("http://127.0.0.1:8080"),
  PMHE_CONTRACT_ADDRESS: address,
  PMHE_PATIENT_KEY: PatientKey,
});
export type ChainSettings = z.infer<typeof ChainSettingsSchema>;

/** Settings are wrong or missing: the message names each one and what it must be. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

function parse<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  // An empty variable (`NAME=` in a .env file) means unset.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) throw new SettingsError(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function chainSettings(env: NodeJS.ProcessEnv = process.env): ChainSettings {
  return parse(ChainSettingsSchema, env);
}

/** The patient's wallet address, from PMHE_PATIENT_KEY (keygen needs only this). */
export function patientAddress(env: NodeJS.ProcessEnv = process.env): string {
  return new Wallet(parse(z.object({ PMHE_PATIENT_KEY: PatientKey }), env).PMHE_PATIENT_KEY).address;
}

/** PMHE_MODEL_PUBLISHER, when set: the hospital whose model `predict --model` means by default. */
export function defaultPublisher(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return parse(z.object({ PMHE_MODEL_PUBLISHER: address.optional() }), env).PMHE_MODEL_PUBLISHER;
}

/** The patient's wallet on the chain of PMHE_RPC_URL, and the blob store: what `restore` needs (no key set yet). */
export interface PatientWallet {
  settings: ChainSettings;
  signer: NonceManager;
  blobs: BlobClient;
}

/**
 * Runs `fn` with the patient's wallet: settings checked, the chain reached through `connectRpc` (an unreachable chain
 * is a NetworkError naming PMHE_RPC_URL), the provider released afterwards.
 */
export async function withWallet<T>(fn: (wallet: PatientWallet) => Promise<T>): Promise<T> {
  const settings = chainSettings();
  const { provider } = await connectRpc(settings.PMHE_RPC_URL, { pollingIntervalMs: 500 });
  try {
    const signer = new NonceManager(new Wallet(settings.PMHE_PATIENT_KEY, provider));
    return await fn({ settings, signer, blobs: new BlobClient(settings.PMHE_API_URL) });
  } finally {
    provider.destroy();
  }
}

/**
 * Runs `fn` with a patient client: settings checked, the chain reached (before any key is loaded), the key set read
 * and opened in-process, everything released afterwards.
 */
export async function withPatient<T>(keysDir: string, fn: (client: PatientClient, settings: ChainSettings) => Promise<T>): Promise<T> {
  return withWallet(async ({ settings, signer, blobs }) => {
    const crypto = await openLocalCrypto(await readKeySet(keysDir));
    try {
      const client = new PatientClient({
        crypto,
        signer,
        contractAddress: settings.PMHE_CONTRACT_ADDRESS,
        blobs,
        rpcUrl: settings.PMHE_RPC_URL,
        pollIntervalMs: 500,
      });
      return await fn(client, settings);
    } finally {
      await crypto.dispose();
    }
  });
}
