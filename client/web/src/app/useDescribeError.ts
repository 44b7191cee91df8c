import { useCallback } from "react";
import type { ErrorView } from "../../../error-view.js";
import { appErrorView } from "./app-errors.js";
import { useApp } from "./context.js";

/** Words any error the shared way (client/error-view.ts), naming this deployment's chain and coprocessor URLs. */
export function useDescribeError(): (error: unknown) => ErrorView {
  const { config } = useApp();
  return useCallback((error: unknown) => appErrorView(error, { rpcUrl: config.rpcUrl, apiUrl: config.apiUrl }), [config]);
}
