/** A job's status (or any short verdict) as a coloured badge with its word: colour is never the only signal. */
export type BadgeTone = "ok" | "bad" | "warn" | "neutral" | "pending";

const TONES: Record<string, BadgeTone> = {
  Finalized: "ok",
  Failed: "bad",
  Expired: "warn",
  Requested: "pending",
};

export default function StatusBadge(props: { status: string; tone?: BadgeTone; testId?: string }) {
  const tone = props.tone ?? TONES[props.status] ?? "neutral";
  return (
    <span className={`pc-badge pc-badge-${tone}`} data-testid={props.testId} data-status={props.status}>
      {props.status}
    </span>
  );
}
