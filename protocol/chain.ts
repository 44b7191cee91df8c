import { AbiCoder, isError, keccak256, type ContractRunner, type Provider, type TransactionReceipt } from "ethers";
import { PMHE__factory } from "../types/ethers-contracts/factories/PMHE__factory.js";
import type { PMHE } from "../types/ethers-contracts/PMHE.js";
import { decodeContractError } from "./contract-errors.js";
import { EventDecoder } from "./event-decoder.js";
import type { Hash } from "./hash.js";

/**
 * The contract binding every side uses. ABI and bytecode come from the compiled contracts
 * (`hardhat build` generates the typed factory), so there is one definition and it cannot drift.
 */
export type PmheContract = PMHE;
export { PMHE__factory };

/** The contract's `JobStatus` enum. */
export const JobStatus = { None: 0, Requested: 1, Finalized: 2, Failed: 3, Expired: 4 } as const;
export type JobStatusCode = (typeof JobStatus)[keyof typeof JobStatus];

export function connectPmhe(address: string, runner: ContractRunner): PmheContract {
  return PMHE__factory.connect(address, runner);
}

/** The name of the PMHE custom error a failed call reverted with, if any (see contract-errors.ts). */
export function revertErrorName(err: unknown): string | undefined {
  return decodeContractError(err)?.name;
}

/**
 * A model's on-chain id: `keccak256(abi.encode(publisher, modelHash))`, as the contract's `computeModelId`. Each
 * hospital publishes in its own namespace, so the same model file published by two hospitals is two models.
 */
export function modelIdOf(publisher: string, modelHash: Hash): Hash {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [publisher, modelHash])) as Hash;
}

/** The job id from a receipt's PredictionRequested event (requestPrediction, anchorAndRequest, batch requests). */
export function jobIdFromReceipt(contract: PmheContract, receipt: TransactionReceipt): Hash {
  const events = EventDecoder.of(contract.interface);
  for (const log of receipt.logs) {
    const parsed = events.decode(log);
    if (parsed?.name === "PredictionRequested") return (parsed.args.jobId as string).toLowerCase() as Hash;
  }
  throw new Error(`transaction ${receipt.hash} emitted no PredictionRequested event`);
}

/** The configured contract is missing, is not PMHE, or is on another chain than expected. */
export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeploymentError";
  }
}

/** The wallet or endpoint is on another chain than the deployment's: nothing was signed or sent. */
export class WrongChainError extends DeploymentError {
  constructor(readonly expectedChainId: bigint, readonly actualChainId: bigint, where = "") {
    super(`the chain${where} has chain id ${actualChainId}, but ${expectedChainId} is configured; check the RPC URL, or switch the wallet to chain ${expectedChainId}`);
    this.name = "WrongChainError";
  }
}

/**
 * Checks, before anything is signed or sent, that `address` holds a PMHE contract on the chain `provider` reaches
 * (and, when given, that the chain is `expectedChainId`): a wrong address or chain otherwise shows up later as
 * transactions to an empty account that "succeed" and do nothing. `where` names the endpoint in messages.
 */
export async function checkDeployment(
  provider: Provider,
  address: string,
  options: { expectedChainId?: bigint | number; where?: string } = {},
): Promise<{ chainId: bigint }> {
  const where = options.where ? ` at ${options.where}` : "";
  const { chainId } = await provider.getNetwork();
  if (options.expectedChainId !== undefined && chainId !== BigInt(options.expectedChainId)) {
    throw new WrongChainError(BigInt(options.expectedChainId), chainId, where);
  }
  const code = await provider.getCode(address);
  if (code === "0x") {
    throw new DeploymentError(`there is no contract at ${address} on chain ${chainId}${where}; deploy PMHE there or fix the contract address`);
  }
  let batch: bigint;
  try {
    // A PMHE contract answers its own constant; another contract reverts or returns data that does not decode.
    batch = await connectPmhe(address, provider).MAX_COMMIT_BATCH();
  } catch (err) {
    // A network failure is not a verdict on the contract: let the caller retry it.
    if (!isError(err, "CALL_EXCEPTION") && !isError(err, "BAD_DATA")) throw err;
    batch = 0n;
  }
  if (batch <= 0n) throw new DeploymentError(`the contract at ${address} on chain ${chainId}${where} is not a PMHE deployment`);
  return { chainId };
}
