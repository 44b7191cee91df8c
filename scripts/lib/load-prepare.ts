import { readFile } from "node:fs/promises";
import { NonceManager, parseEther, Wallet, type BaseWallet, type Provider } from "ethers";
import { PatientClient } from "../../client/patient-client.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import type { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Hash } from "../../protocol/hash.js";
import type { Model, Reading } from "../../protocol/model.js";
import type { LoadStack } from "./load-stack.js";

/** Every load patient gets this much from the admin account: far more gas than a thousand requests cost. */
const PATIENT_FUNDING = parseEther("10");

export interface LoadPatient {
  client: PatientClient;
  /** The patient's wallet under a NonceManager, for the preparation's transactions. */
  signer: NonceManager;
  /** The wallet itself: the timed phase numbers its requests on its own, from the chain's count. */
  wallet: BaseWallet;
  address: string;
}

/** One job of the load: whose it is, the CSV rows its record holds, and (once prepared) the uploaded record. */
export interface PlannedJob {
  index: number;
  patient: number;
  rows: number[];
}

/** A job whose record is encrypted and in the blob store, not yet anchored: its request (anchorAndRequest) does that. */
export interface PreparedJob extends PlannedJob {
  recordHash: Hash;
}

/** Every row of the CSV as a patient's readings (the target column left out, as a patient would not know it). */
export async function loadReadings(dataPath: string, model: Model): Promise<Reading[]> {
  const dataset = loadDataset(await readFile(dataPath, "utf8"), model.target.column);
  return dataset.rows.map((row) => readingFromRow(dataset.columns, row, [model.target.column]));
}

/** Jobs go to the patients in turn; records cycle over the CSV rows, so every row is used before any repeats. */
export function planJobs(jobs: number, patients: number, recordsPerJob: number, rowCount: number): PlannedJob[] {
  return Array.from({ length: jobs }, (_, index) => ({
    index,
    patient: index % patients,
    rows: Array.from({ length: recordsPerJob }, (_, k) => (index * recordsPerJob + k) % rowCount),
  }));
}

/**
 * `count` funded patients, each with a CKKS key set of its own whose bundle is uploaded through the coprocessor's
 * API and registered on-chain. Dispose every client when done.
 */
export async function createPatients(stack: LoadStack, engine: CkksEngine, provider: Provider, count: number): Promise<LoadPatient[]> {
  // Key generation blocks the event loop (~80 ms a set at N=8192): done first, before any connection is in use.
  const wallets = Array.from({ length: count }, () => Wallet.createRandom(provider));
  const keySets = wallets.map((wallet) => engine.generateKeySet({ patient: wallet.address }));
  // One funder: its transfers go one after the other, as a single account's nonces must.
  for (const wallet of wallets) await (await stack.admin.sendTransaction({ to: wallet.address, value: PATIENT_FUNDING })).wait();
  const patients = wallets.map((wallet, i) => {
    const signer = new NonceManager(wallet);
    const client = new PatientClient({ engine, signer, contractAddress: stack.contractAddress, blobs: stack.blobs, keys: keySets[i]!, pollIntervalMs: 100 });
    return { client, signer, wallet, address: wallet.address };
  });
  try {
    await Promise.all(patients.map((p) => p.client.register()));
  } catch (err) {
    patients.forEach((p) => p.client.dispose());
    throw err;
  }
  return patients;
}

/**
 * Encrypts and uploads every job's record, without anchoring it: a patient's prediction is one transaction
 * (anchorAndRequest), and that transaction is what the timed phase sends. Each patient works through its own jobs
 * in order; the patients run side by side.
 */
export async function prepareRecords(
  patients: readonly LoadPatient[],
  model: Model,
  readings: readonly Reading[],
  plan: readonly PlannedJob[],
  onRecord: () => void = () => undefined,
): Promise<PreparedJob[]> {
  const prepared: PreparedJob[] = new Array(plan.length);
  await Promise.all(
    patients.map(async ({ client }, p) => {
      for (const job of plan.filter((j) => j.patient === p)) {
        // One reading makes a single-record record, several a packed one (the layout the engine picks for the count).
        const { recordHash } = await client.uploadReadings(model, job.rows.map((row) => readings[row]!));
        prepared[job.index] = { ...job, recordHash };
        onRecord();
      }
    }),
  );
  return prepared;
}
