import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { APP_CONFIG_PATH, type AppConfig } from "../../protocol/app-config.js";

/**
 * `npm start`'s web server, on 127.0.0.1 only: the app's production build (client/web/dist; unknown paths without
 * a file extension get index.html, for client-side routes), the runtime configuration at /pmhe-config.json, and
 * the coprocessor's API under /api/ (proxied, so the app reaches it from its own origin: no CORS needed). Without
 * a build it serves a page that says so.
 */

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

export const API_PREFIX = "/api";

export interface WebServerOptions {
  port: number;
  /** The production build's directory; undefined or missing: the placeholder page. */
  dist?: string;
  /** Why there is no build, for the placeholder page. */
  placeholderReason: string;
  /** The coprocessor API to proxy /api/ to. */
  apiUrl: string;
  config: () => AppConfig;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export function placeholderPage(reason: string, config: AppConfig): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PMHE: the web app is not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .2em}</style></head>
<body><h1>PMHE is running, but the web app is not built</h1>
<p>${escapeHtml(reason)}</p>
<p>Everything else is up: the chain at <code>${escapeHtml(config.rpcUrl)}</code> (chain id ${config.chainId}), the contract
<code>${escapeHtml(config.contractAddress)}</code>, the coprocessor API at <code>${escapeHtml(config.apiUrl)}</code>, and
${config.models.length} published model(s). The command line works: <code>npm run client -- --help</code>.</p>
<p>The runtime configuration the app reads is at <a href="/${APP_CONFIG_PATH}">/${APP_CONFIG_PATH}</a>.</p>
</body></html>
`;
}

function proxy(req: IncomingMessage, res: ServerResponse, apiUrl: string): void {
  const target = new URL(req.url!.slice(API_PREFIX.length) || "/", apiUrl);
  const headers = { ...req.headers, host: target.host };
  const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on("error", () => {
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "api_unavailable", message: `the coprocessor API at ${apiUrl} did not answer` }));
    } else res.destroy();
  });
  req.pipe(upstream);
}

async function serveFile(res: ServerResponse, path: string, method: string): Promise<void> {
  const info = await stat(path);
  const immutable = /[\\/]assets[\\/]/.test(path);
  res.writeHead(200, {
    "content-type": TYPES[extname(path)] ?? "application/octet-stream",
    "content-length": info.size,
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (method === "HEAD") res.end();
  else createReadStream(path).pipe(res);
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const dist = options.dist && existsSync(join(options.dist, "index.html")) ? normalize(options.dist) : undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) return proxy(req, res, options.apiUrl);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url.pathname === `/${APP_CONFIG_PATH}`) {
      const body = JSON.stringify(options.config(), null, 2);
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        // Public facts about a local deployment; a vite dev server on another port may read them too.
        "access-control-allow-origin": "*",
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    if (!dist) {
      res.writeHead(url.pathname === "/" || url.pathname === "/index.html" ? 200 : 404, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : placeholderPage(options.placeholderReason, options.config()));
      return;
    }
    let relativePath: string;
    try {
      relativePath = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const path = normalize(join(dist, relativePath));
    if (path !== dist && !path.startsWith(dist + sep)) {
      res.writeHead(404).end();
      return;
    }
    const isFile = await stat(path).then((s) => s.isFile(), () => false);
    if (isFile) return serveFile(res, path, req.method);
    // A client-side route (no extension) gets the app; a missing asset is a 404.
    if (extname(path) === "") return serveFile(res, join(dist, "index.html"), req.method);
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
