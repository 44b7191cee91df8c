import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { getAddress } from "ethers";
import { z } from "zod";

/**
 * The parameters of the PMHE Ignition module, under its id "PMHE" in a parameters file:
 *
 *   { "PMHE": { "admin": "0x…", "quorum": 2, "jobTimeout": 3600,
 *               "coprocessors": ["0x…"],
 *               "hospitals": [{ "address": "0x…", "encryptionKey": "0x<32-byte X25519 public key>", "name": "…" }] } }
 *
 * `admin`, `quorum` and `jobTimeout` are ordinary Ignition parameters (resolved when the deployment runs, with the
 * module's defaults). `coprocessors` and `hospitals` are lists, and Ignition can neither index into a parameter nor
 * loop over one (a module's futures are fixed when the module is built, before any parameter is resolved), so they
 * shape the module instead: one `grantRole` call per coprocessor and one `registerHospital` call per hospital.
 * `buildPmheModule` takes them as values; the module file's default export reads them from the same parameters file
 * the Ignition CLI is given (`--parameters`), so both halves always come from one file.
 */
export const PMHE_MODULE_ID = "PMHE";
export const DEFAULT_QUORUM = 2;
export const DEFAULT_JOB_TIMEOUT_SECONDS = 3_600;
/** The contract's MAX_JOB_TIMEOUT. */
export const MAX_JOB_TIMEOUT_SECONDS = 365 * 86_400;

const address = z.string().transform((value, ctx) => {
  try {
    return getAddress(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `expected an address (0x and 40 hex digits, right checksum if mixed case), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
});
const encryptionKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "expected the hospital's X25519 public key: 0x and 64 hex digits")
  .refine((key) => !/^0x0+$/.test(key), "an encryption key of 32 zero bytes is refused by the contract")
  .transform((key) => key.toLowerCase() as `0x${string}`);

export const HospitalParameterSchema = z.strictObject({
  address,
  encryptionKey,
  name: z.string().trim().min(1, "a hospital needs a name patients recognise").max(200),
});
export type HospitalParameter = z.infer<typeof HospitalParameterSchema>;

export const PmheParametersSchema = z
  .strictObject({
    admin: address.optional(),
    quorum: z.number().int().min(1).max(255).optional(),
    jobTimeout: z.number().int().min(1).max(MAX_JOB_TIMEOUT_SECONDS).optional(),
    coprocessors: z.array(address).max(255).default([]),
    hospitals: z.array(HospitalParameterSchema).default([]),
  })
  .superRefine((p, ctx) => {
    const seen = (list: string[], path: string) => {
      const lower = list.map((a) => a.toLowerCase());
      lower.forEach((a, i) => {
        if (lower.indexOf(a) !== i) ctx.addIssue({ code: "custom", path: [path, i], message: `${list[i]} is listed twice` });
      });
    };
    seen(p.coprocessors, "coprocessors");
    seen(p.hospitals.map((h) => h.address), "hospitals");
  });
export type PmheParameters = z.infer<typeof PmheParametersSchema>;
/** What a caller may give: the lists are optional. */
export type PmheParametersInput = z.input<typeof PmheParametersSchema>;

export class PmheParametersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PmheParametersError";
  }
}

/** Validates the "PMHE" section of a parameters document; throws PmheParametersError naming each problem. */
export function parsePmheParameters(section: unknown, where = "PMHE parameters"): PmheParameters {
  const parsed = PmheParametersSchema.safeParse(section ?? {});
  if (!parsed.success) throw new PmheParametersError(`${where} are invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * Reads a parameters file (plain JSON, as Ignition reads it) or an inline JSON document, and returns its validated
 * "PMHE" section.
 */
export function readPmheParameters(fileOrJson: string, cwd = process.cwd()): PmheParameters {
  let text = fileOrJson;
  let where = "the inline PMHE parameters";
  if (!fileOrJson.trim().startsWith("{")) {
    const path = resolve(cwd, fileOrJson);
    where = `the PMHE parameters in ${fileOrJson}`;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new PmheParametersError(`cannot read the parameters file ${path}: ${(err as Error).message}`);
    }
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new PmheParametersError(`${where} are not JSON: ${(err as Error).message}`);
  }
  if (!document || typeof document !== "object" || Array.isArray(document)) throw new PmheParametersError(`${where} must be an object keyed by module id ("PMHE")`);
  return parsePmheParameters((document as Record<string, unknown>)[PMHE_MODULE_ID], where);
}

/**
 * The `--parameters` value of a command line (`--parameters file.json` or `--parameters=file.json`), if any: what
 * `hardhat ignition deploy` was given.
 */
export function parametersArgument(argv: readonly string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === "--parameters") return argv[i + 1];
    if (arg.startsWith("--parameters=")) return arg.slice("--parameters=".length);
  }
  return undefined;
}

/**
 * The Ignition parameters document for a validated set: only the scalars, which Ignition resolves itself. The lists
 * are built into the module (see above).
 */
export function ignitionParameters(parameters: Pick<PmheParameters, "admin" | "quorum" | "jobTimeout">): { PMHE: Record<string, string | number> } {
  const section: Record<string, string | number> = {};
  if (parameters.admin !== undefined) section.admin = parameters.admin;
  if (parameters.quorum !== undefined) section.quorum = parameters.quorum;
  if (parameters.jobTimeout !== undefined) section.jobTimeout = parameters.jobTimeout;
  return { PMHE: section };
}
