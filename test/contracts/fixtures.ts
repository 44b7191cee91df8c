/**
 * Shared constants, helpers and fixtures of the contract tests (test/contracts/*.test.ts).
 *
 * One network connection serves every contract test file, so `loadFixture` snapshots are shared: a fixture is
 * deployed once per run and each test starts from its snapshot. Formulas the contract implements (job ids, model
 * ids, Merkle leaves) are re-derived here from the NatSpec, not read from the contract, so a test comparing the
 * two can fail.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse, LogDescription } from "ethers";
import { network } from "hardhat";

import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree } from "../../protocol/merkle.js";

export const { ethers, networkHelpers } = await network.create();
export const { loadFixture, time } = networkHelpers;

/** Mirrors `IPredictionJobs.JobStatus`. */
export const JobStatus = { None: 0n, Requested: 1n, Finalized: 2n, Failed: 3n, Expired: 4n } as const;
/** Mirrors `IPredictionJobs.VoteSkipReason`, as documented for {VoteSkipped}. */
export const Skip = { AlreadyVoted: 1n, JobNotPending: 2n, VotingClosed: 3n } as const;

export const HOSPITAL_ROLE = ethers.id("HOSPITAL_ROLE");
export const COPROCESSOR_ROLE = ethers.id("COPROCESSOR_ROLE");
export const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

/** The quorum and job timeout the fixtures deploy with. */
export const DEFAULT_QUORUM = 1n;
export const DEFAULT_TIMEOUT = 3600n;
export const MAX_JOB_TIMEOUT = 365n * 24n * 3600n;
export const MAX_BATCH_SIZE = 2n ** 24n - 1n;
export const MAX_COMMIT_BATCH = 32;
export const MAX_OPERATORS = 255;
export const DAY = 24 * 3600;

/** Deterministic, distinct, non-zero test hashes. */
export const h = (label: string): Hash => ethers.id(label) as Hash;
export const KEYS_1 = h("key-bundle-1");
export const KEYS_2 = h("key-bundle-2");
export const KEYS_3 = h("key-bundle-3");
export const KEYS_LOC_1 = "blob://key-bundle-1";
export const KEYS_LOC_2 = "blob://key-bundle-2";
/** X25519 public keys of the hospitals (any 32 non-zero bytes for the contract). */
export const HOSPITAL_KEY_1 = h("hospital-x25519-1");
export const HOSPITAL_KEY_2 = h("hospital-x25519-2");
export const HOSPITAL_NAME_1 = "Saint Mary's Hospital";
export const HOSPITAL_NAME_2 = "General Hospital";
export const RECORD_1 = h("record-1");
export const RECORD_2 = h("record-2");
/** Model content hashes; a model's id is {@link modelId}(publisher, content hash). */
export const MODEL_HASH_1 = h("model-1");
export const MODEL_HASH_2 = h("model-2");
export const MODEL_HASH_3 = h("model-3");
export const MODEL_NAME = "heart-risk";
export const MODEL_LOC_1 = "blob://model-1";
export const MODEL_LOC_2 = "blob://model-2";
export const RESULT_1 = h("result-1");
export const RESULT_2 = h("result-2");
export const RESULT_3 = h("result-3");
export const SHARED_1 = h("shared-1");
export const SHARED_2 = h("shared-2");
export const SHARED_LOC = "blob://shared-1";
export const BATCH_RECORDS = [h("batch-record-a"), h("batch-record-b"), h("batch-record-c")] as [Hash, Hash, Hash];

/** A failure vote's value, as the contract records it: bytes32(uint256(reason)). */
export const failureVote = (reason: number): string => ethers.toBeHex(reason, 32);

/** A result hash per label. */
export const result = (label: string | number): Hash => h(`result-${label}`);

/** Flips the lowest bit of a hash. */
export const flip = (value: string): Hash => {
  const bytes = ethers.getBytes(value);
  bytes[31] = bytes[31]! ^ 1;
  return ethers.hexlify(bytes) as Hash;
};

export const lower = (value: string): string => value.toLowerCase();

/** A model id: keccak256(abi.encode(publisher, modelHash)), written from the NatSpec. */
export const modelId = (publisher: string, modelHash: string): Hash =>
  ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [publisher, modelHash])) as Hash;

/** The job id formula keccak256(abi.encode(chainid, contract, patient, nonce)), written from the NatSpec. */
export async function expectedJobId(contract: string, patient: string, nonce: bigint): Promise<Hash> {
  const { chainId } = await ethers.provider.getNetwork();
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "address", "address", "uint64"], [chainId, contract, patient, nonce]),
  ) as Hash;
}

/** Sets the timestamp of the next block and returns it, so stored timestamps can be checked exactly. */
export async function nextTimestamp(): Promise<number> {
  const t = (await time.latest()) + 1_000;
  await time.setNextBlockTimestamp(t);
  return t;
}

export type Signer = HardhatEthersSigner;

/** Deploys PMHE(admin, quorum 1, 3600 s) with two registered hospitals and one coprocessor. */
export async function deployFixture() {
  const signers = await ethers.getSigners();
  const at = (i: number): Signer => {
    const signer = signers[i];
    if (!signer) throw new Error("not enough signers");
    return signer;
  };
  const [admin, hospital, otherHospital, coprocessor, coprocessor2, coprocessor3, patient, otherPatient, stranger] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ].map(at) as [Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer];
  const pmhe = await ethers.deployContract("PMHE", [admin.address, DEFAULT_QUORUM, DEFAULT_TIMEOUT]);
  await pmhe.connect(admin).registerHospital(hospital.address, HOSPITAL_KEY_1, HOSPITAL_NAME_1);
  await pmhe.connect(admin).registerHospital(otherHospital.address, HOSPITAL_KEY_2, HOSPITAL_NAME_2);
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor.address);
  const address = await pmhe.getAddress();
  return {
    pmhe,
    address,
    admin,
    hospital,
    otherHospital,
    coprocessor,
    coprocessor2,
    coprocessor3,
    patient,
    otherPatient,
    stranger,
  };
}

export type Pmhe = Awaited<ReturnType<typeof deployFixture>>["pmhe"];

/**
 * `patient` and `otherPatient` registered (KEYS_1), RECORD_1 anchored by `patient`, MODEL_HASH_1 published by
 * `hospital` as version 1 of MODEL_NAME, with id `model1`.
 */
export async function recordAndModelFixture() {
  const f = await deployFixture();
  const { pmhe, hospital, patient, otherPatient } = f;
  await pmhe.connect(patient).registerKeys(KEYS_1, KEYS_LOC_1);
  await pmhe.connect(otherPatient).registerKeys(KEYS_1, KEYS_LOC_1);
  await pmhe.connect(patient).anchorRecord(RECORD_1);
  await pmhe.connect(hospital).publishModel(MODEL_HASH_1, MODEL_NAME, 1, MODEL_LOC_1);
  return { ...f, model1: modelId(hospital.address, MODEL_HASH_1) };
}

/** As {@link recordAndModelFixture}, plus one pending job of `patient` on RECORD_1 / model1. */
export async function pendingJobFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, patient, model1 } = f;
  const jobId = (await pmhe.nextJobId(patient.address)) as Hash;
  const requestedAt = await nextTimestamp();
  await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
  return { ...f, jobId, requestedAt, deadline: BigInt(requestedAt) + DEFAULT_TIMEOUT };
}

/** As {@link recordAndModelFixture}, plus a 30-day consent of `patient` for `hospital`, covering results. */
export async function consentFixture() {
  const f = await recordAndModelFixture();
  const expiresAt = BigInt((await time.latest()) + 30 * DAY);
  await f.pmhe.connect(f.patient).grantConsent(f.hospital.address, expiresAt, true);
  return { ...f, expiresAt };
}

/** As {@link pendingJobFixture}, finalized with RESULT_1, with a 30-day consent of `patient` for `hospital`. */
export async function finalizedJobFixture() {
  const f = await pendingJobFixture();
  await f.pmhe.connect(f.coprocessor).commitResult(f.jobId, RESULT_1);
  const expiresAt = BigInt((await time.latest()) + 30 * DAY);
  await f.pmhe.connect(f.patient).grantConsent(f.hospital.address, expiresAt, true);
  return { ...f, expiresAt };
}

/** Quorum 2, three coprocessors, one pending job of `patient` on RECORD_1 / model1 requested under it. */
export async function quorumFixture() {
  const f = await recordAndModelFixture();
  const { pmhe, admin, patient, coprocessor2, coprocessor3, model1 } = f;
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor2.address);
  await pmhe.connect(admin).grantRole(COPROCESSOR_ROLE, coprocessor3.address);
  await pmhe.connect(admin).setQuorum(2);
  const jobId = (await pmhe.nextJobId(patient.address)) as Hash;
  await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model1);
  const { deadline } = await pmhe.jobOf(jobId);
  return { ...f, jobId, deadline };
}

/** As {@link recordAndModelFixture}, plus a batch of BATCH_RECORDS anchored by `patient` under KEYS_1. */
export async function batchFixture() {
  const f = await recordAndModelFixture();
  const tree = buildRecordTree(BATCH_RECORDS);
  const anchoredAt = await nextTimestamp();
  await f.pmhe.connect(f.patient).anchorBatch(tree.root, tree.count);
  return { ...f, tree, anchoredAt };
}

/** Requests `n` jobs of `patient` on RECORD_1 / `model` and returns their ids. */
export async function requestJobs(pmhe: Pmhe, patient: Signer, model: string, n: number): Promise<Hash[]> {
  const ids: Hash[] = [];
  for (let i = 0; i < n; i++) {
    ids.push((await pmhe.nextJobId(patient.address)) as Hash);
    await pmhe.connect(patient).requestPrediction(patient.address, RECORD_1, model);
  }
  return ids;
}

/** The contract's events in a transaction, in order, as `[name, ...args]` with addresses and hashes lower-cased. */
export async function eventsOf(
  pmhe: Pmhe,
  tx: Promise<ContractTransactionResponse> | ContractTransactionResponse,
): Promise<unknown[][]> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.logs
    .map((log) => pmhe.interface.parseLog(log))
    .filter((parsed): parsed is LogDescription => parsed !== null)
    .map((parsed) => [
      parsed.name,
      ...parsed.args.toArray().map((v: unknown) => (typeof v === "string" ? v.toLowerCase() : v)),
    ]);
}

/** The gas a transaction used. */
export async function gasOf(tx: Promise<ContractTransactionResponse> | ContractTransactionResponse): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}
