import { AppProvider } from "./AppProvider.js";
import { ConfigErrorPage } from "./ConfigErrorPage.js";
import { Shell } from "./Shell.js";
import { useAppConfig } from "./useAppConfig.js";

/** Loads the runtime configuration, then runs the shell on it. */
export function App() {
  const state = useAppConfig();
  if (state.status === "loading") {
    return (
      <div className="boot" role="status" aria-live="polite">
        Loading the deployment's configuration…
      </div>
    );
  }
  if (state.status === "failed") return <ConfigErrorPage url={state.url} error={state.error} onRetry={state.retry} />;
  return <AppProvider config={state.config}>{(shell) => <Shell config={state.config} shell={shell} />}</AppProvider>;
}
