import type { AppConfig } from "../../protocol/app-config.js";
import type { TestAccount } from "./start-settings.js";

/** What `npm start` brought up, as printed when it is ready (and as `--json` prints it). */
export interface StartSummary {
  appUrl: string;
  /** Why the app is a placeholder page, when it is. */
  appPlaceholder?: string;
  configUrl: string;
  chainId: number;
  rpcUrl: string;
  contractAddress: string;
  deploymentBlock: number;
  apiUrl: string;
  /** The API as the app reaches it (through the web server). */
  appApiUrl: string;
  operatorUrl: string;
  redisUrl: string;
  quorum: number;
  hospital: { name: string; shareKey: string };
  models: AppConfig["models"];
  accounts: { admin: TestAccount; hospital: TestAccount; operator: TestAccount; patients: TestAccount[] };
}

export const DEVELOPMENT_WARNING =
  "Development only: quorum 1, so the single operator decides every result and could forge it; and every key above is public.";

export const PUBLIC_KEYS_WARNING =
  "These are Hardhat's public test accounts (mnemonic \"test test ... junk\"): anyone can sign as them. Never send them real funds or use them on a public network.";

export function summaryLines(s: StartSummary): string[] {
  const account = (role: string, a: TestAccount, note = "") => `  ${role.padEnd(9)}#${a.index}  ${a.address}  private key ${a.privateKey}${note}`;
  return [
    "",
    "PMHE is running (local development product).",
    "",
    `  App        ${s.appUrl}${s.appPlaceholder ? `   (placeholder page: ${s.appPlaceholder})` : ""}`,
    `  Chain      ${s.rpcUrl}   chain id ${s.chainId} (0x${s.chainId.toString(16)}), currency ETH: add it to your wallet as a network`,
    `  Contract   ${s.contractAddress}   (deployed in block ${s.deploymentBlock}, through ignition/modules/PMHE.ts)`,
    `  API        ${s.apiUrl}   (the app uses ${s.appApiUrl})`,
    `  Operator   ${s.operatorUrl}/metrics, /readyz`,
    `  Config     ${s.configUrl}`,
    "",
    `Models, published by ${s.hospital.name} (${s.accounts.hospital.address}):`,
    ...(s.models.length ? s.models.map((m) => `  ${`${m.name} v${m.version}`.padEnd(28)} model id ${m.id}`) : ["  none (no model files under models/)"]),
    "",
    "Test accounts: import a patient's key into your wallet.",
    ...s.accounts.patients.map((p) => account("patient", p)),
    account("hospital", s.accounts.hospital, "  (registered; its share key is derived from this key: npm run hospital -- keygen --from-wallet)"),
    account("operator", s.accounts.operator, "  (the coprocessor's account: COPROCESSOR_ROLE)"),
    account("admin", s.accounts.admin, "  (governance: DEFAULT_ADMIN_ROLE)"),
    `WARNING: ${PUBLIC_KEYS_WARNING}`,
    `WARNING: ${DEVELOPMENT_WARNING}`,
    "",
    "Command line against this product (the defaults of .env.example match the default ports):",
    `  export PMHE_RPC_URL=${s.rpcUrl} PMHE_API_URL=${s.apiUrl} PMHE_CONTRACT_ADDRESS=${s.contractAddress}`,
    `  npm run admin -- status`,
    "",
    "Ctrl-C stops everything.",
  ];
}
