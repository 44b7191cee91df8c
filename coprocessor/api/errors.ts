import type { NextFunction, Request, Response } from "express";

/** An error with the HTTP status and machine-readable code the API answers with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. `WWW-Authenticate` on a 401. */
    readonly headers: Record<string, string> = {},
    /** Extra fields of the JSON answer, next to `error` and `message` (e.g. the pending bytes of a 429). */
    readonly details: Record<string, number | string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

interface ParserError {
  type?: string;
  status?: number;
}

/** The error code an answer carried, for metrics that count refusals by code (see app.ts). */
export function errorCodeOf(res: Response): string | undefined {
  return res.locals.errorCode as string | undefined;
}

/** Sends `{ error, message, ...details }` and remembers the code for the metrics. */
export function sendJsonError(res: Response, status: number, code: string, message: string, details: Record<string, unknown> = {}): void {
  res.locals.errorCode = code;
  res.status(status).json({ ...details, error: code, message });
}

/**
 * Every error leaves as `{ error, message }` JSON; nothing leaks a stack trace or request bytes. An answer that
 * leaves part of a request body unread also closes the connection (Node then closes it once the answer is out),
 * instead of reading and dropping the rest, which would let a refused client keep the server reading for as long
 * as it sends.
 */
export function jsonErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(err); // too late for a JSON answer: let Node close the connection
    return;
  }
  if (!req.complete) res.setHeader("Connection", "close");
  if (err instanceof HttpError) {
    res.set(err.headers);
    sendJsonError(res, err.status, err.code, err.message, err.details);
    return;
  }
  const parserError = err as ParserError;
  if (typeof parserError?.status === "number" && parserError.status >= 400 && parserError.status < 500) {
    sendJsonError(res, parserError.status, "bad_request", (err as Error).message);
    return;
  }
  sendJsonError(res, 500, "internal", "internal error");
}
