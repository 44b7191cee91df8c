import { errorView } from "../../../../error-view.js";
import { KeyFileError } from "../../../../../protocol/hospital-key-file.js";
import { useApp } from "../../app/context.js";

/**
 * An error where it happened, worded the shared way (client/error-view.ts): a title naming it (for a contract
 * refusal, the contract's error name), the sentence, and what to do next. `hints` replace the next step for
 * contract errors by name, where the hospital's or auditor's next step differs from a patient's.
 */
export default function ErrorNote(props: { error: unknown; hints?: Readonly<Record<string, string>>; testId?: string }) {
  const { config } = useApp();
  const view = errorView(props.error, { surface: "app", rpcUrl: config.rpcUrl, apiUrl: config.apiUrl });
  let { title, next } = view;
  if (props.error instanceof KeyFileError) {
    title = "Not a usable key file";
    next = "pick the key file `npm run hospital -- keygen` wrote for this hospital";
  }
  if (view.code && props.hints?.[view.code]) next = props.hints[view.code]!;
  return (
    <div className="pc-error" role="alert" data-testid={props.testId} data-error-code={view.code ?? ""} data-error-kind={view.kind}>
      <p className="pc-error-title">{title}</p>
      <p className="pc-error-sentence">{view.sentence}</p>
      <p className="pc-error-next">Next: {next}.</p>
    </div>
  );
}
