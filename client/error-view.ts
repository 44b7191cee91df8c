import { isError } from "ethers";
import { BlobStoreError } from "../protocol/blob-client.js";
import { DeploymentError, WrongChainError } from "../protocol/chain.js";
import { ContractCallError } from "../protocol/contract-errors.js";
import { FheError } from "../protocol/fhe/errors.js";
import { KeyBackupError } from "../protocol/key-backup.js";
import { ModelFormatError, ReadingError } from "../protocol/model.js";
import { ShareError } from "../protocol/result-share.js";
import { NetworkError, networkReason } from "../protocol/rpc.js";
import {
  DisputedResultError,
  ForeignKeyBundleError,
  IntermediateResultError,
  isUserRejection,
  KeyOwnerMismatchError,
  KeysDoNotFitModelError,
  ModelMismatchError,
  PredictionExpiredError,
  PredictionFailedError,
  PredictionTimeoutError,
  ResultVerificationError,
  ShareRefusedError,
} from "./errors.js";

/**
 * Any error of the patient's flows, told to a person: a title, the sentence saying what happened, and what to do
 * next. One definition for the CLI and the web app; where the next step differs (a command to run, or a button to
 * press), each surface has its own words. The CLI adds its Node-only errors (settings, key directory) on top.
 */

export type ErrorKind =
  | "user-rejected"
  | "wrong-chain"
  | "network"
  | "deployment"
  | "contract"
  | "blob-store"
  | "disputed"
  | "failed"
  | "expired"
  | "timeout"
  | "unverified"
  | "keys"
  | "key-backup"
  | "model"
  | "crypto"
  | "share"
  | "unknown";

export interface ErrorView {
  kind: ErrorKind;
  title: string;
  /** What happened, in one sentence (the error's own message, which names what it is about). */
  sentence: string;
  /** What the person can do next. */
  next: string;
  /** Doing the same again later may work (a service down, busy, a pending job). */
  retryable: boolean;
  /** The endpoint that could not be reached, for network errors. */
  url?: string;
  /** The machine-readable name: the contract error's, the blob store's code, the failure reason's. */
  code?: string;
}

export interface ErrorContext {
  /** Whose words for the next step: the CLI's commands or the app's. Default "app". */
  surface?: "cli" | "app";
  /** The chain's RPC URL: socket failures ethers reports without one are told as this endpoint's. */
  rpcUrl?: string;
  /** The coprocessor's API URL. */
  apiUrl?: string;
}

type Hint = string | { cli: string; app: string };

const say = (hint: Hint, surface: "cli" | "app"): string => (typeof hint === "string" ? hint : hint[surface]);

/** What to do after a contract refusal, by the error's name; the sentence itself says what went wrong. */
const CONTRACT_HINTS: Record<string, Hint> = {
  PatientNotRegistered: { cli: "register your key bundle first: npm run client -- register", app: "register your keys first (Keys page), then try again" },
  UnknownModel: {
    cli: "check --model-id, or --publisher (PMHE_MODEL_PUBLISHER): it must be the hospital that published this exact model file",
    app: "choose a model from the list of published models; this one is not on this deployment",
  },
  ModelIsDeprecated: { cli: "ask the hospital for the model's newer version and use that file", app: "choose the model's newer version" },
  ModelPublisherRevoked: { cli: "the hospital is no longer registered: use a model of a registered hospital", app: "the hospital is no longer registered: choose a model of a registered hospital" },
  NoConsent: { cli: "grant the hospital consent first: npm run client -- consent grant <hospital> --results", app: "grant the hospital consent first (Consents page)" },
  ConsentDoesNotCoverResults: {
    cli: "grant consent that covers results: npm run client -- consent grant <hospital> --results",
    app: "grant the hospital a consent that covers results (Consents page), then share again",
  },
  NotAHospital: "check the hospital address: it must be a hospital registered on this deployment",
  UnknownHospital: "check the hospital address: it must be a hospital registered on this deployment",
  ConsentExpiryInPast: { cli: "choose an expiry in the future (--days or --until)", app: "choose an expiry in the future" },
  UnknownJob: { cli: "check the job id (npm run audit lists this deployment's jobs)", app: "check the job id; your history lists your jobs" },
  JobNotFinalized: "wait until the job is finalized, then share it",
  NotJobPatient: { cli: "only the patient of a job can share it: use that patient's PMHE_PATIENT_KEY", app: "only the patient of a job can share it: connect that patient's wallet" },
  UnknownRecord: "check the record hash: it must be one you anchored with this wallet",
  RecordIsErased: "the record is erased; encrypt and submit the reading again",
  RecordAlreadyAnchored: { cli: "run the command again: a new encryption gives a new record", app: "try again: a new encryption gives a new record" },
};

const BLOB_TITLES: Record<string, string> = {
  not_registered: "Keys not registered",
  key_bundle_not_current: "Keys not current",
  quota_exceeded: "Upload quota reached",
  store_full: "Blob store full",
  busy: "Blob store busy",
  rate_limited: "Too many requests",
  owner_mismatch: "Not yours to upload",
  not_owner: "Not yours to delete",
};

const KEY_BACKUP_HINTS: Record<KeyBackupError["code"], Hint> = {
  no_backup: { cli: "back up from a device that holds your key set: npm run client -- backup", app: "back up your keys from a device that holds them (Keys page)" },
  wrong_wallet: { cli: "set PMHE_PATIENT_KEY to the wallet that made the backup", app: "connect the wallet that made the backup" },
  wrong_deployment: { cli: "point PMHE_CONTRACT_ADDRESS and PMHE_RPC_URL at the deployment the backup was made for", app: "switch to the network and deployment the backup was made for" },
  does_not_open: "make a new backup from a device that still holds the key set",
  not_a_backup: "fetch the backup again; if it keeps failing, make a new one",
  bad_signature: "sign with the patient's own wallet, in a wallet app that supports typed-data signatures (EIP-712)",
  bundle_missing: { cli: "make a new key set (keygen --force), register it and back it up", app: "make new keys, register them and back them up" },
};

const SOCKET_FAILURE = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)$/;

/**
 * An ethers failure that carries a socket error but no address (a node that went away mid-call), as a NetworkError
 * naming the chain's RPC URL; anything else as it is.
 */
export function asNetworkError(err: unknown, context: Pick<ErrorContext, "rpcUrl"> = {}): unknown {
  if (!(err instanceof Error) || !context.rpcUrl) return err;
  const known = [NetworkError, ContractCallError, DeploymentError, BlobStoreError];
  if (known.some((type) => err instanceof type) || !SOCKET_FAILURE.test(networkReason(err))) return err;
  return new NetworkError(context.rpcUrl, "the chain's JSON-RPC endpoint", networkReason(err), { cause: err });
}

/** The EIP-1193 code a wallet (or ethers around it) put on an error, if any. */
function walletCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 6; depth++) {
    const record = e as { code?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
    if (typeof record.code === "number") return record.code;
    e = record.error ?? record.info?.error ?? record.cause;
  }
  return undefined;
}

export function errorView(error: unknown, context: ErrorContext = {}): ErrorView {
  const surface = context.surface ?? "app";
  const err = asNetworkError(error, context);
  const sentence = err instanceof Error ? err.message : String(err);
  const view = (kind: ErrorKind, title: string, next: Hint, extra: Partial<ErrorView> = {}): ErrorView => ({
    kind,
    title,
    sentence,
    next: say(next, surface),
    retryable: false,
    ...extra,
  });

  if (isUserRejection(err)) {
    return {
      kind: "user-rejected",
      title: "Declined in the wallet",
      sentence: "The request was declined in the wallet, so nothing was signed or sent.",
      next: "try again, and approve the request in the wallet when it asks",
      retryable: true,
      code: "4001",
    };
  }
  if (err instanceof WrongChainError || walletCode(err) === 4902 || (isError(err, "NETWORK_ERROR") && /network changed/i.test(sentence))) {
    const chain = err instanceof WrongChainError ? ` ${err.expectedChainId}` : "";
    return view("wrong-chain", "Wrong network", {
      cli: "point PMHE_RPC_URL at the chain PMHE was deployed on",
      app: `switch the wallet to the deployment's network${chain} (add it to the wallet if it does not know it), then try again`,
    });
  }
  if (err instanceof NetworkError) {
    const chain = (context.rpcUrl !== undefined && err.url === context.rpcUrl) || sentence.includes("JSON-RPC");
    return chain
      ? view("network", "Chain unreachable", { cli: "start the chain, or point PMHE_RPC_URL at a running one", app: `check the connection; the chain at ${err.url} does not answer, try again later` }, { retryable: true, url: err.url })
      : view(
          "network",
          "Coprocessor unreachable",
          { cli: "start the coprocessor (npm run coprocessor), or point PMHE_API_URL at a running one", app: `check the connection; the coprocessor at ${err.url} does not answer, try again later` },
          { retryable: true, url: err.url },
        );
  }
  if (err instanceof DeploymentError) {
    return view("deployment", "No PMHE deployment there", {
      cli: "set PMHE_CONTRACT_ADDRESS to the address PMHE was deployed at, on the chain of PMHE_RPC_URL",
      app: "switch the wallet to the network this app's deployment is on, or ask the operator for the right address",
    });
  }
  if (err instanceof ContractCallError) {
    const hint = CONTRACT_HINTS[err.errorName] ?? { cli: "fix what the contract names, then run the command again", app: "fix what the contract names, then try again" };
    return view("contract", `Refused by the contract: ${err.errorName}`, hint, { code: err.errorName });
  }
  if (err instanceof BlobStoreError) {
    const title = BLOB_TITLES[err.code] ?? "Refused by the blob store";
    if (err.code === "not_registered" || err.code === "key_bundle_not_current") {
      return view("blob-store", title, { cli: "register this key set first: npm run client -- register", app: "register these keys first (Keys page), then try again" }, { code: err.code });
    }
    if (["quota_exceeded", "store_full", "busy", "rate_limited", "store_unavailable", "chain_unavailable"].includes(err.code) || err.status >= 500) {
      return view("blob-store", title === "Refused by the blob store" ? "Blob store unavailable" : title, "try again later", { code: err.code, retryable: true });
    }
    return view(
      "blob-store",
      title,
      { cli: "the blob store refused the upload; check that PMHE_API_URL is this deployment's coprocessor", app: "the blob store refused it; check that the app points at this deployment's coprocessor" },
      { code: err.code },
    );
  }
  if (err instanceof DisputedResultError) {
    return view("disputed", "Result disputed", {
      cli: `ask the operators or an auditor (npm run audit -- --job ${err.jobId}); --accept-disputed shows it marked DISPUTED`,
      app: "do not rely on it: operators disagree. Ask the operators or an auditor which side is faulty; you can view it marked as disputed",
    });
  }
  if (err instanceof PredictionFailedError) {
    return view("failed", `Prediction failed: ${err.reason}`, { cli: "request the prediction again (npm run client -- predict ...)", app: "encrypt the reading again and request a new prediction" }, { code: err.reason });
  }
  if (err instanceof PredictionExpiredError) {
    return view("expired", "Prediction expired", { cli: "request the prediction again (npm run client -- predict ...)", app: "request the prediction again; if it keeps expiring, the coprocessors may be down" }, { retryable: true });
  }
  if (err instanceof PredictionTimeoutError) {
    return view("timeout", "Still waiting for the result", {
      cli: `wait longer (--timeout), or look the job up: npm run audit -- --job ${err.jobId}`,
      app: "the job stays on-chain: check it again later in your history",
    }, { retryable: true });
  }
  if (err instanceof ResultVerificationError) {
    return view("unverified", "Result rejected", "do not trust this result; report it to the coprocessor operators and request the prediction again");
  }
  if (err instanceof KeyOwnerMismatchError) {
    return view("keys", "Keys of another wallet", { cli: "use the --keys directory made for this wallet, or run keygen for it", app: "connect the wallet these keys were made for, or restore this wallet's keys" });
  }
  if (err instanceof ForeignKeyBundleError) {
    return view("keys", "Encrypted under other keys", { cli: "restore the key set the job was encrypted under (restore with its wallet)", app: "restore the key set this job was encrypted under" });
  }
  if (err instanceof KeyBackupError) {
    const titles: Record<KeyBackupError["code"], string> = {
      no_backup: "No key backup",
      wrong_wallet: "Backup of another wallet",
      wrong_deployment: "Backup of another deployment",
      does_not_open: "Backup does not open",
      not_a_backup: "Not a key backup",
      bad_signature: "Unusable wallet signature",
      bundle_missing: "Backed-up keys incomplete",
    };
    return view("key-backup", titles[err.code], KEY_BACKUP_HINTS[err.code], { code: err.code });
  }
  if (err instanceof ModelMismatchError) {
    return view("model", "Model file differs", { cli: "use the exact model file the hospital published, or the model id of this file", app: "choose the model again from the published list" });
  }
  if (err instanceof ModelFormatError || err instanceof ReadingError) {
    return view("model", err instanceof ReadingError ? "Reading not usable" : "Model not usable", { cli: "check the model and reading files", app: "check the readings against what the model asks for" });
  }
  if (err instanceof KeysDoNotFitModelError) {
    return view("keys", "Keys do not fit this model", {
      cli: "make a key set for it (npm run client -- keygen --force with the --parameter-set, --max-width or --non-interactive it names), then register",
      app: "this model needs other keys than yours: make new keys (your backup keeps the old ones for earlier results)",
    });
  }
  if (err instanceof FheError && err.code === "ParameterMismatch") {
    return view("crypto", "Keys cannot be made so", { cli: "choose a width or parameter set the message allows", app: "this deployment's models need keys the app cannot make" }, { code: err.code });
  }
  if (err instanceof FheError) {
    return view("crypto", "Encryption failed", { cli: "check that the key directory holds the key set made by keygen", app: "your stored keys look damaged: restore them from your backup" }, { code: err.code });
  }
  if (err instanceof ShareError) return view("share", "Share not readable", "ask the patient to share the result again");
  if (err instanceof ShareRefusedError) {
    return view("share", "Cannot share this job", { cli: "share a finalized one-reading prediction (the job id predict printed)", app: "share a finalized one-reading prediction" });
  }
  if (err instanceof IntermediateResultError) return view("share", "Not a prediction", "open the last round's job of this prediction");
  return view("unknown", "Something went wrong", {
    cli: "run the command again; if it keeps failing, check PMHE_RPC_URL and PMHE_API_URL",
    app: "try again; if it keeps failing, reload the page and check the wallet's network",
  }, { retryable: true });
}
