import { useApp } from "../app/context.js";
import { ConsentsPanel } from "./consents/ConsentsPanel.js";
import { HistoryPanel } from "./history/HistoryPanel.js";
import { ImportPanel } from "./import/ImportPanel.js";
import { KeysPanel } from "./keys/KeysPanel.js";
import { PredictPanel } from "./predict/PredictPanel.js";
import { PatientIntro } from "./PatientIntro.js";
import { PatientTabs, type PatientTab } from "./PatientTabs.js";
import { PatientSessionContext } from "./session/PatientSessionContext.js";
import { usePatientSession } from "./session/usePatientSession.js";
import type { ConnectedWallet } from "../app/context.js";

const TABS: readonly PatientTab[] = ["predict", "import", "history", "consents", "keys"];

/** The patient's part of the app: #/patient/predict (default), /import, /history, /consents, /keys. */
export function PatientView({ route }: { route: string[] }) {
  const { wallet } = useApp();
  if (!wallet) return <PatientIntro />;
  // A new session per account: nothing of one patient's keys or results carries over to another.
  return <PatientSessionView key={wallet.address} wallet={wallet} route={route} />;
}

function PatientSessionView({ wallet, route }: { wallet: ConnectedWallet; route: string[] }) {
  const session = usePatientSession(wallet);
  const tab = TABS.find((t) => t === route[0]) ?? "predict";
  return (
    <PatientSessionContext.Provider value={session}>
      <div className="patient">
        <PatientTabs current={tab} />
        <section className="patient-panel" aria-labelledby={`tab-${tab}`}>
          {tab === "predict" && <PredictPanel />}
          {tab === "import" && <ImportPanel />}
          {tab === "history" && <HistoryPanel />}
          {tab === "consents" && <ConsentsPanel />}
          {tab === "keys" && <KeysPanel />}
        </section>
      </div>
    </PatientSessionContext.Provider>
  );
}
