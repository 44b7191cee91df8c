import ExplorerLink from "./ExplorerLink.js";
import HashText from "./HashText.js";

/** An account, linked to the explorer when there is one; `label` says who it is ("the patient", a hospital's name). */
export default function AddressText(props: { address: string; label?: string; short?: boolean; testId?: string }) {
  return (
    <span className="pc-address" data-testid={props.testId} data-address={props.address.toLowerCase()}>
      <ExplorerLink kind="address" id={props.address}>
        <HashText value={props.address} short={props.short ?? false} />
      </ExplorerLink>
      {props.label ? <span className="pc-address-label"> ({props.label})</span> : null}
    </span>
  );
}
