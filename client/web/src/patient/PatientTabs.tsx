export type PatientTab = "predict" | "import" | "history" | "consents" | "keys";

const LABELS: Record<PatientTab, string> = { predict: "New prediction", import: "Import readings", history: "My results", consents: "Consents", keys: "My keys" };

/** The patient's sections, as links (each has its own address, so the browser's back button works). */
export function PatientTabs({ current }: { current: PatientTab }) {
  return (
    <nav className="tabs" aria-label="Patient sections">
      {(Object.keys(LABELS) as PatientTab[]).map((tab) => (
        <a key={tab} id={`tab-${tab}`} href={`#/patient/${tab}`} aria-current={tab === current ? "page" : undefined} data-testid={`tab-${tab}`}>
          {LABELS[tab]}
        </a>
      ))}
    </nav>
  );
}
