import AddressText from "../auditor/common/AddressText.js";
import HashText from "../auditor/common/HashText.js";
import type { HospitalAccount } from "./useHospitalAccount.js";

/** Who is connected, and what the chain holds for it: its role, registered name and share key. */
export default function HospitalStatus(props: { address: string; account: HospitalAccount }) {
  const { address, account } = props;
  return (
    <section className="pc-card hv-status" aria-label="This hospital on-chain" data-testid="hospital-status">
      <dl className="hv-status-facts">
        <dt>Hospital</dt>
        <dd data-testid="hospital-name">{account.name ?? "registered without a name"}</dd>
        <dt>Wallet</dt>
        <dd>
          <AddressText address={address} testId="hospital-address" />
        </dd>
        <dt>Role</dt>
        <dd className="pc-tone-ok" data-testid="hospital-role">
          ✓ HOSPITAL_ROLE
        </dd>
        <dt>Share key</dt>
        <dd data-testid="hospital-share-key">
          {account.shareKey ? (
            <HashText value={account.shareKey} short />
          ) : (
            <span className="pc-tone-warn">none registered: patients cannot share results with you yet</span>
          )}
        </dd>
      </dl>
    </section>
  );
}
