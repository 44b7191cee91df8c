import { useApp } from "../app/context.js";
import "../auditor/common/common.css";
import "./hospital.css";
import HospitalConnect from "./HospitalConnect.js";
import HospitalDesk from "./HospitalDesk.js";

/**
 * The hospital's view, for a wallet holding HOSPITAL_ROLE: publish and deprecate models, see the patients who
 * consent, request predictions under consent, and open the results patients share (with the hospital's key file,
 * kept in this page's memory only).
 */
export default function HospitalView() {
  const { wallet } = useApp();
  return (
    <div className="hv-view" data-testid="hospital-view">
      <header className="hv-header">
        <h1>Hospital</h1>
        <p className="hv-intro">
          Publish models, request predictions on the encrypted records of patients who consent, and read the rounded results they share with you. You never see a
          patient's readings: they stay encrypted under the patient's key.
        </p>
      </header>
      {wallet ? <HospitalDesk key={wallet.address} address={wallet.address} /> : <HospitalConnect />}
    </div>
  );
}
