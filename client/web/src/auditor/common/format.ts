/**
 * How numbers are written in the hospital and auditor views: always with their unit, in a stable width where they
 * sit in tables (the CSS sets tabular figures).
 */

const integer = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });

/** "812 bytes", "206.4 kB", "4.52 MB" (decimal units, as the blob store's limits are written). */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${integer.format(bytes)} bytes`;
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}

/** "38 ms", "1.94 s". */
export function formatMs(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(2)} s`;
}

/** A unix time as a readable UTC date and time: "2026-03-01 14:03 UTC". */
export function formatTime(unixSeconds: number): string {
  if (!Number.isFinite(unixSeconds) || unixSeconds <= 0) return "never";
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "in 29 days", "3 h ago", "in 12 min": how far `unixSeconds` is from `nowSeconds`. */
export function formatRelative(unixSeconds: number, nowSeconds: number): string {
  const delta = unixSeconds - nowSeconds;
  const span = Math.abs(delta);
  const text =
    span < 90
      ? `${Math.round(span)} s`
      : span < 5_400
      ? `${Math.round(span / 60)} min`
      : span < 172_800
      ? `${Math.round(span / 3_600)} h`
      : `${Math.round(span / 86_400)} days`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** "0x1234abcd…9f0e": enough to tell hashes apart at a glance; the full value goes in a title. */
export function shortHash(value: string, head = 10, tail = 4): string {
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}

/** A probability as a percentage with its unit: "84 %". */
export function formatPercent(probability: number): string {
  return `${Math.round(probability * 100)} %`;
}

/** "1 vote", "2 votes". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${integer.format(count)} ${count === 1 ? one : many}`;
}
