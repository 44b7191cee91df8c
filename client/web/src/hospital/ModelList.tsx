import ChainPointText from "../auditor/common/ChainPointText.js";
import ErrorNote from "../auditor/common/ErrorNote.js";
import HashText from "../auditor/common/HashText.js";
import StatusBadge from "../auditor/common/StatusBadge.js";
import DeprecateButton from "./DeprecateButton.js";
import type { PublishedModelInfo } from "./usePublishedModels.js";

/** The hospital's own models (ModelPublished naming it), newest first; each current one can be deprecated. */
export default function ModelList(props: {
  models: PublishedModelInfo[] | undefined;
  loading: boolean;
  error: unknown;
  highlight: string | undefined;
  onChanged: () => void;
}) {
  const models = props.models ? [...props.models].reverse() : undefined;
  return (
    <section className="pc-card" aria-labelledby="hv-models-heading" data-testid="hospital-models" aria-busy={props.loading}>
      <h2 id="hv-models-heading">Your models</h2>
      {props.error !== undefined ? <ErrorNote error={props.error} testId="hospital-models-error" /> : null}
      {models && models.length === 0 ? <p>You have not published a model yet.</p> : null}
      <table className="pc-table">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Model id</th>
            <th scope="col">Published</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="pc-visually-hidden">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {models === undefined ? (
            <tr className="pc-placeholder-row" aria-hidden="true">
              <td colSpan={5}>&nbsp;</td>
            </tr>
          ) : (
            models.map((m) => (
              <tr
                key={m.modelId}
                data-testid="hospital-model-row"
                data-model-id={m.modelId}
                data-deprecated={String(m.deprecated)}
                className={m.modelId === props.highlight ? "hv-highlight" : undefined}
              >
                <td data-label="Model">
                  <span className="pc-cell">
                    <strong>{m.name}</strong> v{m.version}
                  </span>
                </td>
                <td data-label="Model id">
                  <span className="pc-cell">
                    <HashText value={m.modelId} short />
                  </span>
                </td>
                <td data-label="Published">
                  <span className="pc-cell">
                    <ChainPointText block={m.block} tx={m.tx} />
                  </span>
                </td>
                <td data-label="Status">
                  <span className="pc-cell">
                    <StatusBadge status={m.deprecated ? "Deprecated" : "Current"} tone={m.deprecated ? "neutral" : "ok"} testId="hospital-model-status" />
                  </span>
                </td>
                <td data-label="Action">
                  <span className="pc-cell">{m.deprecated ? null : <DeprecateButton model={m} onDone={props.onChanged} />}</span>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </section>
  );
}
