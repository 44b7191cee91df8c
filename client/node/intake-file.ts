import { readFile, writeFile } from "node:fs/promises";
import { z } from "zod";
import type { IntakeSummary, Observation, ProfileFacts } from "../../protocol/intake/observation.js";
import { vitalSign } from "../../protocol/intake/vital-signs.js";

/**
 * What `ingest` leaves for `predict-windows`: the observations taken in (by LOINC code, canonical unit, UTC ms), the
 * profile facts and the summary, in a local JSON file. Plaintext health data: it stays on the patient's device, like
 * the secret key, and is written with owner-only permissions.
 */

export const INTAKE_FILE_FORMAT = "pmhe-intake/1";

const ObservationTuple = z.tuple([z.string(), z.number().int(), z.number().finite()]);
const ObservationSchema = z.strictObject({ code: z.string(), time: z.number().int(), value: z.number().finite(), origin: z.string() });
const IntakeFileSchema = z.strictObject({
  format: z.literal(INTAKE_FILE_FORMAT),
  sources: z.array(z.string()),
  profile: z.strictObject({
    birthDate: z.string().optional(),
    sex: z.enum(["male", "female", "other", "unknown"]).optional(),
    latest: z.record(z.string(), ObservationSchema).optional(),
  }),
  /** [LOINC code, time in ms, value in the code's unit], oldest first. */
  observations: z.array(ObservationTuple),
  summary: z.unknown(),
});

export interface IntakeFile {
  sources: string[];
  profile: ProfileFacts;
  observations: Observation[];
  summary: IntakeSummary;
}

export async function writeIntakeFile(file: string, intake: IntakeFile): Promise<void> {
  const observations = [...intake.observations].sort((a, b) => a.time - b.time).map((o) => [o.code, o.time, o.value]);
  const document = { format: INTAKE_FILE_FORMAT, sources: intake.sources, profile: intake.profile, observations, summary: intake.summary };
  await writeFile(file, `${JSON.stringify(document)}\n`, { mode: 0o600 });
}

export async function readIntakeFile(file: string): Promise<IntakeFile> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${file} as a readings file (${(err as Error).message}); make one with: npm run client -- ingest <input> --out ${file}`);
  }
  const parsed = IntakeFileSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${file} is not a ${INTAKE_FILE_FORMAT} readings file:\n${z.prettifyError(parsed.error)}`);
  const observations = parsed.data.observations.map(([code, time, value], i) => {
    if (!vitalSign(code)) throw new Error(`${file}: observation ${i} has code ${code}, which PMHE does not take in`);
    return { code, time, value, origin: `${file}#${i}` };
  });
  return { sources: parsed.data.sources, profile: parsed.data.profile, observations, summary: parsed.data.summary as IntakeSummary };
}
