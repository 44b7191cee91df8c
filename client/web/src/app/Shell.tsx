import { lazy, Suspense } from "react";
import type { AppConfig } from "../../../../protocol/app-config.js";
import type { ShellState } from "./AppProvider.js";
import { DevBanner } from "./DevBanner.js";
import { Footer } from "./Footer.js";
import { Nav } from "./Nav.js";
import { AuditorView, HospitalView } from "./optional-views.js";
import { RouteErrorBoundary } from "./RouteErrorBoundary.js";
import { ShellNotices } from "./ShellNotices.js";
import { useHashRoute } from "./useHashRoute.js";
import { WalletButton } from "./WalletButton.js";

const PatientView = lazy(() => import("../patient/PatientView.js").then((m) => ({ default: m.PatientView })));

function RouteLoading() {
  return (
    <div className="route-loading" role="status" aria-live="polite">
      Loading…
    </div>
  );
}

/** The page around every view: banner, header with navigation and wallet, notices, the route, the footer. */
export function Shell({ config, shell }: { config: AppConfig; shell: ShellState }) {
  const route = useHashRoute();
  const top = route[0] ?? "patient";
  const view = top === "hospital" ? <HospitalView /> : top === "auditor" ? <AuditorView /> : <PatientView route={route.slice(1)} />;
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <DevBanner config={config} />
      <header className="topbar">
        <a className="brand" href="#/patient" aria-label="PMHE home">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          PMHE
        </a>
        <Nav current={top === "hospital" || top === "auditor" ? top : "patient"} />
        <div className="topbar-wallet">
          <WalletButton state={shell.walletState} />
        </div>
      </header>
      <ShellNotices shell={shell} needsWallet={top !== "auditor"} />
      <main id="main" className="main" tabIndex={-1}>
        <RouteErrorBoundary key={top} rpcUrl={config.rpcUrl} apiUrl={config.apiUrl}>
          <Suspense fallback={<RouteLoading />}>{view}</Suspense>
        </RouteErrorBoundary>
      </main>
      <Footer config={config} health={shell.health} />
    </div>
  );
}
