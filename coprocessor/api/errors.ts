import type { NextFunction, Request, Response } from "express";

/** An error with the HTTP status and machine-readable code the API answers with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. `WWW-Authenticate` on a 401. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  length?: number;
}

/** Every error leaves as `{ error, message }` JSON; nothing leaks a stack trace or request bytes. */
export function jsonErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(err); // too late for a JSON answer: let Node close the connection
    return;
  }
  if (err instanceof HttpError) {
    res.set(err.headers);
    res.status(err.status).json({ error: err.code, message: err.message });
    return;
  }
  const parserError = err as BodyParserError;
  if (parserError?.type === "entity.too.large") {
    res.status(413).json({ error: "payload_too_large", message: `body exceeds the limit of ${parserError.limit} bytes` });
    return;
  }
  if (typeof parserError?.status === "number" && parserError.status >= 400 && parserError.status < 500) {
    res.status(parserError.status).json({ error: "bad_request", message: (err as Error).message });
    return;
  }
  res.status(500).json({ error: "internal", message: "internal error" });
}
