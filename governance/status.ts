import { id, ZeroHash, type EventLog, type Log } from "ethers";
import type { PmheContract } from "../protocol/chain.js";

/**
 * Governance as the chain tells it: the settings (quorum, job timeout), and who holds which role, rebuilt from the
 * contract's events (RoleGranted / RoleRevoked, HospitalRegistered / HospitalKeyUpdated, ModelPublished /
 * ModelDeprecated) and checked against its current state (`hasRole`, `hospitalKeyOf`, `modelOf`).
 */

export const DEFAULT_ADMIN_ROLE = ZeroHash;
export const HOSPITAL_ROLE = id("HOSPITAL_ROLE");
export const COPROCESSOR_ROLE = id("COPROCESSOR_ROLE");

export interface OperatorStatus {
  address: string;
  /** Holds COPROCESSOR_ROLE now: its votes count. */
  inOffice: boolean;
  /** Block of the latest grant. */
  grantedAt: number;
  /** Block of the latest revocation, if revoked since the latest grant. */
  revokedAt?: number;
}

export interface HospitalStatus {
  address: string;
  /** The name of its latest registration. */
  name: string;
  /** Holds HOSPITAL_ROLE now (it may publish, request under consent, receive shares). */
  registered: boolean;
  /** Its current X25519 share key (registration or its own later update). */
  encryptionKey: string;
  registeredAt: number;
  /** Models it has published, and how many of those are deprecated. */
  models: number;
  deprecatedModels: number;
}

export interface ModelStatus {
  id: string;
  publisher: string;
  hash: string;
  name: string;
  version: number;
  locator: string;
  deprecated: boolean;
  publishedAt: number;
}

export interface GovernanceStatus {
  contract: string;
  chainId: number;
  /** The block the state was read at. */
  block: number;
  quorum: number;
  jobTimeout: number;
  admins: string[];
  operators: OperatorStatus[];
  operatorsInOffice: number;
  hospitals: HospitalStatus[];
  models: ModelStatus[];
  /** Sentences about settings that weaken or block the service. */
  warnings: string[];
}

const order = (a: Log, b: Log) => a.blockNumber - b.blockNumber || a.index - b.index;

/** The accounts whose latest event for `role` is a grant, with the block of that grant (and of a later revocation). */
function roleHolders(granted: EventLog[], revoked: EventLog[]): Map<string, { grantedAt: number; revokedAt?: number }> {
  const holders = new Map<string, { grantedAt: number; revokedAt?: number }>();
  for (const log of [...granted, ...revoked].sort(order)) {
    const account = String(log.args.account);
    if (log.eventName === "RoleGranted") holders.set(account, { grantedAt: log.blockNumber });
    else {
      const known = holders.get(account);
      if (known) known.revokedAt = log.blockNumber;
    }
  }
  return holders;
}

/**
 * `atLeastBlock`: read no earlier than this block (the block of a transaction just sent: a provider may answer the
 * block number from a cache that predates it).
 */
export async function readGovernanceStatus(contract: PmheContract, options: { fromBlock?: number; atLeastBlock?: number } = {}): Promise<GovernanceStatus> {
  const provider = contract.runner?.provider;
  if (!provider) throw new Error("the contract needs a provider to read events");
  const block = Math.max(await provider.getBlockNumber(), options.atLeastBlock ?? 0);
  const from = options.fromBlock ?? 0;
  const f = contract.filters;
  const query = (filter: Parameters<PmheContract["queryFilter"]>[0]) => contract.queryFilter(filter, from, block) as Promise<EventLog[]>;
  const [
    adminGranted, adminRevoked, operatorGranted, operatorRevoked, hospitalRevoked,
    registered, keyUpdates, published, deprecated, quorum, jobTimeout, network,
  ] = await Promise.all([
    query(f.RoleGranted(DEFAULT_ADMIN_ROLE)),
    query(f.RoleRevoked(DEFAULT_ADMIN_ROLE)),
    query(f.RoleGranted(COPROCESSOR_ROLE)),
    query(f.RoleRevoked(COPROCESSOR_ROLE)),
    query(f.RoleRevoked(HOSPITAL_ROLE)),
    query(f.HospitalRegistered()),
    query(f.HospitalKeyUpdated()),
    query(f.ModelPublished()),
    query(f.ModelDeprecated()),
    contract.quorum({ blockTag: block }),
    contract.jobTimeout({ blockTag: block }),
    provider.getNetwork(),
  ]);

  const admins = [...roleHolders(adminGranted, adminRevoked).entries()].filter(([, h]) => h.revokedAt === undefined).map(([a]) => a);
  const operators: OperatorStatus[] = [...roleHolders(operatorGranted, operatorRevoked).entries()].map(([address, h]) => ({
    address,
    inOffice: h.revokedAt === undefined,
    grantedAt: h.grantedAt,
    ...(h.revokedAt !== undefined ? { revokedAt: h.revokedAt } : {}),
  }));

  const deprecatedIds = new Set(deprecated.map((log) => String(log.args.modelId).toLowerCase()));
  const models: ModelStatus[] = published.sort(order).map((log) => ({
    id: String(log.args.modelId).toLowerCase(),
    publisher: String(log.args.publisher),
    hash: String(log.args.modelHash).toLowerCase(),
    name: String(log.args.name),
    version: Number(log.args.version),
    locator: String(log.args.locator),
    deprecated: deprecatedIds.has(String(log.args.modelId).toLowerCase()),
    publishedAt: log.blockNumber,
  }));

  const hospitals = new Map<string, HospitalStatus>();
  const events = [...registered, ...keyUpdates, ...hospitalRevoked].sort(order);
  for (const log of events) {
    const address = String(log.eventName === "RoleRevoked" ? log.args.account : log.args.hospital);
    if (log.eventName === "HospitalRegistered") {
      hospitals.set(address, {
        address,
        name: String(log.args.name),
        registered: true,
        encryptionKey: String(log.args.encryptionKey).toLowerCase(),
        registeredAt: log.blockNumber,
        models: 0,
        deprecatedModels: 0,
      });
    } else if (log.eventName === "HospitalKeyUpdated") {
      const known = hospitals.get(address);
      if (known) known.encryptionKey = String(log.args.encryptionKey).toLowerCase();
    } else {
      const known = hospitals.get(address);
      if (known) known.registered = false;
    }
  }
  for (const model of models) {
    const hospital = hospitals.get(model.publisher);
    if (!hospital) continue;
    hospital.models += 1;
    if (model.deprecated) hospital.deprecatedModels += 1;
  }
  // The events say who; the state says whether, now (a grant outside the scanned range, say).
  await Promise.all([
    ...operators.map(async (o) => (o.inOffice = await contract.hasRole(COPROCESSOR_ROLE, o.address, { blockTag: block }))),
    ...[...hospitals.values()].map(async (h) => (h.registered = await contract.hasRole(HOSPITAL_ROLE, h.address, { blockTag: block }))),
  ]);

  const inOffice = operators.filter((o) => o.inOffice).length;
  const k = Number(quorum);
  const warnings: string[] = [];
  if (k === 1) warnings.push("quorum 1: a single operator decides every result and could forge it (development only; set a quorum of at least 2)");
  if (k > inOffice) warnings.push(`quorum ${k} but ${inOffice} operator${inOffice === 1 ? "" : "s"} in office: no job can be settled until more are granted COPROCESSOR_ROLE`);
  if (admins.length === 0) warnings.push("no account holds DEFAULT_ADMIN_ROLE: roles and settings can no longer be changed");

  return {
    contract: await contract.getAddress(),
    chainId: Number(network.chainId),
    block,
    quorum: k,
    jobTimeout: Number(jobTimeout),
    admins,
    operators,
    operatorsInOffice: inOffice,
    hospitals: [...hospitals.values()],
    models,
    warnings,
  };
}

/** "1 h", "30 min", "2 d 3 h": how a job timeout reads. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["min", 60], ["s", 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  return parts.join(" ") || "0 s";
}
