import ExplorerLink from "./ExplorerLink.js";
import HashText from "./HashText.js";

/** Where something happened on-chain: "block 12 · tx 0xab…", each linked to the explorer when there is one. */
export default function ChainPointText(props: { block: number; tx: string; testId?: string }) {
  return (
    <span className="pc-chain-point" data-testid={props.testId} data-block={props.block} data-tx={props.tx}>
      <ExplorerLink kind="block" id={props.block}>
        block {props.block}
      </ExplorerLink>
      {" · tx "}
      <ExplorerLink kind="tx" id={props.tx}>
        <HashText value={props.tx} short />
      </ExplorerLink>
    </span>
  );
}
