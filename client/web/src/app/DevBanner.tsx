import type { AppConfig } from "../../../../protocol/app-config.js";

/** Shown on every page of a development deployment: what is public and who decides results. */
export function DevBanner({ config }: { config: AppConfig }) {
  if (!config.development) return null;
  return (
    <div className="dev-banner" role="note" data-testid="dev-banner">
      <strong>Development deployment.</strong> Its test accounts' keys are public (anyone can sign as them), and it runs at
      quorum {config.quorum}
      {config.quorum === 1 ? ": one operator decides every result and could forge it" : ""}. Never use real health data or
      real funds here.
    </div>
  );
}
