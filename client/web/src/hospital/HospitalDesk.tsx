import { useState } from "react";
import ErrorNote from "../auditor/common/ErrorNote.js";
import AddressText from "../auditor/common/AddressText.js";
import ConsentList from "./ConsentList.js";
import HospitalStatus from "./HospitalStatus.js";
import ModelList from "./ModelList.js";
import PublishModel from "./PublishModel.js";
import RequestPrediction from "./RequestPrediction.js";
import SharedResults from "./SharedResults.js";
import { useConsentingPatients } from "./useConsentingPatients.js";
import { useHospitalAccount } from "./useHospitalAccount.js";
import { usePublishedModels } from "./usePublishedModels.js";

/** The connected hospital's desk: its standing on-chain, then each of its tasks in its own section. */
export default function HospitalDesk(props: { address: string }) {
  const { address } = props;
  const account = useHospitalAccount(address);
  const models = usePublishedModels();
  const consents = useConsentingPatients(address);
  const [lastPublished, setLastPublished] = useState<string | undefined>(undefined);

  if (account.status === "error") return <ErrorNote error={account.error} testId="hospital-error" />;
  if (!account.value) return <div className="pc-card hv-placeholder" aria-busy="true" aria-label="Reading the hospital's standing on-chain" />;
  if (!account.value.isHospital) {
    return (
      <section className="pc-card" data-testid="hospital-not-registered" role="status">
        <h2>Not a hospital on this deployment</h2>
        <p>
          The connected wallet <AddressText address={address} /> does not hold HOSPITAL_ROLE. Governance registers hospitals with{" "}
          <code>npm run admin -- register-hospital</code>. Connect a registered hospital's wallet, or audit jobs without a wallet in the{" "}
          <a href="#/auditor">auditor's view</a>.
        </p>
      </section>
    );
  }
  const own = models.value?.filter((m) => m.publisher === address.toLowerCase());
  return (
    <>
      <HospitalStatus address={address} account={account.value} />
      <PublishModel
        address={address}
        onPublished={(modelId) => {
          setLastPublished(modelId);
          models.reload();
        }}
      />
      <ModelList
        models={own}
        loading={models.status === "loading"}
        error={models.status === "error" ? models.error : undefined}
        highlight={lastPublished}
        onChanged={models.reload}
      />
      <ConsentList
        consents={consents.value}
        loading={consents.status === "loading"}
        error={consents.status === "error" ? consents.error : undefined}
        onReload={consents.reload}
      />
      <RequestPrediction consents={consents.value} models={own} allModels={models.value} onConsentRefused={consents.reload} />
      <SharedResults address={address} registeredKey={account.value.shareKey} models={models.value} />
    </>
  );
}
