import { id, Interface, type ErrorDescription } from "ethers";
import { PMHE__factory } from "../types/ethers-contracts/factories/PMHE__factory.js";

/**
 * The one decoder of the PMHE contract's custom errors, for every side (CLI, coprocessor, web app, tests): the
 * error's name, its arguments by name, and a sentence a person can act on. ethers leaves custom errors undecoded
 * when they surface during gas estimation, so revert data is searched along the error's causes.
 */

const pmheInterface = new Interface(PMHE__factory.abi);

type Args = Record<string, string>;

/** What each error means, in words, with its arguments. Keys are the contract's error names. */
const SENTENCES: Record<string, (a: Args) => string> = {
  AccessControlUnauthorizedAccount: (a) => `account ${a.account} lacks the role this call needs (${roleName(a.neededRole!)})`,
  AccessControlBadConfirmation: () => "a role can only be renounced by its holder, who must confirm their own address",
  AlreadyVoted: (a) => `coprocessor ${a.coprocessor} has already voted on job ${a.jobId}`,
  BatchAlreadyAnchored: (a) => `you have already anchored batch ${a.root}`,
  CommitBatchLengthMismatch: (a) => `a batch vote lists ${a.jobIds} job ids but ${a.values} values`,
  CommitBatchTooLarge: (a) => `a batch vote of ${a.size} entries exceeds the limit of ${a.max}`,
  ConsentDoesNotCoverResults: (a) => `patient ${a.patient} has no active consent allowing hospital ${a.hospital} to receive results`,
  ConsentExpiryInPast: (a) => `a consent must expire in the future, not at ${isoTime(a.expiresAt!)}`,
  EmptyCommitBatch: () => "a batch vote needs at least one entry",
  InvalidBatchSize: (a) => `a batch holds 1 to 16,777,215 records, not ${a.count}`,
  InvalidFailureReason: () => "failure reason 0 means no failure; report a reason from 1 up",
  InvalidJobTimeout: (a) => `a job timeout must be 1 s to 365 days, not ${a.timeout} s`,
  InvalidProof: (a) => `the Merkle proof does not show record ${a.recordHash} in batch ${a.root}`,
  InvalidQuorum: () => "a quorum must be at least 1",
  JobNotExpirable: (a) => `job ${a.jobId} can only be expired after its deadline, ${isoTime(a.deadline!)}`,
  JobNotFinalized: (a) => `job ${a.jobId} has no final result yet`,
  JobNotPending: (a) => `job ${a.jobId} is ${JOB_STATUS_NAMES[Number(a.status)] ?? `in status ${a.status}`} and takes no more votes`,
  KeyBundleUnchanged: (a) => `key bundle ${a.keyBundleHash} is already your current one`,
  ModelAlreadyPublished: (a) => `you have already published this model (id ${a.modelId})`,
  ModelIsDeprecated: (a) => `model ${a.modelId} is deprecated; use a newer version`,
  ModelPublisherRevoked: (a) => `model ${a.modelId} takes no new jobs: its publisher ${a.publisher} is no longer a registered hospital`,
  ModelVersionNotNext: (a) => `the next version of model "${a.name}" must be ${a.expected}, not ${a.given}`,
  NoConsent: (a) => `patient ${a.patient} has no active consent for hospital ${a.hospital}`,
  NotAHospital: (a) => `${a.account} is not a registered hospital`,
  NotAuthorizedRequester: (a) =>
    `${a.caller} may not request predictions on ${a.recordHash} of patient ${a.patient}: only the patient, or a hospital with the patient's active consent, may`,
  NotJobPatient: (a) => `${a.caller} is not the patient of job ${a.jobId}`,
  NotModelPublisher: (a) => `${a.caller} did not publish model ${a.modelId}`,
  PatientNotRegistered: (a) => `${a.patient} has not registered keys yet; run register first`,
  RecordAlreadyAnchored: (a) => `you have already anchored record ${a.recordHash}`,
  RecordIsErased: (a) => `record ${a.recordHash} has been erased and can no longer be used`,
  ReservedResultHash: (a) => `result hash ${a.resultHash} falls in the range reserved for failure codes`,
  TooManyOperators: (a) => `${a.account} cannot become a coprocessor: every operator slot has been used`,
  UnknownBatch: (a) => `patient ${a.patient} has no batch ${a.root}`,
  UnknownHospital: (a) => `${a.hospital} has no registered encryption key`,
  UnknownJob: (a) => `there is no job ${a.jobId} on this contract`,
  UnknownKeyVersion: (a) => `patient ${a.patient} has no key version ${a.keyVersion}`,
  UnknownModel: (a) => `there is no model ${a.modelId} on this contract; check the model id and publisher`,
  UnknownRecord: (a) => `patient ${a.patient} has not anchored record ${a.recordHash}`,
  VotingClosed: (a) => `job ${a.jobId} passed its deadline (${isoTime(a.deadline!)}) and takes no more votes`,
  ZeroAddress: () => "the zero address is not allowed here",
  ZeroHash: () => "a zero hash is not allowed here",
  ZeroKey: () => "an encryption key of 32 zero bytes is not allowed",
};

export const JOB_STATUS_NAMES = ["None", "Requested", "Finalized", "Failed", "Expired"] as const;

/** Role ids are keccak256 of the role's name (the contract's public constants). */
const ROLE_NAMES: Record<string, string> = {
  ["0x" + "0".repeat(64)]: "DEFAULT_ADMIN_ROLE",
  [id("HOSPITAL_ROLE")]: "HOSPITAL_ROLE",
  [id("COPROCESSOR_ROLE")]: "COPROCESSOR_ROLE",
};

function roleName(roleId: string): string {
  return ROLE_NAMES[roleId.toLowerCase()] ?? roleId;
}

function isoTime(seconds: string): string {
  const value = Number(seconds);
  return Number.isFinite(value) && value < 8.64e12 ? new Date(value * 1000).toISOString() : `${seconds} (unix seconds)`;
}

export interface DecodedContractError {
  /** The contract's error name, e.g. "NotAuthorizedRequester". */
  name: string;
  /** Arguments by their Solidity names, as strings (addresses checksummed, numbers in decimal). */
  args: Args;
  /** A sentence saying what went wrong, for a person. */
  sentence: string;
}

function fromDescription(description: ErrorDescription): DecodedContractError {
  const args: Args = {};
  description.fragment.inputs.forEach((input, i) => (args[input.name] = String(description.args[i])));
  const sentence = SENTENCES[description.name]?.(args) ?? `the contract refused the call (${description.name})`;
  return { name: description.name, args, sentence };
}

/** Decodes raw revert data (0x + selector + arguments) of the PMHE contract; undefined for anything else. */
export function decodeRevertData(data: string): DecodedContractError | undefined {
  if (typeof data !== "string" || !/^0x[0-9a-fA-F]{8}/.test(data)) return undefined;
  try {
    const description = pmheInterface.parseError(data);
    return description ? fromDescription(description) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The PMHE custom error an ethers error (or any error wrapping one) carries, searched along `error`, `cause`,
 * `info.error` and `revert`; undefined if it carries none.
 */
export function decodeContractError(err: unknown): DecodedContractError | undefined {
  const seen = new Set<unknown>();
  const pending: unknown[] = [err];
  while (pending.length > 0) {
    const e = pending.shift();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const record = e as { data?: unknown; revert?: { name?: unknown; args?: unknown }; error?: unknown; cause?: unknown; info?: { error?: unknown } };
    if (typeof record.data === "string") {
      const decoded = decodeRevertData(record.data);
      if (decoded) return decoded;
    }
    if (record.data && typeof record.data === "object") pending.push(record.data);
    pending.push(record.error, record.cause, record.info?.error);
  }
  return undefined;
}

/** A refused contract call, named: `message` is "<ErrorName>: <sentence>". */
export class ContractCallError extends Error {
  readonly errorName: string;
  readonly args: Args;
  constructor(decoded: DecodedContractError, readonly action: string, options?: { cause?: unknown }) {
    super(`${action} refused by the contract: ${decoded.name}: ${decoded.sentence}`, options);
    this.name = "ContractCallError";
    this.errorName = decoded.name;
    this.args = decoded.args;
  }
}

/**
 * Runs a contract call and turns a revert with a PMHE custom error into a ContractCallError that names it;
 * anything else is rethrown as is. `action` says what was attempted, e.g. "requestPrediction".
 */
export async function namedContractCall<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const decoded = decodeContractError(err);
    if (decoded) throw new ContractCallError(decoded, action, { cause: err });
    throw err;
  }
}
