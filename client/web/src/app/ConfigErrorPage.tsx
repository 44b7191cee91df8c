/** The whole page when pmhe-config.json cannot be loaded: what was fetched, what went wrong, what to do. */
export function ConfigErrorPage({ url, error, onRetry }: { url: string; error: unknown; onRetry(): void }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <main className="config-error" data-testid="config-error" aria-labelledby="config-error-title">
      <h1 id="config-error-title">PMHE cannot start: its configuration did not load</h1>
      <p>
        The app fetched <code data-testid="config-error-url">{url}</code> to learn which chain, contract and coprocessor
        it works with, and got:
      </p>
      <pre className="config-error-detail" data-testid="error-sentence">{message}</pre>
      <h2>What to do</h2>
      <ul>
        <li>
          Running PMHE on this machine? Start it with <code>npm start</code> and open the App address it prints
          (usually <code>http://127.0.0.1:3000</code>): it serves this file next to the app.
        </li>
        <li>
          Using the Vite dev server? Keep <code>npm start</code> running: the dev server forwards{" "}
          <code>/pmhe-config.json</code> and <code>/api</code> to it.
        </li>
        <li>Using a hosted deployment? Its operator must publish <code>pmhe-config.json</code> beside <code>index.html</code>; tell them the message above.</li>
      </ul>
      <button type="button" className="primary" onClick={onRetry}>
        Try again
      </button>
    </main>
  );
}
