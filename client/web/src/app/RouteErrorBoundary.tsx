import { Component, type ReactNode } from "react";
import { ErrorPanel } from "./ErrorPanel.js";
import { appErrorView } from "./app-errors.js";

/** Keeps one view's failure (a missing or broken module, a render error) inside that view's route. */
export class RouteErrorBoundary extends Component<{ children: ReactNode; rpcUrl: string; apiUrl: string }, { error: unknown }> {
  override state: { error: unknown } = { error: undefined };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    const { error } = this.state;
    if (error === undefined) return this.props.children;
    const view = appErrorView(error, { rpcUrl: this.props.rpcUrl, apiUrl: this.props.apiUrl });
    return (
      <ErrorPanel testId="route-error" view={view}>
        <button type="button" onClick={() => this.setState({ error: undefined })}>
          Try again
        </button>
      </ErrorPanel>
    );
  }
}
