import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  url: string;
  /** Drops every open connection and refuses new ones, as a lost network or a restarting node does. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /** Relays to `targetUrl` from now on and drops every open connection: another server behind the same URL. */
  retarget(targetUrl: string): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay in front of a server, for fault injection: a client configured with `url` loses its
 * connection to the server on `cut()` and can reach it again after `restore()`, while others still reach the server
 * directly; or, after `retarget()`, reaches another server at the same URL.
 */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  let target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const relay = (client: Socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };
  let server: Server = createServer(relay);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  const closeServer = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    async cut() {
      const closed = closeServer();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async restore() {
      server = createServer(relay);
      await listen(port);
    },
    retarget(url: string) {
      target = new URL(url);
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      const closed = closeServer();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
