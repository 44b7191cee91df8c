import { modelIdOf } from "../../../../protocol/chain.js";
import { modelBytes, modelHash, roundCount, type Model } from "../../../../protocol/model.js";
import { useApp } from "../app/context.js";
import { formatBytes } from "../auditor/common/format.js";
import HashText from "../auditor/common/HashText.js";
import { useLoader } from "../auditor/common/useLoader.js";

/**
 * What a picked model file holds, before it is published: name and version (and whether the chain takes that
 * version next), what it predicts, its inputs, rounds, parameter set, measured accuracy, and the hash and id it
 * will have.
 */
export default function ModelPreview(props: { model: Model; publisher: string }) {
  const { model, publisher } = props;
  const { contract } = useApp();
  const hash = modelHash(model);
  const latest = useLoader(async () => Number(await contract.latestModelVersion(publisher, model.name)), [contract, publisher, model.name]);
  const next = latest.value !== undefined ? latest.value + 1 : undefined;
  const test = model.metrics.test;
  return (
    <div className="hv-preview" data-testid="hospital-model-preview">
      <h3>
        {model.name} v{model.version}
      </h3>
      <p>{model.description}</p>
      <dl className="hv-facts">
        <dt>Predicts</dt>
        <dd>
          {model.target.positiveMeans} (class 1 when p ≥ {model.client.threshold})
        </dd>
        <dt>Inputs</dt>
        <dd>
          {model.features.length} features
          {model.inputs ? ` from ${model.inputs.length} inputs` : ""}, {roundCount(model)} {roundCount(model) === 1 ? "round" : "rounds"}
        </dd>
        <dt>Encryption</dt>
        <dd>CKKS parameter set {model.fhe.parameterSet}</dd>
        <dt>Test accuracy</dt>
        <dd className="pc-number">
          {(test.accuracy * 100).toFixed(1)} % (AUC {test.auc.toFixed(3)}, {test.rows} rows)
        </dd>
        <dt>Size</dt>
        <dd className="pc-number">{formatBytes(modelBytes(model).length)} (canonical JSON)</dd>
        <dt>Content hash</dt>
        <dd>
          <HashText value={hash} testId="hospital-preview-hash" />
        </dd>
        <dt>Model id</dt>
        <dd>
          <HashText value={modelIdOf(publisher, hash)} testId="hospital-preview-model-id" />
        </dd>
        <dt>Version on-chain</dt>
        <dd data-testid="hospital-preview-version">
          {next === undefined ? (
            "reading…"
          ) : next === model.version ? (
            <span className="pc-tone-ok">
              v{model.version} is the next version of {model.name}
            </span>
          ) : (
            <span className="pc-tone-warn">
              the chain takes v{next} of {model.name} next, not v{model.version}
              {latest.value ? ` (v${latest.value} is published)` : ""}
            </span>
          )}
        </dd>
      </dl>
    </div>
  );
}
