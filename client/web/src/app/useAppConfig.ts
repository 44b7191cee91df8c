import { useCallback, useEffect, useState } from "react";
import { APP_CONFIG_PATH, loadAppConfig, type AppConfig } from "../../../../protocol/app-config.js";

export type ConfigState =
  | { status: "loading"; url: string }
  | { status: "ready"; url: string; config: AppConfig }
  | { status: "failed"; url: string; error: unknown };

/** Where the configuration is fetched: beside the page (npm start serves it there; the dev server proxies it). */
export function configUrl(): string {
  return new URL(APP_CONFIG_PATH, document.baseURI).href;
}

/**
 * In the Vite dev server the page's origin is the dev server's, and the configuration (served by npm start) names
 * npm start's /api: the dev server proxies /api to it, so the app talks to its own origin (the API sends no CORS).
 */
function adaptForDevServer(config: AppConfig): AppConfig {
  if (!import.meta.env.DEV) return config;
  const api = new URL(config.apiUrl);
  if (api.origin === location.origin || !api.pathname.replace(/\/+$/, "").endsWith("/api")) return config;
  return { ...config, apiUrl: `${location.origin}/api` };
}

/** Loads and validates pmhe-config.json once; `retry` loads it again. */
export function useAppConfig(): ConfigState & { retry(): void } {
  const url = configUrl();
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<ConfigState>({ status: "loading", url });
  useEffect(() => {
    let live = true;
    setState({ status: "loading", url });
    loadAppConfig(url).then(
      (config) => live && setState({ status: "ready", url, config: adaptForDevServer(config) }),
      (error: unknown) => live && setState({ status: "failed", url, error }),
    );
    return () => {
      live = false;
    };
  }, [url, attempt]);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return { ...state, retry };
}
