import { HDNodeWallet } from "ethers";
import { z } from "zod";
import { portInUse } from "../../local/child-process.js";
import { HARDHAT_MNEMONIC } from "../../local/stack.js";

/**
 * `npm start`'s settings: embedded defaults, each changeable through one environment variable. It reads no .env file:
 * the local product is the same on every machine, whatever a .env written for other runs says.
 */
const port = (fallback: number) => z.coerce.number().int().min(1).max(65_535).default(fallback);
export const StartSettingsSchema = z.object({
  /** The Hardhat node's JSON-RPC port (wallets add http://127.0.0.1:<port>). */
  PMHE_CHAIN_PORT: port(8545),
  /** The coprocessor's blob-store API. */
  PMHE_API_PORT: port(8080),
  /** The web app (its production build, the runtime configuration, and the API under /api). */
  PMHE_WEB_PORT: port(3000),
});
export type StartSettings = z.infer<typeof StartSettingsSchema>;

export class StartError extends Error {
  constructor(message: string, readonly next: string) {
    super(message);
    this.name = "StartError";
  }
}

export function startSettings(env: NodeJS.ProcessEnv = process.env): StartSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = StartSettingsSchema.safeParse(present);
  if (!parsed.success) throw new StartError(`invalid environment:\n${z.prettifyError(parsed.error)}`, "unset them, or give each a port from 1 to 65535");
  return parsed.data;
}

const PORT_ROLES: Array<[keyof StartSettings, string]> = [
  ["PMHE_CHAIN_PORT", "the chain (Hardhat node)"],
  ["PMHE_API_PORT", "the coprocessor API"],
  ["PMHE_WEB_PORT", "the web app"],
];

/** Refuses ports that are taken or given twice, naming the variable that moves each. */
export async function checkPorts(settings: StartSettings): Promise<void> {
  const seen = new Map<number, string>();
  for (const [variable] of PORT_ROLES) {
    const other = seen.get(settings[variable]);
    if (other) throw new StartError(`${variable} and ${other} are both ${settings[variable]}`, `give ${variable} another port`);
    seen.set(settings[variable], variable);
  }
  for (const [variable, role] of PORT_ROLES) {
    if (await portInUse(settings[variable])) {
      throw new StartError(
        `port ${settings[variable]} on 127.0.0.1, for ${role}, is already in use (another npm start, hardhat node or coprocessor?)`,
        `stop what uses it, or choose another port: ${variable}=<port> npm start`,
      );
    }
  }
}

/** A Hardhat test account: index, address and (public!) private key. */
export interface TestAccount {
  index: number;
  address: string;
  privateKey: string;
}

export function testAccount(index: number): TestAccount {
  const wallet = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  return { index, address: wallet.address, privateKey: wallet.privateKey };
}

/** Who plays whom in the local product. */
export const ROLES = { admin: 0, hospital: 1, operator: 2, patients: [3, 4, 5] } as const;
