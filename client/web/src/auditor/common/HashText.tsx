import { shortHash } from "./format.js";

/**
 * A hash or an address in monospace. `short` shows its head and tail (the full value in the title, for a pointer,
 * and for screen readers in a visually hidden span); otherwise the whole value, broken anywhere to fit narrow screens.
 */
export default function HashText(props: { value: string; short?: boolean; testId?: string }) {
  const { value, short = false, testId } = props;
  if (!short) {
    return (
      <code className="pc-hash" data-testid={testId}>
        {value}
      </code>
    );
  }
  return (
    <code className="pc-hash pc-hash-short" title={value} data-testid={testId} data-value={value}>
      <span aria-hidden="true">{shortHash(value)}</span>
      <span className="pc-visually-hidden">{value}</span>
    </code>
  );
}
