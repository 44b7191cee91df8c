import { HardhatArtifactResolver, errorDeploymentResultToExceptionMessage } from "@nomicfoundation/hardhat-ignition/helpers";
import { deploy, DeploymentResultType, type ExecutionEventListener } from "@nomicfoundation/ignition-core";
import { JsonRpcProvider, NonceManager, type Signer } from "ethers";
import { buildPmheModule } from "../ignition/modules/PMHE.js";
import { DEFAULT_JOB_TIMEOUT_SECONDS, ignitionParameters, parsePmheParameters, PMHE_MODULE_ID } from "../ignition/pmhe-parameters.js";
import { connectPmhe, type PmheContract } from "../protocol/chain.js";
import type { Hash } from "../protocol/hash.js";

export interface Deployment {
  contract: PmheContract;
  address: string;
  blockNumber: number;
}

/** A hospital to register at deployment: its account, its X25519 share key, and the name patients see. */
export interface HospitalRegistration {
  address: string;
  encryptionKey: Hash;
  name: string;
}

export interface DeploymentSettings {
  hospitals: HospitalRegistration[];
  coprocessors: string[];
  /** Agreeing operator votes that settle a job. 1 lets one operator decide (and forge) results: development only. */
  quorum?: number;
  /** Seconds from request to deadline. */
  jobTimeout?: number;
  /** The chain's JSON-RPC URL (default: the URL of `admin`'s provider). */
  rpcUrl?: string;
}

/** Local default: one operator, so one vote decides. Never use a quorum of 1 where results matter. */
export const LOCAL_QUORUM = 1;
export { DEFAULT_JOB_TIMEOUT_SECONDS };

/** How often Ignition looks for a new block on a local node; its default (1 s) is made for public chains. */
const LOCAL_BLOCK_POLLING_MS = 20;

function rpcUrlOf(signer: Signer): string {
  const provider = signer.provider;
  if (provider instanceof JsonRpcProvider) return provider._getConnection().url;
  throw new Error("deployPmhe needs the chain's URL: give settings.rpcUrl, or an admin signer on a JsonRpcProvider");
}

/** An execution-event listener that only notes the hash of each transaction Ignition sends, by future id. */
function transactionRecorder(): { listener: ExecutionEventListener; hashes: Map<string, string> } {
  const hashes = new Map<string, string>();
  const listener = new Proxy({} as ExecutionEventListener, {
    get: (_target, name) =>
      name === "transactionSend"
        ? async (event: { futureId: string; hash: string }) => void hashes.set(event.futureId, event.hash)
        : async () => undefined,
  });
  return { listener, hashes };
}

/**
 * Deploys PMHE through the Ignition module (`ignition/modules/PMHE.ts`, the same one a testnet deployment uses) on
 * the external JSON-RPC node `admin` is connected to (a `hardhat node`): `admin` as governance, the quorum (default
 * LOCAL_QUORUM) and job timeout, COPROCESSOR_ROLE granted to each coprocessor and each hospital registered, all sent
 * from `admin`, which must be one of the node's unlocked accounts. Hardhat's network manager connects to the node's
 * URL at run time (the `localhost` network, its URL overridden); Ignition runs in memory (no journal under
 * ignition/deployments: every local chain is new), with a short block-polling interval.
 */
export async function deployPmhe(admin: Signer, settings: DeploymentSettings): Promise<Deployment> {
  const adminAddress = await admin.getAddress();
  const quorum = settings.quorum ?? LOCAL_QUORUM;
  const parameters = parsePmheParameters({
    admin: adminAddress,
    quorum,
    jobTimeout: settings.jobTimeout ?? DEFAULT_JOB_TIMEOUT_SECONDS,
    coprocessors: settings.coprocessors,
    hospitals: settings.hospitals,
  });
  const url = settings.rpcUrl ?? rpcUrlOf(admin);
  const hre = await import("hardhat");
  const connection = await hre.network.create({ network: "localhost", override: { url } });
  try {
    const accounts = (await connection.provider.request({ method: "eth_accounts" })) as string[];
    if (!accounts.some((a) => a.toLowerCase() === adminAddress.toLowerCase())) {
      throw new Error(`the node at ${url} cannot send from ${adminAddress} (not one of its unlocked accounts); deploy from one of them`);
    }
    const { listener, hashes } = transactionRecorder();
    const result = await deploy({
      config: { blockPollingInterval: LOCAL_BLOCK_POLLING_MS },
      provider: connection.provider,
      artifactResolver: new HardhatArtifactResolver(hre.artifacts),
      executionEventListener: listener,
      deploymentDir: undefined,
      ignitionModule: buildPmheModule({ admin: adminAddress, coprocessors: parameters.coprocessors, hospitals: parameters.hospitals }),
      deploymentParameters: ignitionParameters(parameters),
      accounts,
      defaultSender: adminAddress,
    });
    if (result.type !== DeploymentResultType.SUCCESSFUL_DEPLOYMENT) {
      throw new Error(`PMHE deployment through Ignition failed: ${errorDeploymentResultToExceptionMessage(result)}`);
    }
    const futureId = `${PMHE_MODULE_ID}#PMHE`;
    const address = result.contracts[futureId]!.address;
    const provider = admin.provider!;
    const receipt = await provider.getTransactionReceipt(hashes.get(futureId)!);
    // Ignition sent from `admin`'s account behind its back: a NonceManager must ask the node again.
    if (admin instanceof NonceManager) admin.reset();
    return { contract: connectPmhe(address, admin), address, blockNumber: receipt!.blockNumber };
  } finally {
    await connection.close();
  }
}
