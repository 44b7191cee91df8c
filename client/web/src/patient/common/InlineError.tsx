import { ErrorPanel } from "../../app/ErrorPanel.js";
import { useDescribeError } from "../../app/useDescribeError.js";

/** An error of a patient action, in place, worded the shared way. */
export function InlineError({ error, onDismiss, testId = "error" }: { error: unknown; onDismiss?: () => void; testId?: string }) {
  const describe = useDescribeError();
  if (error === undefined) return null;
  return <ErrorPanel view={describe(error)} testId={testId} {...(onDismiss ? { onDismiss } : {})} />;
}
