import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HeldUpload {
  /** Resolves when the held upload has arrived (and is being held). */
  arrived: Promise<void>;
  /** Lets the held upload through to the store. */
  release(): void;
}

export interface BlobProxy {
  url: string;
  /** Holds back the next result upload (`PUT` with purpose `result`) until released; everything else passes. */
  holdNextResultUpload(): HeldUpload;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy in front of a blob-store API, for fault injection: pointed at by a coprocessor's
 * PMHE_BLOB_URL, it forwards every request unchanged, except that it can hold one result upload back, so a test
 * knows a job is in flight (evaluated, not yet voted) and for as long as it wants.
 */
export async function startBlobProxy(targetUrl: string): Promise<BlobProxy> {
  const target = new URL(targetUrl);
  let gate: { arrived: () => void; released: Promise<void> } | undefined;
  const releases: Array<() => void> = [];

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "proxy_upstream_error", message: err.message }));
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const held = gate;
    if (held && req.method === "PUT" && req.headers["x-pmhe-purpose"] === "result") {
      gate = undefined;
      held.arrived();
      void held.released.then(() => forward(req, res));
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    holdNextResultUpload() {
      let arrived!: () => void;
      let release!: () => void;
      const arrivedPromise = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      releases.push(release);
      gate = { arrived, released };
      return { arrived: arrivedPromise, release };
    },
    async close() {
      gate = undefined;
      releases.splice(0).forEach((release) => release());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
