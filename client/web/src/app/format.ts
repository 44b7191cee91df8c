/** Display helpers shared by every view: addresses, hashes, percentages, dates. */

/** 0x1234…abcd */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** 0x12345678…9abc */
export function shortHash(hash: string): string {
  return hash.length > 18 ? `${hash.slice(0, 10)}…${hash.slice(-4)}` : hash;
}

/** 0.8734 -> "87 %" (whole percent unless asked for more). */
export function percent(probability: number, decimals = 0): string {
  return `${(probability * 100).toFixed(decimals)} %`;
}

/** Unix seconds -> "1 Dec 2026, 21:30". */
export function dateTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** Unix seconds -> "1 Dec 2026". */
export function date(seconds: number): string {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

/** Bytes -> "4.1 MB". */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(0)} KB`;
  return `${(count / 1024 / 1024).toFixed(1)} MB`;
}

/** Milliseconds -> "2.4 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** UCUM codes a person would not read as units, in everyday words; anything else as protocol's displayUnit has it. */
const UNIT_WORDS: Record<string, string> = { a: "years", "mm[Hg]": "mmHg", "/min": "per min", mo: "months", d: "days", h: "hours", Cel: "°C", "[in_i]": "in", "[lb_av]": "lb" };

export function unitLabel(ucum: string, displayUnit: (unit: string) => string): string {
  return UNIT_WORDS[ucum] ?? displayUnit(ucum);
}
