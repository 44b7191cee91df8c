import { z } from "zod";
import { VITAL_SIGNS } from "./vital-signs.js";

/**
 * Where a model input can come from when it is not typed into a form: the optional `source` of an entry of a model's
 * `inputs` (protocol/model.ts). Browser-safe. Three kinds:
 *   wearable  a time series by LOINC code, aggregated over the `windowHours` before each prediction window's end:
 *             mean, min, max, last, std (population standard deviation) or percentile (`percentile` 0-100, e.g. 10
 *             for a resting value); a lookback with fewer than `minReadings` readings gives no value (the gap
 *             policy `gap`: "skip" drops that prediction window and says why, "form" falls back to the value the
 *             person typed or set, if any)
 *   lab       the latest Observation of a LOINC code (a lab value: cholesterol, glucose) at most `maxAgeDays` old at
 *             the window's end
 *   profile   the patient's age in whole years at the window's end (from the birth date), or sex (mapped to the
 *             input's choice whose label is the FHIR gender, e.g. "male")
 * The value is in the vital sign's canonical unit (protocol/intake/vital-signs.ts), which must be the input's unit.
 */

const loinc = z.string().refine((code) => Object.hasOwn(VITAL_SIGNS, code), { message: "a LOINC code PMHE takes in (protocol/intake/vital-signs.ts)" });

export const AGGREGATES = ["mean", "min", "max", "last", "std", "percentile"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export const InputSourceSchema = z.discriminatedUnion("from", [
  z
    .strictObject({
      from: z.literal("wearable"),
      code: loinc,
      windowHours: z.number().positive().max(24 * 90),
      aggregate: z.enum(AGGREGATES),
      percentile: z.number().min(0).max(100).optional(),
      minReadings: z.number().int().min(1),
      gap: z.enum(["skip", "form"]),
    })
    .refine((s) => (s.aggregate === "percentile") === (s.percentile !== undefined), {
      message: "percentile is given exactly when the aggregate is percentile",
      path: ["percentile"],
    }),
  z.strictObject({ from: z.literal("lab"), code: loinc, maxAgeDays: z.number().positive().max(3650) }),
  z.strictObject({ from: z.literal("profile"), field: z.enum(["age", "sex"]) }),
]);
export type InputSource = z.infer<typeof InputSourceSchema>;
