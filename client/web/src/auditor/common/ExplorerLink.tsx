import type { ReactNode } from "react";
import { explorerLink } from "../../../../../protocol/app-config.js";
import { useApp } from "../../app/context.js";

/**
 * A link to the configured block explorer for a transaction, address or block; plain text where the chain has no
 * explorer (a local chain), so the same markup works everywhere.
 */
export default function ExplorerLink(props: { kind: "tx" | "address" | "block"; id: string | number; children: ReactNode }) {
  const { config } = useApp();
  const href = explorerLink(config, props.kind, props.id);
  if (!href) return <>{props.children}</>;
  const where = config.blockExplorer?.name ?? "the block explorer";
  return (
    <a href={href} target="_blank" rel="noreferrer noopener" className="pc-explorer-link" title={`Open in ${where}`}>
      {props.children}
    </a>
  );
}
