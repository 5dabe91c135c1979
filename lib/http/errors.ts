/**
 * JSON error answers. Every endpoint of the product answers a failure with
 * `{error, message, details?}` and the right status, before any streaming starts.
 * @module
 */
import { HttpError } from "fresh/runtime";
import type { ErrorBody } from "../events.ts";

/**
 * A failure that maps to one HTTP status and one JSON body; thrown by request helpers. It is a
 * Fresh `HttpError`, so the framework treats it as an expected answer (no error log) and the
 * `_error` route turns it into JSON.
 */
export class ApiError extends HttpError {
  /** Short machine-readable code (`bad_request`, `payload_too_large` …). */
  readonly code: string;
  /** Optional structured details (validation issues …). */
  readonly details?: unknown;
  /** Extra response headers (`allow`, `retry-after` …). */
  readonly headers?: Record<string, string>;
  /** An error answered with `status`, the body `{error: code, message, details}` and `headers`. */
  constructor(
    status: number,
    code: string,
    message: string,
    details?: unknown,
    headers?: Record<string, string>,
  ) {
    super(status, message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

/** A JSON response with `no-store` caching. */
export function jsonResponse(body: unknown, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** The JSON error response for `status`/`code`/`message`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): Response {
  const body: ErrorBody = { error: code, message };
  if (details !== undefined) body.details = details;
  return jsonResponse(body, status, headers);
}

/** Turns an {@link ApiError} into its response; anything else becomes a 500 without internals. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ApiError) {
    return errorResponse(err.status, err.code, err.message, err.details, err.headers);
  }
  return errorResponse(500, "internal_error", "Internal server error");
}
