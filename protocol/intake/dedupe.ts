import type { IntakeIssue, Observation } from "./observation.js";
import { vitalSign } from "./vital-signs.js";

/**
 * The duplicate filter every input parser shares: two observations with the same LOINC code, time and value (after
 * conversion to the code's unit) are one measurement, counted once; the later ones become `duplicate` issues naming
 * the first. Values are compared to 12 significant digits, so the same reading given in two units (98.6 [degF] and
 * 37 Cel) is one even when the conversion leaves a last-digit difference. Browser-safe.
 */

/** The key two observations share exactly when they are the same measurement. */
export function duplicateKey(o: Pick<Observation, "code" | "time" | "value">): string {
  return `${o.code}|${o.time}|${Number(o.value.toPrecision(12))}`;
}

export class DuplicateFilter {
  /** Origin of the first observation seen, by key. */
  private readonly first = new Map<string, string>();

  /** The `duplicate` issue if the same measurement was seen before; otherwise remembers this one and gives undefined. */
  check(o: Observation): IntakeIssue | undefined {
    const key = duplicateKey(o);
    const first = this.first.get(key);
    if (first === undefined) {
      this.first.set(key, o.origin);
      return undefined;
    }
    const sign = vitalSign(o.code);
    const what = sign ? `${sign.name} ${Number(o.value.toPrecision(12))} ${sign.unit}` : `${o.code} ${o.value}`;
    return {
      reason: "duplicate",
      origin: o.origin,
      message: `${o.origin}: ${what} at ${new Date(o.time).toISOString()} repeats ${first}, counted once`,
    };
  }
}
