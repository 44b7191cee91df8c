import { asNetworkError, errorView } from "../error-view.js";
import type { NetworkError } from "../../protocol/rpc.js";
import { IntakeFormatError } from "../../protocol/intake/errors.js";
import { KeystoreError } from "./keystore.js";
import { SettingsError } from "./cli-settings.js";

/**
 * The CLI's words for an error: what ErrorView (../error-view.ts, shared with the web app) says for the patient's
 * flows, and the CLI's own Node-only errors (settings, the key directory) on top.
 */

/** The line saying what to do next, for an error whose message does not already say it. */
export function nextStep(err: unknown, settings: { rpcUrl?: string; apiUrl?: string } = {}): string | undefined {
  if (err instanceof SettingsError) return "set them in the environment or in .env (see .env.example)";
  if (err instanceof IntakeFormatError) return "correct the file (or its --format, --time-zone) and run ingest again; a single bad reading is skipped and counted, not fatal";
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && ["ENOENT", "EACCES", "EISDIR"].includes(code)) return "check the file's path and permissions, and run the command again";
  if (err instanceof KeystoreError) {
    return err.message.includes("refusing to overwrite")
      ? "pass --force to replace it (the old secret key is then lost), or choose another --keys directory"
      : "create a key set for this wallet: npm run client -- keygen, then npm run client -- register (or restore your backup: npm run client -- restore)";
  }
  return errorView(err, { surface: "cli", ...settings }).next;
}

/**
 * The error line: the message of the error, with chain failures that ethers reports without an address (a node that
 * went away mid-command) turned into one naming PMHE_RPC_URL.
 */
export function errorMessage(err: unknown, settings: { rpcUrl?: string } = {}): { message: string; asNetwork?: NetworkError } {
  if (!(err instanceof Error)) return { message: String(err) };
  const normalised = asNetworkError(err, settings);
  if (normalised !== err) return { message: (normalised as NetworkError).message, asNetwork: normalised as NetworkError };
  return { message: err.message };
}
