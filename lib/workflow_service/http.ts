/**
 * HTTP helpers of the built-in workflow service: JSON answers, error bodies, body reading and the
 * bearer token check.
 * @module
 */
import type { ErrorBody } from "../events.ts";

/** The headers of every SSE answer. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A JSON error response `{error, message, details?}`. */
export function fail(
  status: number,
  error: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): Response {
  const body: ErrorBody = { error, message };
  if (details !== undefined) body.details = details;
  return json(status, body, headers);
}

/** `{checkIn: 1}` → `{check_in: 1}` (top level only): the wire speaks snake_case throughout. */
export function snakeKeys(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
  );
}

/** Compares secrets without an early exit, so timing does not reveal a matching prefix. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Reads a JSON body, or returns the error response (415, 413, 400). */
export async function readJson(req: Request, maxBytes: number): Promise<unknown | Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    return fail(415, "unsupported_media_type", "content-type must be application/json");
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    return fail(413, "payload_too_large", `request body over ${maxBytes} bytes`);
  }
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.length > maxBytes) {
    return fail(413, "payload_too_large", `request body over ${maxBytes} bytes`);
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return fail(400, "bad_request", "request body is not valid JSON");
  }
}
