import { BlobStoreError } from "../../protocol/blob-client.js";
import { DeploymentError } from "../../protocol/chain.js";
import { ContractCallError } from "../../protocol/contract-errors.js";
import { FheError } from "../../protocol/fhe/errors.js";
import { ModelFormatError, ReadingError } from "../../protocol/model.js";
import { ShareError } from "../../protocol/result-share.js";
import { NetworkError, networkReason } from "../../protocol/rpc.js";
import {
  DisputedResultError,
  KeyOwnerMismatchError,
  ModelMismatchError,
  PredictionExpiredError,
  PredictionFailedError,
  PredictionTimeoutError,
  ResultVerificationError,
  ShareRefusedError,
} from "../errors.js";
import { KeystoreError } from "./keystore.js";
import { SettingsError } from "./cli-settings.js";

/** What to do after a contract refusal, by the error's name; the sentence itself says what went wrong. */
const CONTRACT_HINTS: Record<string, string> = {
  PatientNotRegistered: 'register your key bundle first: npm run client -- register',
  UnknownModel: "check --model-id, or --publisher (PMHE_MODEL_PUBLISHER): it must be the hospital that published this exact model file",
  ModelIsDeprecated: "ask the hospital for the model's newer version and use that file",
  ModelPublisherRevoked: "the hospital is no longer registered: use a model of a registered hospital",
  NoConsent: "grant the hospital consent first: npm run client -- consent grant <hospital> --results",
  ConsentDoesNotCoverResults: "grant consent that covers results: npm run client -- consent grant <hospital> --results",
  NotAHospital: "check the hospital address: it must be a hospital registered on this deployment",
  UnknownHospital: "check the hospital address: it must be a hospital registered on this deployment",
  ConsentExpiryInPast: "choose an expiry in the future (--days or --until)",
  UnknownJob: "check the job id (npm run audit lists this deployment's jobs)",
  JobNotFinalized: "wait until the job is finalized, then share it",
  NotJobPatient: "only the patient of a job can share it: use that patient's PMHE_PATIENT_KEY",
  UnknownRecord: "check the record hash: it must be one you anchored with this wallet",
  RecordIsErased: "the record is erased; encrypt and submit the reading again",
  RecordAlreadyAnchored: "run the command again: a new encryption gives a new record",
};

/** The line saying what to do next, for an error whose message does not already say it. */
export function nextStep(err: unknown, settings: { rpcUrl?: string; apiUrl?: string } = {}): string | undefined {
  if (err instanceof NetworkError) {
    const chain = (settings.rpcUrl !== undefined && err.url === settings.rpcUrl) || err.message.includes("JSON-RPC");
    if (chain) return "start the chain, or point PMHE_RPC_URL at a running one";
    return "start the coprocessor (npm run coprocessor), or point PMHE_API_URL at a running one";
  }
  if (err instanceof DeploymentError) return "set PMHE_CONTRACT_ADDRESS to the address PMHE was deployed at, on the chain of PMHE_RPC_URL";
  if (err instanceof ContractCallError) return CONTRACT_HINTS[err.errorName] ?? "fix what the contract names, then run the command again";
  if (err instanceof BlobStoreError) {
    if (err.code === "not_registered" || err.code === "key_bundle_not_current") return "register this key set first: npm run client -- register";
    if (err.code === "quota_exceeded" || err.code === "store_full" || err.code === "busy" || err.code === "rate_limited") return "try again later";
    return "the blob store refused the upload; check that PMHE_API_URL is this deployment's coprocessor";
  }
  if (err instanceof SettingsError) return "set them in the environment or in .env (see .env.example)";
  if (err instanceof ModelFormatError || err instanceof ReadingError) return "check the model and reading files";
  if (err instanceof FheError) return "check that the key directory holds the key set made by keygen";
  if (err instanceof ShareError) return "ask the patient to share the result again";
  if (err instanceof KeystoreError) {
    return err.message.includes("refusing to overwrite")
      ? "pass --force to replace it (the old secret key is then lost), or choose another --keys directory"
      : "create a key set for this wallet: npm run client -- keygen, then npm run client -- register";
  }
  if (err instanceof KeyOwnerMismatchError) return "use the --keys directory made for this wallet, or run keygen for it";
  if (err instanceof ModelMismatchError) return "use the exact model file the hospital published, or the model id of this file";
  if (err instanceof DisputedResultError) return `ask the operators or an auditor (npm run audit -- --job ${err.jobId}); --accept-disputed shows it marked DISPUTED`;
  if (err instanceof PredictionTimeoutError) return `wait longer (--timeout), or look the job up: npm run audit -- --job ${err.jobId}`;
  if (err instanceof PredictionExpiredError || err instanceof PredictionFailedError) return "request the prediction again (npm run client -- predict ...)";
  if (err instanceof ResultVerificationError) return "do not trust this result; report it to the coprocessor operators and request the prediction again";
  if (err instanceof ShareRefusedError) return "share a finalized one-reading prediction (the job id predict printed)";
  return "run the command again; if it keeps failing, check PMHE_RPC_URL and PMHE_API_URL";
}

/**
 * The error line: the message of the error, with chain failures that ethers reports without an address (a node that
 * went away mid-command) turned into one naming PMHE_RPC_URL.
 */
export function errorMessage(err: unknown, settings: { rpcUrl?: string } = {}): { message: string; asNetwork?: NetworkError } {
  if (!(err instanceof Error)) return { message: String(err) };
  const reason = networkReason(err);
  const knownTypes = [NetworkError, ContractCallError, DeploymentError, BlobStoreError];
  if (settings.rpcUrl && !knownTypes.some((type) => err instanceof type) && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)$/.test(reason)) {
    const asNetwork = new NetworkError(settings.rpcUrl, "the chain's JSON-RPC endpoint", reason, { cause: err });
    return { message: asNetwork.message, asNetwork };
  }
  return { message: err.message };
}
