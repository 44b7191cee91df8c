import { createHash, timingSafeEqual } from "node:crypto";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "bullmq";
import type { Express, RequestHandler } from "express";
import { HttpError } from "./errors.js";

export const ADMIN_PATH = "/admin/queues";

export interface AdminOptions {
  /** The bearer token that opens the dashboard. */
  token: string;
  queues: Queue[];
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** The token a request presents: `Bearer <token>`, or HTTP Basic with the token as password (what a browser can send). */
function presentedToken(authorization: string): string | undefined {
  const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** The admin token, compared in constant time; anything else is 401 JSON. */
export function bearerAuth(token: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const presented = presentedToken(req.get("authorization") ?? "");
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      throw new HttpError(401, "unauthorized", "the queue dashboard needs the admin token (Authorization: Bearer <token>)", {
        "WWW-Authenticate": 'Bearer realm="pmhe-admin", Basic realm="pmhe-admin", charset="UTF-8"',
      });
    }
    next();
  };
}

/** bull-board's queue dashboard at ADMIN_PATH, behind the admin token. */
export function mountQueueDashboard(app: Express, { token, queues }: AdminOptions): void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_PATH);
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue)), serverAdapter });
  const dashboard = serverAdapter.getRouter() as Express;
  dashboard.disable("x-powered-by");
  app.use(ADMIN_PATH, bearerAuth(token), dashboard);
}
