import type { AppConfig } from "../../../../protocol/app-config.js";
import { explorerLink } from "../../../../protocol/app-config.js";
import type { Health, Probe } from "./useHealth.js";

function Status({ label, probe, testId }: { label: string; probe: Probe; testId: string }) {
  const text = probe.state === "checking" ? "checking" : probe.state === "up" ? probe.detail : "down";
  return (
    <span className={`health health-${probe.state}`} data-testid={testId} data-state={probe.state}>
      <span className="dot" aria-hidden="true" /> {label}: {text}
    </span>
  );
}

/** The deployment this page works with, and whether its chain and coprocessor answer. */
export function Footer({ config, health }: { config: AppConfig; health: Health }) {
  const contractLink = explorerLink(config, "address", config.contractAddress);
  return (
    <footer className="footer">
      <Status label="Chain" probe={health.chain} testId="health-chain" />
      <Status label="Coprocessor" probe={health.api} testId="health-api" />
      <span>
        {config.chainName} (chain {config.chainId}) · contract{" "}
        {contractLink ? <a href={contractLink}>{config.contractAddress}</a> : <code className="break">{config.contractAddress}</code>}
      </span>
    </footer>
  );
}
